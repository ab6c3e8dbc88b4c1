package dev.cryo.engine.namespaces;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.PosixTimers;
import dev.cryo.kernel.proc.ProcFs;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The pids inside a pid namespace of the tree of threads that had exited by the dump while POSIX timers of
 * their process are still aimed at them (zdtm's dead_thread_posix_timer in a container). Such a thread has
 * no NSpid left: its pid in there is read from the timers as the namespace's own procfs lists them, the
 * one at /proc in its init's root (as a container mounts it), matched by timer id with cryo's view. Without
 * such a procfs it stays unknown, and a restore gives it its number outside ({@link TreeNamespaces#setTidOfExited}).
 */
final class ExitedTimerTargets {
    private ExitedTimerTargets() {
    }

    /**
     * Adds to {@code tids} (pid as cryo sees it → pid at this level) the exited targets of task {@code task}'s
     * timers; {@code taskNsPid}: the task's NSpid, outermost first; {@code depth}: the level of {@code init}'s namespace.
     */
    static void add(Pid init, int depth, Pid task, List<Integer> taskNsPid, Map<Integer, Integer> tids) {
        try {
            List<PosixTimers.Timer> exited = ProcFs.timers(task).timers().stream()
                    .filter(t -> t.toThread() && !tids.containsKey(t.target())).toList();
            if (exited.isEmpty()) {
                return;
            }
            String inside = dev.cryo.kernel.ExitedLeaders.proc(init) + "/root/proc/" + taskNsPid.get(depth) + "/";
            if (!ofThisLevel(inside, taskNsPid.subList(depth, taskNsPid.size()))) {
                return;
            }
            Map<Integer, Integer> targetById = new HashMap<>();
            PosixTimers.parse(inside + "timers", ProcFs.text(inside + "timers")).timers()
                    .forEach(t -> targetById.put(t.id(), t.target()));
            for (PosixTimers.Timer t : exited) {
                Integer there = targetById.get(t.id());
                if (there != null && there > 0) {
                    tids.putIfAbsent(t.target(), there);
                }
            }
        } catch (KernelException e) {
            // exited meanwhile, or no procfs of that namespace: the restore gives the number outside
        }
    }

    /** Whether the procfs directory {@code dir} shows the task from this level inwards, as a procfs of this namespace does. */
    private static boolean ofThisLevel(String dir, List<Integer> expected) {
        for (String line : ProcFs.text(dir + "status").split("\n")) {
            if (line.startsWith("NSpid:")) {
                return line.substring(6).strip().replaceAll("\\s+", " ")
                        .equals(String.join(" ", expected.stream().map(String::valueOf).toList()));
            }
        }
        return false;
    }
}
