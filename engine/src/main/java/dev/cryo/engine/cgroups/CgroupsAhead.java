package dev.cryo.engine.cgroups;

import dev.cryo.kernel.DirectoryChanges;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A task's cgroups read while it still runs (a pre-copy, before the freeze), and only confirmed once
 * it is frozen: reading the settings, owners and cgroups below of each of its cgroups took 3-15 ms
 * of the frozen window under load. Every directory the read went by (and those above) is watched
 * from before it was read (DirectoryChanges): any write to a setting, owner or mode changed, cgroup
 * made or removed there since is seen. The confirmation reads the task's, its threads' and (for the
 * tree's root) the tree's /proc cgroup files again; and the CPUs and memory nodes online, which
 * change a v1 cpuset's cpus and mems without a write. Anything different, and the cgroups are read
 * again, frozen: the image holds what the frozen task has either way.
 */
public final class CgroupsAhead implements AutoCloseable {
    private static final List<String> ONLINE = List.of("/sys/devices/system/cpu/online", "/sys/devices/system/node/online");

    private final DirectoryChanges changes;
    private final Map<String, String> procFiles;
    private final Map<String, String> online;
    private final Set<Integer> tids;
    private final int ppid;
    private final Set<Integer> tree;
    private final CgroupMembership read;

    private CgroupsAhead(DirectoryChanges changes, Map<String, String> procFiles, Map<String, String> online,
                         Set<Integer> tids, int ppid, Set<Integer> tree, CgroupMembership read) {
        this.changes = changes;
        this.procFiles = procFiles;
        this.online = online;
        this.tids = tids;
        this.ppid = ppid;
        this.tree = tree;
        this.read = read;
    }

    /**
     * Reads {@code pid}'s cgroups now, while it runs, for a task of the tree {@code tree} whose parent is
     * {@code ppid}; null when cryo holds all the inotify instances it may (the task's are read frozen).
     */
    public static CgroupsAhead read(Pid pid, int ppid, Collection<Integer> tree) {
        return read(pid, ppid, tree, DirectoryChanges.tryOpen());
    }

    /** As above, watching with {@code changes} (null: none to be had), which it closes. */
    public static CgroupsAhead read(Pid pid, int ppid, Collection<Integer> tree, DirectoryChanges changes) {
        if (changes == null) {
            return null;
        }
        try {
            Map<String, String> online = online();
            List<Integer> tids = ProcFs.tasks(pid).stream().map(Pid::value).toList();
            Map<String, String> procFiles = new HashMap<>();
            CgroupMembership read = CgroupReader.read(pid, tids, ppid, tree, new CgroupReader.Seen() {
                public void procFile(String file, String text) {
                    procFiles.put(file, text);
                }

                public void dir(Path dir) {
                    changes.watch(dir);
                }
            });
            return new CgroupsAhead(changes, procFiles, online, Set.copyOf(tids), ppid, treeTopOf(tree, ppid), read);
        } catch (RuntimeException e) {
            changes.close();
            throw e;
        }
    }

    /** What {@link #frozen} did, for the debug log (null before it ran). */
    private volatile String outcome;

    /** The frozen task's cgroups: the read made before the freeze if nothing changed since, else a read now. */
    public CgroupMembership frozen(Pid pid, List<Integer> frozenTids, int frozenPpid, Collection<Integer> frozenTree) {
        long t0 = System.nanoTime();
        String changed = changedSince(frozenTids, frozenPpid, frozenTree);
        CgroupMembership out = changed == null ? read : CgroupReader.read(pid, frozenTids, frozenPpid, frozenTree);
        outcome = (changed == null ? "as read before the freeze, confirmed" : "read again frozen (" + changed + ")")
                + " in " + (System.nanoTime() - t0) / 1000 + " µs";
        return out;
    }

    public String outcome() {
        return outcome;
    }

    /** What differs from the read before the freeze, or null. */
    private String changedSince(List<Integer> frozenTids, int frozenPpid, Collection<Integer> frozenTree) {
        if (!tids.equals(Set.copyOf(frozenTids)) || ppid != frozenPpid || !tree.equals(treeTopOf(frozenTree, frozenPpid))) {
            return "its threads, parent or tree changed";
        }
        if (changes.changed()) {
            return "a cgroup it was read from changed";
        }
        for (Map.Entry<String, String> f : procFiles.entrySet()) {
            if (!Objects.equals(f.getValue(), text(f.getKey()))) {
                return f.getKey() + " changed";
            }
        }
        return online.equals(online()) ? null : "CPUs or memory nodes went on or off line";
    }

    /** The tree, where the read depends on it: for its root, whose read carries the tree's top cgroups. */
    private static Set<Integer> treeTopOf(Collection<Integer> tree, int ppid) {
        return tree.isEmpty() || tree.contains(ppid) ? Set.of() : Set.copyOf(tree);
    }

    private static Map<String, String> online() {
        Map<String, String> out = new HashMap<>();
        for (String f : ONLINE) {
            out.put(f, text(f));
        }
        return out;
    }

    /** A file's text, or null where it is not (a reaped task's /proc files, a kernel without NUMA nodes). */
    private static String text(String file) {
        try {
            return Files.readString(Path.of(file));
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void close() {
        changes.close();
    }
}
