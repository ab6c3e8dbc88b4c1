package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Stops every thread of one process: PTRACE_SEIZE + PTRACE_INTERRUPT each thread listed in
 * /proc/PID/task, and list again until no new thread shows up (threads may be created while we
 * seize). Runs on the task's tracer thread.
 */
public final class TaskSeizer {
    private TaskSeizer() {}

    /** Returns the tids, leader first. On failure every thread seized so far is released. */
    public static List<Integer> seize(Tracer tracer, Pid pid) {
        return seize(tracer, pid, java.time.Duration.ofDays(365));
    }

    /** As {@link #seize(Tracer, Pid)}, failing when a thread has not stopped by {@code timeout}. */
    public static List<Integer> seize(Tracer tracer, Pid pid, java.time.Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        requireNotZombie(pid);
        Set<Integer> seized = new LinkedHashSet<>();
        try {
            while (true) {
                List<Pid> tids;
                try {
                    tids = ProcFs.tasks(pid);
                } catch (KernelException e) {
                    throw new DumpException("pid " + pid + " exited while being seized");
                }
                boolean grew = false;
                for (Pid tid : tids) {
                    if (!seized.contains(tid.value())) {
                        tracer.seizeAndInterrupt(tid.value(), Ptrace.O_TRACESYSGOOD);
                        seized.add(tid.value());
                        tracer.waitForStop(tid.value(), Math.max(1, deadline - System.nanoTime()));
                        suspendSeccomp(tracer, pid, tid);
                        grew = true;
                    }
                }
                if (!grew) {
                    break;
                }
            }
        } catch (KernelException e) {
            release(tracer, pid, seized); // a thread that never stopped is let go when the tracer thread ends
            throw new DumpException("could not seize pid " + pid + ": " + e.getMessage(), e);
        }
        List<Integer> out = new ArrayList<>(seized);
        out.remove(Integer.valueOf(pid.value()));
        out.add(0, pid.value());
        return out;
    }

    /**
     * A thread under seccomp would have cryo's injected syscalls judged by its filter (and killed
     * in strict mode): PTRACE_O_SUSPEND_SECCOMP lifts it while cryo holds the thread. The option
     * goes with the detach, so the filter applies again the moment the thread is let go.
     */
    private static void suspendSeccomp(Tracer tracer, Pid pid, Pid tid) {
        int mode = ProcFs.status(pid, tid).seccomp();
        if (mode == 0) {
            return;
        }
        try {
            tracer.setOptions(tid.value(), Ptrace.O_TRACESYSGOOD | Ptrace.O_SUSPEND_SECCOMP);
        } catch (KernelException e) {
            throw new KernelException("tid " + tid + " is under seccomp (mode " + mode
                    + ") and its filter cannot be suspended for the dump (this needs CAP_SYS_ADMIN, and cryo "
                    + "itself must not run under seccomp): " + e.getMessage(), e);
        }
    }

    /** A zombie can be seized but never stops: say what it is at once instead of timing out. */
    private static void requireNotZombie(Pid pid) {
        dev.cryo.kernel.proc.ProcStat st;
        try {
            st = ProcFs.stat(pid);
        } catch (KernelException e) {
            throw new DumpException("pid " + pid + " exited while being seized");
        }
        if (st.state() == 'Z' || st.state() == 'X') {
            throw new DumpException("pid " + pid + " (" + st.comm() + ") is a zombie its parent pid " + st.ppid()
                    + " has not reaped: zombies in the tree are not supported yet");
        }
    }

    /** Detaches every thread, ignoring those already gone: used on failure paths. */
    public static void release(Tracer tracer, Pid pid, Iterable<Integer> tids) {
        for (int tid : tids) {
            try {
                tracer.detach(pid.value(), tid);
            } catch (KernelException ignored) {
                tracer.forget(tid);
            }
        }
    }
}
