package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.PosixTimerImage;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.engine.timing.TimersHandler;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.GroupMembers;
import dev.cryo.kernel.ptrace.Injector;

/**
 * Queues the signals that were pending at dump time again, per thread and shared, with their
 * siginfo, in their order: a POSIX timer's own waiting signal by arming the timer to queue it with
 * its overrun, in its place. Late, so that as few injected calls as possible run with a signal pending.
 */
public final class PendingSignals implements StateStage {
    @Override
    public String name() {
        return "pending signals";
    }

    @Override
    public void run(TaskContext t) {
        int pid = t.seen(t.pid().value()); // inside a pid namespace, the task names itself by its pid there
        for (ThreadImage th : t.task().threads()) {
            Injector inj = t.injector(th.tid());
            for (byte[] info : th.pendingSignals()) {
                PosixTimerImage own = timersOwn(t, info);
                if (own != null) { // a timer aimed at the thread: it queues its own, in this place
                    TimersHandler.pendInPlace(t, own, () -> t.tracer().peekSiginfo(th.tid(), false));
                    continue;
                }
                inj.call("rt_tgsigqueueinfo", SyscallNr.RT_TGSIGQUEUEINFO, pid, t.seen(th.tid()), signo(info), t.put(info));
            }
        }
        for (byte[] info : t.task().sharedPendingSignals()) {
            int sig = signo(info);
            PosixTimerImage own = timersOwn(t, info);
            if (own != null) { // the timer queues its own, with its overrun, in this place
                TimersHandler.pendInPlace(t, own, () -> t.tracer().peekSiginfo(t.pid().value(), true));
                continue;
            }
            if (TTY_STOPS.contains(sig) && stops(t, sig)) {
                // the task was stopped by job control (a ^Z): it stops again as it is let go, by that
                // signal, which its parent's waitid reports; but in an orphaned group (its parent is
                // another than at dump) the kernel would discard it and let the task run: SIGSTOP then
                t.tracer().giveOnRelease(t.pid().value(), orphanedGroup(t) ? Signals.SIGSTOP : sig);
                continue;
            }
            t.call("rt_sigqueueinfo", SyscallNr.RT_SIGQUEUEINFO, pid, sig, t.put(info));
        }
    }

    /** The POSIX timer whose own waiting signal this is (armed to queue it again), or null. */
    private static PosixTimerImage timersOwn(TaskContext t, byte[] info) {
        return t.task().timers().posixTimers().stream().filter(p -> p.signalPending() && p.signal() == signo(info)
                && dev.cryo.engine.timing.PendingTimerSignal.isTimers(info, p.id())).findFirst().orElse(null);
    }

    /** The stop signals the kernel discards for a member of an orphaned process group. */
    private static final java.util.Set<Integer> TTY_STOPS = java.util.Set.of(Signals.SIGTSTP, Signals.SIGTTIN, Signals.SIGTTOU);

    /**
     * Whether the pending signal is a stop: its action is the default one and some thread takes
     * it (a signal every thread blocks stays pending and stops nothing: zdtm's stopped04).
     */
    private static boolean stops(TaskContext t, int sig) {
        boolean dfl = t.task().sigactions().stream().noneMatch(a -> a.signal() == sig && a.handler() != 0);
        return dfl && t.task().threads().stream().anyMatch(th -> (th.sigmask() & (1L << (sig - 1))) == 0);
    }

    private static boolean orphanedGroup(TaskContext t) {
        return GroupMembers.orphaned(dev.cryo.kernel.proc.ProcFs.stat(t.pid()).pgrp());
    }

    private static int signo(byte[] info) {
        return (info[0] & 0xff) | (info[1] & 0xff) << 8 | (info[2] & 0xff) << 16 | (info[3] & 0xff) << 24;
    }
}
