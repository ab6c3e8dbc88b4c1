package dev.cryo.engine.restore.stage;

import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

/**
 * Takes back the SIGCHLD that the restore's own zombies sent when they died: the parent got
 * that notice before the dump already (or has it among its dumped pending signals, queued again
 * later). The stub blocks every signal from its adoption on, so the notice waits here, pending,
 * and rt_sigtimedwait with a zero timeout removes it. A task with none pending (no zombie child:
 * nearly every task) takes no injected call: the pending signals are peeked (PTRACE_PEEKSIGINFO,
 * no round trip), where the call cost two round trips. The kernel queues a child's notice with its
 * siginfo past any queue limit (si_code above 0), so the peek sees it.
 */
public final class ZombieNotices implements StateStage {
    private static final int EAGAIN = 11;

    @Override
    public String name() {
        return "zombie notices";
    }

    @Override
    public void run(TaskContext t) {
        if ((t.tracer().pendingSignals(t.pid().value()) & 1L << (Signals.SIGCHLD - 1)) == 0) {
            return;
        }
        long set = t.put(new RemoteWriter(24).longs(1L << (Signals.SIGCHLD - 1), 0, 0).toBytes());
        long noWait = set + 8; // struct timespec {0, 0}
        for (int i = 0; i < 64; i++) {
            long r = t.main().raw(SyscallNr.RT_SIGTIMEDWAIT, set, 0, noWait, 8);
            if (r == -EAGAIN) {
                return;
            }
            if (Injector.isError(r)) {
                throw new dev.cryo.kernel.SyscallException("rt_sigtimedwait(SIGCHLD) in pid " + t.pid(), (int) -r);
            }
        }
    }
}
