package dev.cryo.engine.timing;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.SchedImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sched;
import dev.cryo.kernel.proc.ProcFs;

/**
 * Scheduling state: per thread sched_attr (policy, priority, nice, flags, deadline parameters,
 * utilization clamps), CPU affinity and I/O priority, all read and set from outside by tid; per
 * process oom_score_adj through /proc.
 */
public final class SchedHandler {
    private SchedHandler() {}

    public static SchedImage dump(Pid pid, int tid) {
        Sched.Attr a = Sched.getattr(tid);
        return new SchedImage(a.policy(), a.flags() & Sched.CARRIED_FLAGS, Sched.getNice(tid), a.priority(), a.runtime(),
                a.deadline(), a.period(), a.utilMin(), a.utilMax(), Sched.getAffinity(tid), Sched.ioprioGet(tid),
                timerSlack(pid, tid));
    }

    /** /proc/TID/timerslack_ns: the file is per thread, but not listed under /proc/PID/task/TID. */
    private static Path slackFile(Pid pid, int tid) {
        return Path.of("/proc", Integer.toString(tid), "timerslack_ns");
    }

    private static long timerSlack(Pid pid, int tid) {
        Path p = slackFile(pid, tid);
        String t = ProcFs.text(p.toString()).trim();
        try {
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new DumpException(p + ": expected a number, found '" + t + "'");
        }
    }

    /** Sets a thread's timer slack from outside, where it is not {@code ns} already (the stub's own is the default one). */
    public static void setTimerSlack(Pid pid, int tid, long ns) {
        if (ns != timerSlack(pid, tid)) {
            try {
                Files.writeString(slackFile(pid, tid), Long.toString(ns));
            } catch (IOException e) {
                throw new RestoreException("pid " + pid + " tid " + tid + ": cannot set its timer slack to " + ns + " ns: "
                        + e.getMessage());
            }
        }
    }

    /**
     * The stub at SCHED_FIFO {@code t.rtPriority()} while cryo makes the task again ({@code
     * cryo.restore.rt-priority}): each injected call waits for the stub to be scheduled, which a loaded
     * host does late for a fair thread. Dropped ({@link #dropLift}) around each clone of the task ({@link
     * #unlifted}: a real-time task has no timer slack, and a clone takes the cloner's as its default
     * for good) and for good by the Scheduling stage, after the registers, which sets the image's
     * policy and slack from outside ({@link #keepsLift}); a failed restore kills the task. Left as it
     * is where cryo may not (no CAP_SYS_NICE, a cgroup without real-time time).
     */
    public static void liftStub(TaskContext t) {
        if (t.rtPriority() <= 0 || t.liftedFrom() != null) {
            return;
        }
        Lift l = lift(t.pid(), t.rtPriority());
        if (l != null) {
            t.lifted(l.from(), l.slack());
        }
    }

    /** The stub back as it was before {@link #liftStub} (its nice and slice are kept); whether it was lifted. */
    public static boolean dropLift(TaskContext t) {
        Sched.Attr a = t.liftedFrom();
        if (a == null) {
            return false;
        }
        long slack = t.slackBeforeLift();
        t.lifted(null, 0);
        drop(t.pid(), new Lift(a, slack));
        return true;
    }

    /** A single-threaded process's fair policy and timer slack before {@link #lift} (a real-time policy clears the slack). */
    public record Lift(Sched.Attr from, long slack) {}

    /**
     * Process {@code pid} (its main thread) at SCHED_FIFO {@code priority}, reset on fork: what it had,
     * or null when it was not lifted (priority 0, not under a fair policy, or cryo may not).
     */
    public static Lift lift(Pid pid, int priority) {
        if (priority <= 0) {
            return null;
        }
        Sched.Attr a = Sched.getattr(pid.value());
        if (!Sched.fair(a.policy())) {
            return null;
        }
        long slack = timerSlack(pid, pid.value());
        try {
            Sched.setScheduler(pid.value(), Sched.SCHED_FIFO, priority, true);
            return new Lift(a, slack);
        } catch (dev.cryo.kernel.SyscallException e) {
            return null; // it waits its turn as before
        }
    }

    /** {@code pid} back as it was before {@link #lift} (its nice and slice are kept). */
    public static void drop(Pid pid, Lift l) {
        Sched.setScheduler(pid.value(), l.from().policy(), l.from().priority(), (l.from().flags() & Sched.FLAG_RESET_ON_FORK) != 0);
        setTimerSlack(pid, pid.value(), l.slack());
    }

    /** The nice a lifted stub clones its threads at ({@link #threadsUnlifted}): the highest a fair thread may have. */
    static final int CLONE_NICE = -20;

    /** {@code clone} run with the lift dropped (the clone takes the task's timer slack as its default), lifted again after. */
    public static <T> T unlifted(TaskContext t, java.util.function.Supplier<T> clone) {
        return unlifted(t, false, clone);
    }

    /**
     * As {@link #unlifted}, for clones of the task's threads: meanwhile the stub runs at nice {@link
     * #CLONE_NICE}, which its threads inherit (a nice, unlike a real-time policy, leaves the slack alone).
     * Unlifted, each clone's round trips and the new thread's first stop waited for a CPU at the stub's own
     * nice (15-138 ms for Redis's 4 clones at load 21-35). The stub's nice is put back before it is lifted
     * again; the threads' is set from the image by the Scheduling stage, as their policy. Not for a child
     * process: a zombie of an old image keeps its stub's nice.
     */
    public static <T> T threadsUnlifted(TaskContext t, java.util.function.Supplier<T> clone) {
        return unlifted(t, true, clone);
    }

    private static <T> T unlifted(TaskContext t, boolean raised, java.util.function.Supplier<T> clone) {
        boolean lifted = dropLift(t);
        Integer niceWas = lifted && raised ? raisedForClones(t.pid().value()) : null;
        try {
            return clone.get();
        } finally {
            if (niceWas != null) {
                Sched.setNice(t.pid().value(), niceWas);
            }
            if (lifted) {
                liftStub(t);
            }
        }
    }

    /** Thread {@code tid} at {@link #CLONE_NICE}: its nice before, or null when it was not changed (not allowed, or no higher). */
    private static Integer raisedForClones(int tid) {
        try {
            int was = Sched.getNice(tid);
            if (was <= CLONE_NICE) {
                return null;
            }
            Sched.setNice(tid, CLONE_NICE);
            return was;
        } catch (dev.cryo.kernel.SyscallException e) {
            return null; // it clones at its own nice, as before
        }
    }

    /**
     * The task's other threads, once cloned, lifted as its main thread is (SCHED_FIFO, reset on fork):
     * the STATE stage's calls injected into each of them (its rseq, robust list, credentials...)
     * waited for a CPU at every round trip, 5-10 ms apiece at load 20. Lifted only after their clone,
     * which took the main thread's slack unlifted as their default; the Scheduling stage sets each
     * one's policy, nice and slack from the image. Not when the main thread is not lifted.
     */
    public static void liftThreads(TaskContext t, java.util.List<Integer> tids) {
        if (t.liftedFrom() == null) {
            return;
        }
        for (int tid : tids) {
            try {
                Sched.setScheduler(tid, Sched.SCHED_FIFO, t.rtPriority(), true);
            } catch (dev.cryo.kernel.SyscallException e) {
                return; // they wait their turn, as before
            }
        }
    }

    /**
     * Whether the lift may last through the STATE stage until the Scheduling stage drops it: the
     * STATE stage's last round trips (the queued calls' flush, the registers) then wait for no CPU
     * (0.9-12.7 ms of a migration's downtime at load 15-34, mig47). Not when the image limits a real-time
     * task's CPU time (RLIMIT_RTTIME, set by ProcessState): the stub, real-time meanwhile, could be
     * sent a SIGXCPU the task never had.
     */
    public static boolean keepsLift(dev.cryo.engine.model.TaskImage task) {
        return task.rlimits().stream().noneMatch(r -> r.resource() == dev.cryo.kernel.proc.Limits.RLIMIT_RTTIME && r.soft() != -1);
    }

    private static final int CAP_SYS_RESOURCE = 24;

    /**
     * A negative oom_score_adj can only be set again with CAP_SYS_RESOURCE: refused here when cryo
     * lacks it, rather than found out at restore time.
     */
    public static int dumpOomScoreAdj(Pid pid) {
        int adj = ProcFs.oomScoreAdj(pid);
        if (adj < 0 && (ProcFs.status(Pid.of((int) ProcessHandle.current().pid())).capEff() >>> CAP_SYS_RESOURCE & 1) == 0) {
            throw new DumpException("pid " + pid + ": oom_score_adj " + adj + " could not be restored: lowering it "
                    + "needs CAP_SYS_RESOURCE, which cryo does not have");
        }
        return adj;
    }

    /**
     * Sets every thread's affinity, I/O priority and sched_attr, and the task's oom_score_adj,
     * from outside. Last before the registers: a SCHED_IDLE thread would make every injected call
     * after it crawl on a busy machine. Affinity goes first, since SCHED_DEADLINE refuses a
     * thread whose affinity does not span its root domain; a thread under SCHED_IDLE, a real-time
     * or the deadline policy gets its nice value set first under SCHED_OTHER, since the kernel keeps it for when
     * the thread goes back to a fair policy.
     */
    public static void restore(TaskContext t) {
        // under a fair policy sched_getattr reports the time slice as runtime; setting it marks the
        // slice as chosen by the program, so the default one (the fresh stub's) is left unset
        long defaultSlice = Sched.getattr(t.pid().value()).runtime();
        for (ThreadImage th : t.task().threads()) {
            SchedImage s = th.sched();
            int tid = th.tid();
            Sched.setAffinity(tid, s.affinity());
            if (s.ioprio() != 0) {
                Sched.ioprioSet(tid, s.ioprio());
            }
            long runtime = Sched.fair(s.policy()) && s.runtime() == defaultSlice ? 0 : s.runtime();
            Sched.Attr a = new Sched.Attr(s.policy(), s.flags(), s.nice(), s.priority(), runtime, s.deadline(),
                    s.period(), s.utilMin(), s.utilMax());
            if (!a.takesNice()) {
                Sched.setattr(tid, new Sched.Attr(Sched.SCHED_OTHER, 0, s.nice(), 0, 0, 0, 0, 0, Sched.UCLAMP_MAX));
            }
            Sched.setattr(tid, a);
            setTimerSlack(t.pid(), tid, s.timerSlackNs());
        }
        int adj = t.task().oomScoreAdj();
        if (adj != ProcFs.oomScoreAdj(t.pid())) {
            Path p = Path.of(t.pid().procDir(), "oom_score_adj");
            try {
                Files.writeString(p, Integer.toString(adj));
            } catch (IOException e) {
                throw new RestoreException("pid " + t.pid() + ": cannot set oom_score_adj to " + adj + " (" + e.getMessage()
                        + "): lowering it needs CAP_SYS_RESOURCE");
            }
        }
    }
}
