package dev.cryo.engine.namespaces;

import dev.cryo.kernel.Clone;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The namespaces of one image's tree, for its restore: which task is forked with which CLONE_NEW*
 * flags, and the pids of tasks inside the tree's pid namespaces, at every level (they nest). A
 * restore gives every task its pid as cryo sees it and, inside pid namespaces, its pid in each
 * (clone3 set_tid takes one per level, innermost first); a pid handed to a syscall a task makes
 * must be the one that task sees ({@link #seenBy}).
 */
public final class TreeNamespaces {
    public static final TreeNamespaces NONE = new TreeNamespaces(List.of(), List.of(), 0, Map.of());

    private final List<NamespaceImage> images;
    private final Map<Integer, NamespaceImage> byCreator = new HashMap<>();
    /** pid as cryo sees it → the creator of the innermost pid namespace it is in. */
    private final Map<Integer, Integer> nsOf = new HashMap<>();
    /** pid as cryo sees it → the creators of the pid namespaces it is in, outermost first, and its pid in each. */
    private final Map<Integer, List<int[]>> levels = new HashMap<>();
    /** The tasks that unshared a pid namespace for their children, by the child that is its init. */
    private final Map<Integer, Integer> unsharerOf = new HashMap<>();

    private final int cryoFd;
    /** The user namespaces of the tree: by the pid that made each, by the pid of each task inside. */
    private final Map<Integer, UserNsImage> userByCreator = new HashMap<>(), userOf = new HashMap<>();

    /** The supplementary groups of each task that made a user namespace (outside ids). */
    private final Map<Integer, List<Integer>> creatorGroups;

    /** A mount of a namespace of the tree's made again, in the peer group it was dumped in: its task, point and root. */
    public record Peer(int pid, String point, String root) {}

    /** Dumped peer group → its mounts made again so far (a namespace is made before its tasks fork). */
    private final Map<Integer, List<Peer>> peers = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * A copy of cryo's mount namespace owned by each user namespace of the tree, by the pid of the task that
     * made both (held by cryo until the tree's files are open): a task of that user namespace may join it
     * where it may not join cryo's, and build a pivoted root from the host paths it shows ({@link PivotedRoot}).
     */
    private final Map<Integer, dev.cryo.kernel.Fd> keptMounts = new java.util.concurrent.ConcurrentHashMap<>();

    private TreeNamespaces(List<NamespaceImage> images, List<UserNsImage> users, int cryoFd,
                           Map<Integer, List<Integer>> creatorGroups) {
        this.images = List.copyOf(images);
        this.cryoFd = cryoFd;
        this.creatorGroups = Map.copyOf(creatorGroups);
        for (UserNsImage u : users) {
            userByCreator.put(u.pid(), u);
            u.members().forEach(m -> userOf.put(m, u));
        }
        for (NamespaceImage n : images) {
            byCreator.put(n.pid(), n);
            if (n.pidForChildren() > 0) { // not a dead one (NamespaceImage.DEAD): no child is forked into that
                unsharerOf.put(n.pidForChildren(), n.pid());
            }
            if (n.has(Clone.NEWPID)) {
                n.tids().forEach((outer, in) -> levels.computeIfAbsent(outer, k -> new java.util.ArrayList<>())
                        .add(new int[] {n.pid(), in}));
            }
        }
        // a namespace is the deeper the more of the tree's its init is in
        levels.values().forEach(l -> l.sort(java.util.Comparator.comparingInt(c -> levels.getOrDefault(c[0], List.of()).size())));
        levels.forEach((tid, l) -> nsOf.put(tid, l.get(l.size() - 1)[0]));
    }

    /** Dumped file system ({@link SameFileSystem#tag}) → its mounts made again so far, in their namespaces. */
    private final Map<String, List<Peer>> fileSystems = new java.util.concurrent.ConcurrentHashMap<>();

    /** Records {@code p}, a mount of dumped file system {@code tag} made again. */
    public void madeFileSystem(String tag, Peer p) {
        fileSystems.computeIfAbsent(tag, g -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(p);
    }

    /** The mounts of dumped file system {@code tag} made again so far. */
    public List<Peer> madeFileSystems(String tag) {
        return fileSystems.getOrDefault(tag, List.of());
    }

    /** Records {@code p}, made again in dumped peer group {@code group}. */
    public void madePeer(int group, Peer p) {
        peers.computeIfAbsent(group, g -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(p);
    }

    /** Keeps {@code ns}, the first mount namespace of the user namespace task {@code creator} made. */
    public void keepMountNamespace(int creator, dev.cryo.kernel.Fd ns) {
        dev.cryo.kernel.Fd was = keptMounts.put(creator, ns);
        if (was != null) {
            was.close();
        }
    }

    /** The copy of cryo's mount namespace kept for the user namespace task {@code pid} is in, if one was kept. */
    public Optional<dev.cryo.kernel.Fd> keptMountNamespaceOf(int pid) {
        UserNsImage u = userOf.get(pid);
        return u == null ? Optional.empty() : Optional.ofNullable(keptMounts.get(u.pid()));
    }

    /** Closes the kept mount namespaces: every task's namespace is made (a namespace nobody is in goes with its fd). */
    public void releaseKept() {
        keptMounts.values().forEach(dev.cryo.kernel.Fd::close);
        keptMounts.clear();
    }

    /** The mounts of another namespace of the tree's made again in dumped peer group {@code group}. */
    public List<Peer> madePeers(int group) {
        return peers.getOrDefault(group, List.of());
    }

    /** {@code maxFd}: the highest fd number of the image's tasks. */
    public static TreeNamespaces of(List<NamespaceImage> images, int maxFd) {
        return of(images, List.of(), maxFd);
    }

    /** {@code users}: the maps of the user namespaces among {@code images}. */
    public static TreeNamespaces of(List<NamespaceImage> images, List<UserNsImage> users, int maxFd) {
        return of(images, users, maxFd, Map.of());
    }

    /** {@code creatorGroups}: the groups of the tasks that made {@code users} ({@link #groupsAtBirth}). */
    public static TreeNamespaces of(List<NamespaceImage> images, List<UserNsImage> users, int maxFd,
                                    Map<Integer, List<Integer>> creatorGroups) {
        boolean pidNs = images.stream().anyMatch(n -> n.has(Clone.NEWPID));
        return images.isEmpty() ? NONE : new TreeNamespaces(images, users, pidNs ? Math.max(maxFd + 1, 64) : 0, creatorGroups);
    }

    /**
     * The supplementary groups task {@code pid}, which makes a user namespace that denies setgroups, must be
     * born with (nothing can set them in there afterwards); empty when it makes none such or the image does
     * not say.
     */
    public Optional<List<Integer>> groupsAtBirth(int pid) {
        UserNsImage u = userByCreator.get(pid);
        return u == null || u.setgroupsAllowed() ? Optional.empty() : Optional.ofNullable(creatorGroups.get(pid));
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
     * The CLONE_NEW* flags task {@code pid} is forked with (0: its parent's namespaces). Not a net namespace
     * bound on the host, which it joins ({@link NamespaceImage#joinsNet}), nor one {@code restore --join-ns} names
     * ({@link NamespaceImage#joinedAt}). Not a cgroup
     * namespace: its root is the cgroup it is made in, and a task is forked in cryo's; it unshares
     * one once it is in its own cgroups ({@link #makesCgroupNamespace}).
     */
    public int flagsOf(int pid) {
        NamespaceImage n = byCreator.get(pid);
        // the init of a pid namespace its parent unshared is forked into that one, as it was
        // a bound net namespace is joined once it is adopted (NamespaceRestore), not made
        // so is one restore --join-ns names
        return n == null ? 0 : n.flags() & ~Clone.NEWCGROUP & (unsharerOf.containsKey(pid) ? ~Clone.NEWPID : ~0)
                & (n.joinsNet() ? ~Clone.NEWNET : ~0) & ~n.joinedAt().keySet().stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * Whether task {@code parent} unshares a pid namespace (CLONE_NEWPID) before it forks {@code
     * child}: the namespace's init, which the dumped parent's next children would have joined too.
     */
    public boolean unsharesPidNamespaceFor(int parent, int child) {
        return unsharerOf.getOrDefault(child, 0) == parent;
    }

    /** Whether {@code child} is born in a new pid namespace (forked with CLONE_NEWPID or after its parent unshared one). */
    public boolean bornInNewPidNamespace(int child) {
        NamespaceImage n = byCreator.get(child);
        return n != null && n.has(Clone.NEWPID);
    }

    /** Whether task {@code pid} made a cgroup namespace (rooted at the cgroups it was in, as it still is). */
    public boolean makesCgroupNamespace(int pid) {
        NamespaceImage n = byCreator.get(pid);
        return n != null && n.has(Clone.NEWCGROUP);
    }

    /** clone3's set_tid for task or thread {@code tid}: its pid in each pid namespace it is in, innermost first, then cryo's. */
    public int[] setTid(int tid) {
        List<int[]> l = levels.getOrDefault(tid, List.of());
        int[] out = new int[l.size() + 1];
        for (int i = 0; i < l.size(); i++) {
            out[i] = l.get(l.size() - 1 - i)[1];
        }
        out[l.size()] = tid;
        return out;
    }

    /** The pid {@code tid} has for task {@code viewer} (a syscall it makes takes that one); 0 when it cannot see it. */
    public int seenBy(int viewer, int tid) {
        Integer viewerNs = nsOf.get(viewer);
        if (viewerNs == null) {
            return tid; // cryo's pid namespace sees every pid of the tree as cryo does
        }
        for (int[] level : levels.getOrDefault(tid, List.of())) { // its own or one nested in it
            if (level[0] == viewerNs) {
                return level[1];
            }
        }
        return 0;
    }

    /**
     * clone3's set_tid for a stand-in of thread {@code tid} of task {@code forker}, which had exited by the dump:
     * its pids inside the pid namespaces as the dump read them from there ({@link ExitedTimerTargets}); when it
     * could not (no procfs of the namespace in its root), the number it had outside in each of them, which
     * {@link #seenByOrExited} gives back. Only {@code /proc/PID/timers} read inside shows the difference.
     */
    public int[] setTidOfExited(int forker, int tid) {
        if (levels.containsKey(tid)) {
            return setTidFrom(forker, tid);
        }
        int depth = levels.getOrDefault(forker, List.of()).size();
        int[] all = new int[depth + 1];
        java.util.Arrays.fill(all, tid);
        return userOf.containsKey(forker) ? java.util.Arrays.copyOf(all, depth) : all;
    }

    /** {@link #seenBy}, and for a thread that had exited by the dump, the number its stand-in takes ({@link #setTidOfExited}). */
    public int seenByOrExited(int viewer, int tid) {
        return levels.containsKey(tid) || !nsOf.containsKey(viewer) ? seenBy(viewer, tid) : tid;
    }

    /** What clone3 returns to {@code parent} forking {@code child} (or a thread): the child's pid as the parent sees it. */
    public int returnedTo(int parent, int child) {
        return seenBy(parent, child);
    }
}
