package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.ThreadImage;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;

/**
 * Queues the signals that were pending at dump time again, per thread and shared, with their
 * siginfo. Late, so that as few injected calls as possible run with a signal pending.
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
                inj.call("rt_tgsigqueueinfo", SyscallNr.RT_TGSIGQUEUEINFO, pid, t.seen(th.tid()), signo(info), t.put(info));
            }
        }
        for (byte[] info : t.task().sharedPendingSignals()) {
            t.call("rt_sigqueueinfo", SyscallNr.RT_SIGQUEUEINFO, pid, signo(info), t.put(info));
        }
    }

    private static int signo(byte[] info) {
        return (info[0] & 0xff) | (info[1] & 0xff) << 8 | (info[2] & 0xff) << 16 | (info[3] & 0xff) << 24;
    }
}
