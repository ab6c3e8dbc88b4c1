package dev.cryo.engine.dump;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.SysvIpc;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The SysV semaphores of the host's ipc namespace, as a killed tree left them. They are the
 * kernel's, not the tree's: they stay where they are and the restored tree finds them. But a task
 * that ever used SEM_UNDO has its adjustments applied by the kernel when it exits (exit_sem), and
 * the dump's kill is such an exit: DMTCP's sysv-sem (parent and child taking turns through two
 * SEM_UNDO semaphores) came back with one semaphore raised by as many turns as they had taken, and
 * its child, let through without its turn, failed its assertion. So the values the frozen tree saw
 * are taken before the kill and every semaphore the exits changed — its last operation is then a tree
 * task's — is put back by a semop without SEM_UNDO, which leaves everyone's undo entries alone. The
 * restored tasks get their adjustments back from the image ({@link dev.cryo.engine.ipc.SemUndo}).
 */
public final class SemaphoresAtKill {
    private record SemSet(int id, int[] values) {}

    private final List<SemSet> before;
    private final Set<Integer> tree;

    private SemaphoresAtKill(List<SemSet> before, Set<Integer> tree) {
        this.before = before;
        this.tree = tree;
    }

    /** The values now, while the tree is frozen; nothing when no task shares cryo's ipc namespace. */
    public static SemaphoresAtKill snapshot(Collection<Integer> treePids) {
        String ours = Namespaces.link("self", "ipc");
        boolean shared = treePids.stream().anyMatch(p -> ours != null && ours.equals(Namespaces.link(Integer.toString(p), "ipc")));
        List<SemSet> sets = new ArrayList<>();
        if (shared) {
            for (SysvIpc.Entry e : SysvIpc.list("sem")) {
                try {
                    sets.add(new SemSet(e.id(), SysvIpc.semValues(e.id(), (int) e.size())));
                } catch (KernelException gone) {
                    // removed meanwhile, or not readable by cryo: the kill cannot matter to it
                }
            }
        }
        return new SemaphoresAtKill(sets, new HashSet<>(treePids));
    }

    /** Once every killed task has exited: puts back what their exits changed; returns what could not be. */
    public List<String> putBack() {
        List<String> problems = new ArrayList<>();
        for (SemSet s : before) {
            int[] now, pids;
            try {
                now = SysvIpc.semValues(s.id(), s.values().length);
                pids = SysvIpc.semPids(s.id(), s.values().length);
            } catch (KernelException gone) {
                continue; // removed since: nothing to put back
            }
            for (int i = 0; i < now.length; i++) {
                int delta = s.values()[i] - now[i];
                if (delta == 0 || !tree.contains(pids[i])) {
                    continue;
                }
                try {
                    SysvIpc.semAdd(s.id(), i, delta);
                } catch (KernelException e) {
                    problems.add("semaphore " + i + " of SysV set " + s.id() + " was " + s.values()[i] + " when the tree was frozen"
                            + " and is " + now[i] + " after its SEM_UNDO adjustments were applied by the kill; putting it back failed: "
                            + e.getMessage());
                }
            }
        }
        return problems;
    }
}
