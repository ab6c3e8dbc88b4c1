package dev.cryo.engine.restore.stage;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.NsLastPid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Registers;

import java.util.List;

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

    /** Who holds {@code pid} now, for the message. */
    private static String holder(int pid) {
        try {
            var st = dev.cryo.kernel.proc.ProcFs.stat(dev.cryo.kernel.Pid.of(pid));
            return st.comm() + " (state " + st.state() + ", parent " + st.ppid() + ")";
        } catch (RuntimeException e) {
            return "free";
        }
    }

    /**
     * Runs {@code fork} (clone3 injected through {@code forker}, running the Runnable it gets at its
     * entry stop, which sets ns_last_pid) until the child it makes has
     * {@code pid} in cryo's namespace, at most {@link #ATTEMPTS} times; returns clone3's result,
     * the child's tracees left to the caller as {@link dev.cryo.kernel.ptrace.Tracer#takeNewTracees} gives them.
     */
    static long fork(TaskContext t, Injector forker, int pid, boolean thread, int exitSignal,
                     java.util.function.ToLongFunction<Runnable> fork, List<Integer> born) {
        List<Integer> gotten = new java.util.ArrayList<>();
        // a pid namespace unshared for the child (unshare --pid --fork) shows no link until its init is born
        boolean unsharedForChild = !thread && dev.cryo.kernel.Namespaces.link(forker.pid().toString(), "pid_for_children") == null;
        for (int attempt = 1; ; attempt++) {
            long r = NsLastPid.forkAs(pid, fork);
            List<Integer> got = t.tracer().takeNewTracees();
            gotten.addAll(got);
            boolean held = !got.contains(pid) && !holder(pid).equals("free"); // in use: no retry gets it
            if (unsharedForChild && !got.contains(pid) && !got.isEmpty() && !Injector.isError(r)) {
                throw new RestoreException("pid " + pid + " was taken by another process of the host (now " + holder(pid)
                        + ") while pid " + t.pid() + " forked it as the init of the pid namespace it unshared for its"
                        + " children: the namespace ends with the init it got, and a task cannot unshare another;"
                        + " run the restore again");
            }
            if (Injector.isError(r) || got.contains(pid) || got.isEmpty() || attempt == ATTEMPTS || held) {
                born.addAll(got);
                if (held && !got.isEmpty()) {
                    born.clear(); // the one it got goes with the failure (the forker dies with the restore)
                    throw new RestoreException("pid " + pid + " is in use by " + holder(pid) + ": pid " + t.pid()
                            + " could not fork it from inside its user namespace");
                }
                if (!Injector.isError(r) && !got.contains(pid)) {
                    throw new RestoreException("pid " + pid + " was taken by another process of the host " + ATTEMPTS
                            + " times while pid " + t.pid() + " forked it from inside its user namespace (ns_last_pid"
                            + " gave " + gotten + "; pid " + pid + " is " + holder(pid) + ")");
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
