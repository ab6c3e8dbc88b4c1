package dev.cryo.engine.restore.stage;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.NsLastPid;
import dev.cryo.kernel.Sched;
import dev.cryo.kernel.ptrace.Injector;

import java.util.List;

/**
 * A fork (or a thread) made by a task inside a user namespace of the tree, whose pid in cryo's pid
 * namespace comes from ns_last_pid: set_tid cannot name it (it needs CAP_CHECKPOINT_RESTORE over
 * cryo's user namespace, which no task inside another has, and a thread is always made inside).
 * Nothing stops the rest of the host forking between the write and the fork, so the window is
 * kept short (cryo's thread and the forker run SCHED_FIFO for it), and when another process took
 * the pid all the same, the child got instead exits before it runs anything of its own (a thread
 * leaves no trace; a process is reaped by the task that forked it), cryo waits for the pid to be
 * free again and the fork is tried again.
 */
public final class NsLastPidFork {
    private NsLastPidFork() {}

    /** In the failure when another process of the host took the pid: a restore tried again most likely gets it. */
    public static final String TAKEN_BY_THE_HOST = "was taken by another process of the host";

    private static final int ATTEMPTS = 10;
    /** How long a pid another process took may stay taken (a zombie its parent reaps late) before the restore gives up. */
    private static final long FREED_WITHIN_MS = 30_000;

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
            long r = promptly(forker.tid(), () -> NsLastPid.forkAs(pid, fork));
            List<Integer> got = t.tracer().takeNewTracees();
            gotten.addAll(got);
            inheritSlack(t, forker.tid(), got);
            if (Injector.isError(r) || got.isEmpty() || got.contains(pid)) {
                born.addAll(got);
                return r;
            }
            if (unsharedForChild) { // the namespace ends with the init it got, and a task cannot unshare another
                born.addAll(got);
                throw new RestoreException("pid " + pid + " " + TAKEN_BY_THE_HOST + " (now " + holder(pid)
                        + ") while pid " + t.pid() + " forked it as the init of the pid namespace it unshared for its"
                        + " children: the namespace ends with the init it got, and a task cannot unshare another;"
                        + " run the restore again");
            }
            StubAdoption.dropUnrun(t, forker, thread, exitSignal, r, got); // it got another pid
            String holder = awaitFree(pid);
            if (!holder.equals("free")) {
                throw new RestoreException("pid " + pid + " is in use by " + holder + ": another process of the host took"
                        + " it while pid " + t.pid() + " forked it from inside its user namespace, and it was not freed within "
                        + FREED_WITHIN_MS / 1000 + " s");
            }
            if (attempt == ATTEMPTS) {
                throw new RestoreException("pid " + pid + " " + TAKEN_BY_THE_HOST + " " + ATTEMPTS
                        + " times while pid " + t.pid() + " forked it from inside its user namespace (ns_last_pid"
                        + " gave " + gotten + ")");
            }
        }
    }

    /**
     * A thread under SCHED_FIFO has no timer slack, and what it forks starts with none: the children
     * get the forker's dumped slack, which they would have inherited (a task's own comes back in
     * STATE; a zombie has no STATE). Their default slack, which the kernel also takes from the
     * forker at the fork and cannot be set from outside, stays 0: it shows only where the program
     * sets its slack to 0 (back to the default) or leaves a real-time policy.
     */
    private static void inheritSlack(TaskContext t, int forkerTid, List<Integer> children) {
        var threads = t.task().threads();
        long slack = threads.stream().filter(th -> th.tid() == forkerTid).findFirst().orElse(threads.get(0)).sched()
                .timerSlackNs();
        for (int child : children) {
            dev.cryo.engine.timing.SchedHandler.setTimerSlack(t.pid(), child, slack);
        }
    }

    /** Waits (bounded) for the process that took {@code pid} to be gone; returns "free" or who holds it still. */
    private static String awaitFree(int pid) {
        long until = System.nanoTime() + FREED_WITHIN_MS * 1_000_000;
        String holder = holder(pid);
        while (!holder.equals("free") && System.nanoTime() < until) {
            java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
            holder = holder(pid);
        }
        return holder;
    }

    /**
     * Runs {@code fork} with this thread (which writes ns_last_pid and resumes the forker) and the
     * forking thread {@code tid} under SCHED_FIFO, so neither waits behind the host's busy tasks
     * between the write and the fork; their own policies are put back after. Best effort: where
     * the kernel refuses a real-time policy the fork runs as it is (the retry still holds).
     */
    private static long promptly(int tid, java.util.function.LongSupplier fork) {
        Sched.Attr self = swapToFifo(0), forker = swapToFifo(tid);
        try {
            return fork.getAsLong();
        } finally {
            putBack(tid, forker);
            putBack(0, self);
        }
    }

    private static Sched.Attr swapToFifo(int tid) {
        try {
            Sched.Attr was = Sched.getattr(tid);
            // its children do not inherit it
            Sched.setattr(tid, new Sched.Attr(Sched.SCHED_FIFO, Sched.FLAG_RESET_ON_FORK, 0, 1, 0, 0, 0, 0, 0));
            return was;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static void putBack(int tid, Sched.Attr was) {
        if (was != null) {
            Sched.setattr(tid, was);
        }
    }
}
