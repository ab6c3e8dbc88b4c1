package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Processes (not threads) of the tree that share their fd table (clone with CLONE_FILES) or their
 * cwd, root and umask (CLONE_FS), found with kcmp(KCMP_FILES / KCMP_FS). A restore can share a
 * table again only the way clone made it: a child forked with its parent's. So each task records
 * the tables it shares with its parent ({@link #withParent}); its fd table is then dumped once, with
 * the topmost task of the chain ({@link #fdTableOwner}). Any other sharing — two processes whose
 * common table their parent no longer holds (it unshared or exec'd), or the root with a process
 * outside the tree — cannot be made again and is refused, like CRIU's fdt: the table follows the
 * pstree.
 */
public final class SharedTables {
    /** No sharing between processes (a single task looked at on its own). */
    public static final SharedTables NONE = new SharedTables(Map.of(), Map.of());

    private final Map<Integer, Integer> withParent;
    private final Map<Integer, Integer> parentOf;

    private SharedTables(Map<Integer, Integer> withParent, Map<Integer, Integer> parentOf) {
        this.withParent = withParent;
        this.parentOf = parentOf;
    }

    /** The clone flags (CLONE_FILES, CLONE_FS) of the tables {@code pid} shares with its parent; 0 for none. */
    public int withParent(int pid) {
        return withParent.getOrDefault(pid, 0);
    }

    /** The task whose fds carry {@code pid}'s fd table: itself, or the topmost ancestor it shares it with. */
    public int fdTableOwner(int pid) {
        int p = pid;
        while ((withParent(p) & Clone.FILES) != 0) {
            p = parentOf.get(p);
        }
        return p;
    }

    /** Whether two processes have one fd table (POSIX locks belong to the table, not the process). */
    public boolean sameFdTable(int a, int b) {
        return fdTableOwner(a) == fdTableOwner(b);
    }

    /**
     * Reads the sharing of a frozen tree (zombies and exiting tasks have no tables and share nothing); refuses what
     * a restore could not make again.
     */
    public static SharedTables of(Pid root, List<Pid> tree) {
        Map<Integer, Integer> parentOf = new HashMap<>();
        List<Pid> live = tree.stream().filter(p -> {
            try {
                ProcStat st = ProcFs.stat(p);
                if (exiting(st)) {
                    return false; // an exiting task's tables are gone: it shares nothing
                }
                parentOf.put(p.value(), st.ppid());
                return true;
            } catch (KernelException e) {
                return false; // gone: nothing to compare
            }
        }).toList();
        Map<Integer, Integer> withParent = new HashMap<>();
        for (Pid p : live) {
            int ppid = parentOf.get(p.value());
            if (p.equals(root) || !parentOf.containsKey(ppid)) {
                continue;
            }
            int flags = 0;
            for (int type : new int[] {Clone.FILES, Clone.FS}) {
                if (shared(p, Pid.of(ppid), type)) {
                    flags |= type;
                }
            }
            if (flags != 0) {
                withParent.put(p.value(), flags);
            }
        }
        ThreadsAlone.check(live);
        SharedTables tables = new SharedTables(Map.copyOf(withParent), Map.copyOf(parentOf));
        Integer rootParent = parentOf.get(root.value());
        if (rootParent != null && rootParent > 0) {
            for (int type : new int[] {Clone.FILES, Clone.FS}) {
                if (shared(root, Pid.of(rootParent), type)) {
                    throw new DumpException("pid " + root + " shares its " + Clone.describeTables(type)
                            + " with its parent, pid " + rootParent + ", outside the dumped tree; a restored tree "
                            + "cannot share a table with a process outside it");
                }
            }
        }
        for (int i = 0; i < live.size(); i++) {
            for (int j = i + 1; j < live.size(); j++) {
                Pid a = live.get(i), b = live.get(j);
                for (int type : new int[] {Clone.FILES, Clone.FS}) {
                    if (tables.top(a.value(), type) != tables.top(b.value(), type) && shared(a, b, type)) {
                        throw new DumpException("pid " + a + " shares its " + Clone.describeTables(type) + " with pid "
                                + b + " but not with its parent, pid " + parentOf.get(a.value()) + ", which holds "
                                + "another: a restore shares a table only between a child and its parent, as clone "
                                + "made it; such sharing is not supported");
                    }
                }
            }
        }
        return tables;
    }

    /** The topmost task of {@code pid}'s chain of parents sharing the table of {@code type}. */
    private int top(int pid, int type) {
        int p = pid;
        while ((withParent(p) & type) != 0) {
            p = parentOf.get(p);
        }
        return p;
    }

    /**
     * Whether kcmp finds one table behind both. An exiting task's table is NULL, equal to any other's
     * NULL, and a task not stopped yet (the check before the seize, a child forked meanwhile found by
     * the rescan) may start exiting after its stat was read: a match counts only if neither shows
     * itself exiting when read after the comparison (PF_EXITING is set before the tables go, and
     * never cleared).
     */
    private static boolean shared(Pid a, Pid b, int type) {
        try {
            return Sys.shareResource(a, b, type == Clone.FILES ? Sys.KCMP_FILES : Sys.KCMP_FS)
                    && !exiting(a) && !exiting(b);
        } catch (RuntimeException e) {
            return false; // exited meanwhile: found later
        }
    }

    private static boolean exiting(Pid p) {
        try {
            return exiting(ProcFs.stat(p));
        } catch (KernelException e) {
            return true; // gone
        }
    }

    private static boolean exiting(ProcStat st) {
        return st.state() == 'Z' || st.state() == 'X' || (st.flags() & ProcStat.PF_EXITING) != 0;
    }
}
