package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.Rlimit;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.Limits;

/**
 * The task's own limit on queued signals (RLIMIT_SIGPENDING), set once its signals are queued and its timers
 * made ({@link PendingSignals}, {@link TimerCreation}). Until then it has room ({@link #room}): the limit counts
 * every pending signal of the task's user on the host, and a program that had filled its queue up to its own
 * limit (stress-ng's sigfd worker: 18,000 SIGRTMIN) could not have them queued again, nor its timers made, on a
 * host where that user has others pending ("rt_sigqueueinfo ... EAGAIN", "timer_create: EAGAIN"). Lowering a
 * limit needs no privilege, so this comes after the credentials.
 */
public final class SignalQueueLimit implements StateStage {
    static final int RLIMIT_SIGPENDING = Limits.RLIMIT_SIGPENDING;

    @Override
    public String name() {
        return "limit of queued signals";
    }

    /**
     * The soft and hard limit the task has until then: its hard one, or cryo's own if that is higher (the task
     * inherited it: no privilege needed to keep it), unlimited where either is.
     */
    static long room(Rlimit r) {
        long own = OWN_HARD;
        return r.hard() == Limits.INFINITY || own == Limits.INFINITY ? Limits.INFINITY : Math.max(r.hard(), own);
    }

    private static final long OWN_HARD = ownHard();

    private static long ownHard() {
        try {
            return Limits.parse("/proc/self/limits", java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/limits")))
                    .get(RLIMIT_SIGPENDING).hard();
        } catch (java.io.IOException | RuntimeException e) {
            return 0; // unknown: the task's own hard limit only, as before
        }
    }

    @Override
    public void run(TaskContext t) {
        for (Rlimit r : t.task().rlimits()) {
            if (r.resource() == RLIMIT_SIGPENDING && (r.soft() != room(r) || r.hard() != room(r))) {
                long at = t.put(new dev.cryo.engine.restore.RemoteWriter(16).longs(r.soft(), r.hard()).toBytes());
                t.call("prlimit64(pid " + t.pid() + ", RLIMIT_SIGPENDING, " + r.soft() + "/" + r.hard() + ")",
                        SyscallNr.PRLIMIT64, 0, RLIMIT_SIGPENDING, at, 0);
            }
        }
    }
}
