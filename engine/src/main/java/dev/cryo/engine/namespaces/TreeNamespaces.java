package dev.cryo.engine.namespaces;

import dev.cryo.kernel.Clone;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The namespaces of one image's tree, for its restore: which task is forked with which CLONE_NEW*
 * flags, and the pids of tasks inside a pid namespace of the tree, at both levels. A restore gives
 * every task its pid as cryo sees it and, inside a pid namespace, its pid there (clone3 set_tid
 * takes one per level, innermost first); a pid handed to a syscall a task makes must be the one
 * that task sees ({@link #seenBy}).
 */
public final class TreeNamespaces {
    public static final TreeNamespaces NONE = new TreeNamespaces(List.of(), List.of(), 0);

    private final List<NamespaceImage> images;
    private final Map<Integer, NamespaceImage> byCreator = new HashMap<>();
    /** pid as cryo sees it → the creator of the pid namespace it is in, and its pid there. */
    private final Map<Integer, Integer> nsOf = new HashMap<>(), inner = new HashMap<>();

    private final int cryoFd;
    /** The user namespaces of the tree: by the pid that made each, by the pid of each task inside. */
    private final Map<Integer, UserNsImage> userByCreator = new HashMap<>(), userOf = new HashMap<>();

    private TreeNamespaces(List<NamespaceImage> images, List<UserNsImage> users, int cryoFd) {
        this.images = List.copyOf(images);
        this.cryoFd = cryoFd;
        for (UserNsImage u : users) {
            userByCreator.put(u.pid(), u);
            u.members().forEach(m -> userOf.put(m, u));
        }
        for (NamespaceImage n : images) {
            byCreator.put(n.pid(), n);
            if (n.has(Clone.NEWPID)) {
                n.tids().forEach((outer, in) -> {
                    nsOf.put(outer, n.pid());
                    inner.put(outer, in);
                });
            }
        }
    }

    /** {@code maxFd}: the highest fd number of the image's tasks. */
    public static TreeNamespaces of(List<NamespaceImage> images, int maxFd) {
        return of(images, List.of(), maxFd);
    }

    /** {@code users}: the maps of the user namespaces among {@code images}. */
    public static TreeNamespaces of(List<NamespaceImage> images, List<UserNsImage> users, int maxFd) {
        boolean pidNs = images.stream().anyMatch(n -> n.has(Clone.NEWPID));
        return images.isEmpty() ? NONE : new TreeNamespaces(images, users, pidNs ? Math.max(maxFd + 1, 64) : 0);
    }

    /** The user namespace of the tree's that task {@code pid} is inside, if any. */
    public Optional<UserNsImage> userNamespaceOf(int pid) {
        return Optional.ofNullable(userOf.get(pid));
    }

    /** The user namespace task {@code pid} made, if it made one: its maps are written as soon as it is born. */
    public Optional<UserNsImage> userNamespaceMadeBy(int pid) {
        return Optional.ofNullable(userByCreator.get(pid));
    }

    /**
     * clone3's set_tid for {@code tid} forked by task {@code forker}: inside a user namespace of the
     * tree the forker may only name pids in the pid namespaces that user namespace owns, so cryo's
     * level (the last) is left out and comes from ns_last_pid ({@link dev.cryo.kernel.NsLastPid}).
     */
    public int[] setTidFrom(int forker, int tid) {
        int[] all = setTid(tid);
        return userOf.containsKey(forker) ? java.util.Arrays.copyOf(all, all.length - 1) : all;
    }

    /**
     * Where tasks inside a pid namespace hold a pidfd of cryo while they are restored (0: no pid
     * namespace). cryo's pid means nothing in there, so a task cannot pidfd_open cryo to take the
     * files cryo made for it (pidfd_getfd): it inherits this fd from the task that forked its
     * namespace's init instead, above every fd it restores, and closes it before it runs.
     */
    public int cryoFd() {
        return cryoFd;
    }

    /** Whether {@code pid} is inside a pid namespace of the tree. */
    public boolean insidePidNamespace(int pid) {
        return nsOf.containsKey(pid);
    }

    public List<NamespaceImage> images() {
        return images;
    }

    /** The namespaces task {@code pid} made, if it made any. */
    public Optional<NamespaceImage> madeBy(int pid) {
        return Optional.ofNullable(byCreator.get(pid));
    }

    /**
     * The CLONE_NEW* flags task {@code pid} is forked with (0: its parent's namespaces). Not a cgroup
     * namespace: its root is the cgroup it is made in, and a task is forked in cryo's; it unshares
     * one once it is in its own cgroups ({@link #makesCgroupNamespace}).
     */
    public int flagsOf(int pid) {
        NamespaceImage n = byCreator.get(pid);
        return n == null ? 0 : n.flags() & ~Clone.NEWCGROUP;
    }

    /** Whether task {@code pid} made a cgroup namespace (rooted at the cgroups it was in, as it still is). */
    public boolean makesCgroupNamespace(int pid) {
        NamespaceImage n = byCreator.get(pid);
        return n != null && n.has(Clone.NEWCGROUP);
    }

    /** clone3's set_tid for task or thread {@code tid}: its pid inside its pid namespace first, then cryo's. */
    public int[] setTid(int tid) {
        Integer in = inner.get(tid);
        return in == null ? new int[] {tid} : new int[] {in, tid};
    }

    /** The pid {@code tid} has for task {@code viewer} (a syscall it makes takes that one); 0 when it cannot see it. */
    public int seenBy(int viewer, int tid) {
        Integer viewerNs = nsOf.get(viewer);
        if (viewerNs == null) {
            return tid; // cryo's pid namespace sees every pid of the tree as cryo does
        }
        if (!viewerNs.equals(nsOf.get(tid))) {
            return 0;
        }
        return inner.get(tid);
    }

    /** What clone3 returns to {@code parent} forking {@code child} (or a thread): the child's pid as the parent sees it. */
    public int returnedTo(int parent, int child) {
        Integer parentNs = nsOf.get(parent);
        return parentNs == null ? child : inner.get(child);
    }
}
