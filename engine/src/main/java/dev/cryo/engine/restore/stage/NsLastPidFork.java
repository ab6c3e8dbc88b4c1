package dev.cryo.engine.restore.stage;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.NsLastPid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Registers;

import java.util.List;
import java.util.function.LongSupplier;

/**
 * A fork (or a thread) made by a task inside a user namespace of the tree, whose pid in cryo's pid
 * namespace comes from ns_last_pid: another process of the host may fork in between and take that
 * pid. The child got then, stopped at its birth, is made to exit before it runs anything of its
 * own (a thread leaves no trace; a process is reaped by the task that forked it) and the fork is
 * tried again.
 */
final class NsLastPidFork {
    private NsLastPidFork() {}

    private static final int ATTEMPTS = 10;

    /**
     * Runs {@code fork} (clone3 injected through {@code forker}) until the child it makes has
     * {@code pid} in cryo's namespace, at most {@link #ATTEMPTS} times; returns clone3's result,
     * the child's tracees left to the caller as {@link dev.cryo.kernel.ptrace.Tracer#takeNewTracees} gives them.
     */
    static long fork(TaskContext t, Injector forker, int pid, boolean thread, int exitSignal, LongSupplier fork,
                     List<Integer> born) {
        for (int attempt = 1; ; attempt++) {
            long r = NsLastPid.forkAs(pid, fork);
            List<Integer> got = t.tracer().takeNewTracees();
            if (Injector.isError(r) || got.contains(pid) || got.isEmpty() || attempt == ATTEMPTS) {
                born.addAll(got);
                if (!Injector.isError(r) && !got.contains(pid)) {
                    throw new RestoreException("pid " + pid + " was taken by another process of the host " + ATTEMPTS
                            + " times while pid " + t.pid() + " forked it from inside its user namespace (ns_last_pid)");
                }
                return r;
            }
            for (int other : got) { // raced: this one goes before it runs
                t.tracer().waitForStop(other);
                Registers regs = t.tracer().getRegisters(other);
                t.tracer().setRegisters(other, regs.forSyscall(t.boot().gadget(), SyscallNr.EXIT, new long[] {0}));
                t.tracer().detach(other, other);
            }
            if (!thread) { // the task reaps the raced child it forked (its pid as the task sees it: clone3's result)
                forker.call("wait4(raced child " + r + ")", SyscallNr.WAIT4, r, 0, dev.cryo.kernel.Sys.WALL, 0);
                if (exitSignal > 0) { // and takes back the signal its exit queued (the stub blocks every signal now)
                    long set = t.put(2048, new dev.cryo.engine.restore.RemoteWriter(24)
                            .longs(1L << (exitSignal - 1), 0, 0).toBytes());
                    forker.raw(SyscallNr.RT_SIGTIMEDWAIT, set, 0, set + 8, 8);
                }
            }
        }
    }
}
