package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;
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
 *
 * <p>Processes exit while a tree is being seized (a shell's short-lived children): a process that
 * is, or becomes, a zombie is reported as one (its parent will reap it, or it is dumped as a
 * zombie once its parent is stopped); one already reaped is reported gone; a thread that exits
 * while its process is being seized simply is not part of it.
 */
public final class TaskSeizer {
    private TaskSeizer() {}

    /** What seizing found. */
    public sealed interface Outcome {}

    /** Every thread is stopped; the tids, leader first. */
    public record Live(List<Integer> tids) implements Outcome {}

    /** The process has exited and its parent has not reaped it (yet). */
    public record Zombie() implements Outcome {}

    /** The process has exited and been reaped: it is no longer part of the tree. */
    public record Gone() implements Outcome {}

    /** How long a leader that has exited may take for its other threads to finish exiting. */
    private static final long THREADS_EXITING_NANOS = 500_000_000L;

    /** Returns the tids, leader first, failing on a zombie or a process that is gone. */
    public static List<Integer> seize(Tracer tracer, Pid pid) {
        return seizeLive(tracer, pid, java.time.Duration.ofDays(365));
    }

    /** As {@link #seize(Tracer, Pid, java.time.Duration)}, failing on a zombie or a process that is gone. */
    public static List<Integer> seizeLive(Tracer tracer, Pid pid, java.time.Duration timeout) {
        Outcome o = seize(tracer, pid, timeout);
        if (o instanceof Live l) {
            return l.tids();
        }
        throw new DumpException("pid " + pid + " exited while being seized");
    }

    /**
     * Seizes every thread, failing when one has not stopped by {@code timeout}. On failure every
     * thread seized so far is released.
     */
    public static Outcome seize(Tracer tracer, Pid pid, java.time.Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Outcome dead = deadState(pid);
        if (dead != null) {
            return dead;
        }
        if (!awaitVforkRelease(pid, deadline)) { // seized with no time left, it would fail as merely late
            throw new DumpException(SeizeDelay.vforkWaitFor(pid));
        }
        Set<Integer> seized = new LinkedHashSet<>();
        Set<Integer> workers = new java.util.HashSet<>();
        try {
            while (true) {
                List<Pid> tids;
                try {
                    tids = ProcFs.tasks(pid);
                } catch (KernelException e) {
                    release(tracer, pid, seized);
                    return new Gone();
                }
                // every new thread is seized and interrupted before any stop is waited for: a program
                // whose threads keep making short-lived ones (a thread pool's churn) is caught in one
                // pass, where waiting for each stop in turn let the others make new threads meanwhile
                List<Pid> fresh = new ArrayList<>();
                boolean newcomers = false;
                for (Pid tid : tids) {
                    if (seized.contains(tid.value()) || workers.contains(tid.value())) {
                        continue;
                    }
                    if (tid.value() == pid.value() && ExitedLeaders.exited(pid)) {
                        continue; // an exited main thread: nothing to stop
                    }
                    newcomers = true;
                    if (tid.value() != pid.value() && ProcFs.ioWorker(pid, tid)) {
                        workers.add(tid.value()); // never stops for a tracer, nor is it the program's: not dumped
                        continue;
                    }
                    try {
                        tracer.seizeAndInterrupt(tid.value(), Ptrace.O_TRACESYSGOOD);
                        seized.add(tid.value());
                        fresh.add(tid);
                    } catch (KernelException e) {
                        dead = threadGone(tracer, pid, tid, seized, e);
                        if (dead != null) {
                            return dead;
                        }
                    }
                }
                for (Pid tid : fresh) {
                    try {
                        waitForStop(tracer, pid, tid, deadline);
                        // signals sent while the tree is held wait in the kernel with their siginfo
                        tracer.keepSignalsQueued(tid.value());
                        suspendSeccomp(tracer, pid, tid);
                        RseqAbort.apply(tracer, pid, tid.value());
                        StoppedWaitRestart.apply(tracer, tid.value());
                    } catch (KernelException e) {
                        dead = threadGone(tracer, pid, tid, seized, e);
                        if (dead != null) {
                            return dead;
                        }
                    }
                }
                if (!newcomers && heldAll(pid, seized.size(), workers)) {
                    break; // every thread listed is stopped: none can make another
                }
                // one that exited before its seize may have made a thread not listed yet: list again
                if (System.nanoTime() > deadline) {
                    throw new KernelException("its threads did not stop within the seize timeout: new ones kept "
                            + "being made (" + seized.size() + " stopped so far)");
                }
            }
        } catch (VforkWait e) {
            release(tracer, pid, seized);
            throw new DumpException(SeizeDelay.vforkWait(pid), e);
        } catch (KernelException e) {
            release(tracer, pid, seized); // a thread that never stopped is let go when the tracer thread ends
            String traced = tracedBy(pid);
            if (traced != null) {
                String who = traced.endsWith(ANCESTOR) ? "strace -f or a debugger running it" : "another cryo dump or a debugger";
                throw new DumpException("pid " + pid + " is already traced by " + traced + " (" + who + "): cryo cannot "
                        + "dump it while it is (" + e.getMessage() + ")", e);
            }
            boolean late = e.getMessage() != null && e.getMessage().contains("did not stop within");
            if (late && SeizeDelay.borrowsParentMemory(pid)) {
                throw new DumpException(SeizeDelay.vforkWaitFor(pid), e);
            }
            // the thread's own wait had only what was left of the timeout: name the one the user set
            String after = late ? " after " + (timeout.toMillis() % 1000 == 0 ? timeout.toSeconds() + " s"
                    : timeout.toMillis() + " ms") : "";
            String why = late ? "; " + SeizeDelay.explain(pid) : "";
            throw new DumpException("could not seize pid " + pid + after + ": " + e.getMessage() + why, e);
        }
        List<Integer> out = new ArrayList<>(seized);
        if (!ExitedLeaders.exited(pid)) {
            out.remove(Integer.valueOf(pid.value()));
            out.add(0, pid.value());
        }
        return new Live(out);
    }

    /**
     * Whether a listing of /proc/PID/task that found no new thread showed them all. The kernel's
     * listing ends early when the thread it has just listed exits meanwhile (next_tid stops at a
     * thread no longer alive), and the threads after it, the newest, are left out: with threads that
     * keep ending (a thread pool's churn) two new threads ran on unseized through a whole dump and
     * were lost (threadchurn: 1 run in 30, then 1 in 40, at load 30; with this check 0 in 40, and
     * 2 of the 40 listed again). The process's count, read first, is compared with the threads known
     * to be alive after it, not with the listing: the seized ones (stopped, they cannot end), the
     * io_uring workers still there and an exited main thread (a zombie, still counted). A worker the
     * listing showed may end right after it (the very end that cuts a listing short), and counting
     * it would let one thread left out make up the count: that thread would run on, not dumped.
     */
    private static boolean heldAll(Pid pid, int seized, Set<Integer> workers) {
        int count;
        try {
            count = ProcFs.stat(pid).numThreads();
        } catch (KernelException e) {
            return true; // gone: the next steps say so
        }
        int known = seized + (ExitedLeaders.exited(pid) ? 1 : 0);
        for (int w : workers) {
            known += exists(pid, Pid.of(w)) ? 1 : 0;
        }
        return count <= known;
    }

    /**
     * A thread whose seize or stop failed: the process's end (zombie or gone, everything released), or
     * null when only that thread has exited meanwhile (it is not part of the process any more);
     * rethrows when it still exists.
     */
    private static Outcome threadGone(Tracer tracer, Pid pid, Pid tid, Set<Integer> seized, KernelException e) {
        Outcome dead = deadState(pid);
        if (dead != null) {
            release(tracer, pid, seized);
            return dead;
        }
        if (tid.value() == pid.value() || exists(pid, tid)) {
            throw e;
        }
        seized.remove(tid.value());
        tracer.forget(tid.value());
        return null;
    }

    /**
     * How long a thread may be seen waiting for its vfork child while the child is held by a tracer
     * (cryo's seize of it, or another's) before the seize gives up on it.
     */
    private static final long VFORK_GRACE_NANOS = 300_000_000L;

    /** How long the seize of a vfork child waits for it to exec or exit before seizing it anyway. */
    private static final long VFORK_CHILD_NANOS = 2_000_000_000L;

    /**
     * A vfork child that has not exec'd yet is let run to its exec or exit (for at most
     * {@link #VFORK_CHILD_NANOS}) before it is seized: held between vfork and exec, it would keep its
     * parent from ever stopping, and the dump of a service that spawns helpers failed whenever its
     * freeze fell in that window. One that stays longer (blocked) is seized, and its parent refused.
     * False when the seize's whole time went by with the child still in its parent's memory.
     */
    private static boolean awaitVforkRelease(Pid pid, long deadline) {
        long until = Math.min(deadline, System.nanoTime() + VFORK_CHILD_NANOS);
        while (SeizeDelay.borrowsParentMemory(pid)) {
            if (System.nanoTime() >= until) {
                return until < deadline;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
        return true;
    }

    /** A thread that waits for its vfork child: it cannot stop (see {@link SeizeDelay#inVforkWait}). */
    private static final class VforkWait extends KernelException {
        VforkWait(Pid tid) {
            super("tid " + tid + " waits for its vfork child");
        }
    }

    /**
     * Waits for a seized thread's stop until {@code deadline}, in slices: a thread seen waiting for
     * its vfork child for {@link #VFORK_GRACE_NANOS} while that child is held by a tracer can never
     * stop, and is given up at once instead of after the whole seize timeout. One whose child runs
     * free stops once the child execs or exits.
     */
    private static void waitForStop(Tracer tracer, Pid pid, Pid tid, long deadline) {
        long vforkSince = 0;
        String slept = null; // the last uninterruptible sleep seen while waiting: the likely cause of a timeout
        while (true) {
            long left = deadline - System.nanoTime();
            try {
                tracer.waitForStop(tid.value(), Math.max(1, Math.min(left, 50_000_000L)));
                return;
            } catch (KernelException e) {
                boolean late = e.getMessage() != null && e.getMessage().contains("did not stop within");
                if (late && left <= 50_000_000L && SeizeDelay.hasVforkChild(pid, tid)) {
                    // the wait for the vfork child's exec may have taken the whole timeout; the thread's state
                    // at this instant may be R (a spurious wake-up in its vfork wait): its child says it all,
                    // held or not yet (its own seize may still be waiting for its exec, up to the same deadline)
                    throw new VforkWait(tid);
                }
                if (late && left <= 50_000_000L) {
                    // the last slice's length and the state of this instant say little: a thread that slept
                    // in D all along may be running toward its stop by now (CI: "within 0 ms (state R)")
                    String now = SeizeDelay.stateNow(pid, tid);
                    throw new KernelException("tid " + tid + " did not stop within the seize timeout (" + now
                            + (slept == null || now.equals("state D") ? "" : "; before, " + slept) + ")", e);
                }
                if (!late) {
                    throw e;
                }
            }
            String sleep = SeizeDelay.uninterruptibleSleep(pid, tid);
            slept = sleep != null ? sleep : slept;
            if (!SeizeDelay.inVforkWait(pid, tid) || !SeizeDelay.vforkChildHeld(pid, tid)) {
                vforkSince = 0;
            } else if (vforkSince == 0) {
                vforkSince = System.nanoTime();
            } else if (System.nanoTime() - vforkSince >= VFORK_GRACE_NANOS) {
                throw new VforkWait(tid);
            }
        }
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

    /**
     * Zombie, gone, or null when the process still runs. A leader that has exited while other
     * threads run on is not a zombie: such a process (pthread_exit in main) is read through one of
     * its threads ({@link ExitedLeaders}) and dumped without its main thread, which the restore makes
     * exit again ({@link ExitedLeader}).
     */
    private static Outcome deadState(Pid pid) {
        if (ExitedLeaders.exited(pid)) {
            return null;
        }
        long until = System.nanoTime() + THREADS_EXITING_NANOS;
        while (true) {
            ProcStat st;
            List<Pid> threads;
            try {
                st = ProcFs.stat(pid);
                if (st.state() != 'Z' && st.state() != 'X') {
                    return null;
                }
                threads = ProcFs.tasks(pid);
            } catch (KernelException e) {
                return new Gone();
            }
            if (threads.size() <= 1) {
                return new Zombie();
            }
            if (System.nanoTime() > until) { // not threads on their way out of an exit_group: pthread_exit in main
                ExitedLeaders.standIn(pid, threads.stream().filter(t -> t.value() != pid.value()).findFirst()
                        .orElseThrow().value());
                return null;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(5_000_000);
        }
    }

    /** "pid 42 (gdb)" when another tracer holds the process, else null. */
    private static String tracedBy(Pid pid) {
        try {
            int tracer = ProcFs.status(pid).tracerPid();
            // this very thread (the tracer of this seize) until the seize it failed lets go: not another tracer
            if (tracer == 0 || tracer == dev.cryo.kernel.Sys.call(() -> "gettid", dev.cryo.kernel.SyscallNr.GETTID, 0, 0, 0, 0)) {
                return null;
            }
            String comm = "?"; // gone meanwhile
            boolean ancestor = false;
            try {
                comm = ProcFs.stat(Pid.of(tracer)).comm();
                ancestor = ancestor(pid, ProcFs.status(Pid.of(tracer)).tgid());
            } catch (KernelException e) {
                // named as far as it could be read
            }
            return "pid " + tracer + " (" + comm + ")" + (ancestor ? ANCESTOR : "");
        } catch (KernelException e) {
            return null;
        }
    }

    private static final String ANCESTOR = ", one of its ancestors";

    /** Whether process {@code tgid} is an ancestor of {@code pid} (a tracer that started what it traces). */
    private static boolean ancestor(Pid pid, int tgid) {
        int p = pid.value();
        for (int i = 0; i < 64 && p > 1; i++) { // bounded: a reparented chain ends at a subreaper or init
            p = ProcFs.status(Pid.of(p)).ppid();
            if (p == tgid) {
                return true;
            }
        }
        return false;
    }

    private static boolean exists(Pid pid, Pid tid) {
        return java.nio.file.Files.exists(java.nio.file.Path.of(pid.procDir(), "task", Integer.toString(tid.value())));
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
