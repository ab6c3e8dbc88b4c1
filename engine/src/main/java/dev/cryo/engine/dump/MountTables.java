package dev.cryo.engine.dump;

import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.proc.MountInfo;
import dev.cryo.kernel.proc.ProcFs;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * The mount ids of the mount namespaces a dump looks at, cryo's and the tree's, each read once: the tree is
 * frozen and cryo's own mounts do not change under a dump. Every fd of a container asks (which mount holds
 * it), so reading a mountinfo per fd cost one per fd. Thread-safe: the task dumpers run in parallel.
 */
public final class MountTables {
    private static final String SELF = "self";

    private final List<Integer> tree;
    private final Map<String, Set<Integer>> byNamespace = new ConcurrentHashMap<>();

    /** {@code tree}: the pids of the dumped tree, whose namespaces {@link #whose} looks in. */
    public MountTables(Collection<Integer> tree) {
        this.tree = List.copyOf(tree);
    }

    /** The pids of the dumped tree. */
    public List<Integer> tree() {
        return tree;
    }

    /** The mount ids of cryo's own mount namespace. */
    public Set<Integer> cryos() {
        return byNamespace.computeIfAbsent(key(SELF), k -> read("/proc/self/mountinfo"));
    }

    /** The mount ids of the mount namespace of task {@code pid}; none for a zombie, which has no table. */
    public Set<Integer> of(int pid) {
        String ns = Namespaces.link(Integer.toString(pid), "mnt");
        if (ns == null) {
            return Set.of();
        }
        return ns.equals(key(SELF)) ? cryos() : byNamespace.computeIfAbsent(ns,
                k -> read(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/mountinfo"));
    }

    /**
     * In whose mount namespace a file task {@code holder} holds through mount {@code mountId} is reached: 0 in
     * cryo's (a kernel-internal mount, id 0, that no namespace shows counts as cryo's); else the task standing for
     * a namespace of the tree that has that mount ({@link #first}), the holder's first (a child in a namespace of its
     * own keeps an fd its parent opened on a mount only the parent's namespace has: zdtm's mntns_link_ghost); -1
     * when none has it.
     */
    public int whose(int holder, long mountId) {
        if (mountId <= 0 || cryos().contains((int) mountId)) {
            return 0;
        }
        if (of(holder).contains((int) mountId)) {
            return first(holder);
        }
        for (int other : tree) {
            if (other != holder && of(other).contains((int) mountId)) {
                return first(other);
            }
        }
        return -1;
    }

    /**
     * The task of the tree that stands for the mount namespace of {@code pid}: its farthest ancestor in the tree
     * that is still in that namespace (the restore makes it before {@code pid}), else {@code pid}. Each task named its
     * own namespace before, so a parent and child of one namespace holding one deleted file (zdtm's
     * ghost_shared_2proc in its ns flavor) looked like two views of it, and the restore, making it for the parent,
     * looked for the child's before the child was made: ENOENT after the killing dump.
     */
    private int first(int pid) {
        String ns = Namespaces.link(Integer.toString(pid), "mnt");
        int first = pid;
        for (int hops = 0; ns != null && hops < tree.size(); hops++) {
            int parent;
            try {
                parent = ProcFs.stat(dev.cryo.kernel.Pid.of(first)).ppid();
            } catch (RuntimeException gone) {
                break;
            }
            if (!tree.contains(parent) || !ns.equals(Namespaces.link(Integer.toString(parent), "mnt"))) {
                break;
            }
            first = parent;
        }
        return first;
    }

    private static String key(String pid) {
        String ns = Namespaces.link(pid, "mnt");
        return ns != null ? ns : pid;
    }

    private static Set<Integer> read(String file) {
        try {
            return MountInfo.parse(file, ProcFs.text(file)).stream().map(MountInfo.Mount::id)
                    .collect(Collectors.toUnmodifiableSet());
        } catch (RuntimeException e) { // gone meanwhile, or a zombie: no table
            return Set.of();
        }
    }
}
