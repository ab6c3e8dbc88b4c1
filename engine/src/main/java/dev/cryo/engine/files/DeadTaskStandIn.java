package dev.cryo.engine.files;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.WaitStatus;
import dev.cryo.kernel.proc.ProcFs;

import java.util.List;

/**
 * A process that stands in for a task reaped before the dump, so that a restored pidfd refers to a
 * dead task again (as CRIU's helper tasks do): it waits stopped while the holder opens its pidfd,
 * then ends as the task had ended — the exit code or the signal of the wait status the kernel keeps
 * for the pidfd (PIDFD_INFO_EXIT) — and cryo reaps it. Which pid it had is not shown for a reaped
 * task (fdinfo's Pid: -1), so any pid does; but its pid namespace is its holder's (a pidfd of a
 * process outside the caller's namespace and those below it signals nothing: EINVAL, not ESRCH),
 * where {@code nsenter} forks it and then mirrors its stops and its end.
 */
final class DeadTaskStandIn implements AutoCloseable {
    /** No exit status known (a kernel before 6.15): the stand-in is killed. */
    static final int NO_STATUS = -1;

    /** The process cryo spawned and reaps (nsenter in a pid namespace, else the stand-in itself). */
    private final Pid spawned;
    private final Pid pid;
    private final int status;

    private DeadTaskStandIn(Pid spawned, Pid pid, int status) {
        this.spawned = spawned;
        this.pid = pid;
        this.status = status;
    }

    /**
     * Starts one ending with wait status {@code status} ({@link #NO_STATUS}: SIGKILL), stopped until
     * {@link #close}, in the pid namespace of task {@code holder} (null: cryo's).
     */
    static DeadTaskStandIn start(int status, Pid holder) {
        WaitStatus w = new WaitStatus(0, status);
        // no core file whatever the signal; a status with the core-dump bit is refused at dump
        String end = status == NO_STATUS ? "kill -9 $$" : w.exited() ? "exit " + w.exitCode() : "kill -" + (status & 0x7f) + " $$";
        String script = "ulimit -c 0; kill -STOP $$; " + end;
        Pid p = Spawner.spawn("/bin/sh", holder == null ? List.of("sh", "-c", script)
                : List.of("sh", "-c", "ulimit -c 0; exec nsenter --pid=/proc/" + holder + "/ns/pid -- /bin/sh -c \"$0\"",
                script), List.of("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), false);
        long deadline = System.nanoTime() + 10_000_000_000L;
        try {
            while (ProcFs.stat(p).state() != 'T') { // nsenter stops once its child has
                if (System.nanoTime() > deadline) {
                    throw new RestoreException("the stand-in for a reaped task a pidfd refers to (pid " + p
                            + ") did not stop within 10 s");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(200_000);
            }
        } catch (KernelException | RestoreException e) {
            Sys.kill(p, Signals.SIGKILL);
            Sys.wait4(p.value(), 0);
            throw e instanceof RestoreException r ? r : new RestoreException("the stand-in for a reaped task died at start: "
                    + e.getMessage(), e);
        }
        if (holder == null) {
            return new DeadTaskStandIn(p, p, status);
        }
        List<Pid> forked = ProcFs.children(p);
        if (forked.size() != 1) {
            Sys.kill(p, Signals.SIGKILL);
            Sys.wait4(p.value(), 0);
            throw new RestoreException("the stand-in for a reaped task a pidfd of pid " + holder + " refers to: nsenter "
                    + p + " has " + forked.size() + " children, not 1");
        }
        return new DeadTaskStandIn(p, forked.get(0), status);
    }

    /** Its pid in cryo's pid namespace. */
    Pid pid() {
        return pid;
    }

    /** Lets it end as the task did, and reaps it; the pidfds opened meanwhile keep its exit status. */
    @Override
    public void close() {
        Sys.kill(spawned, Signals.SIGCONT); // nsenter continues its child, and ends as it does
        WaitStatus got = Sys.wait4(spawned.value(), 0);
        if (status != NO_STATUS && (got.raw() & 0xffff) != status) {
            throw new RestoreException("the stand-in for a reaped task a pidfd refers to ended with wait status 0x"
                    + Integer.toHexString(got.raw()) + ", not 0x" + Integer.toHexString(status));
        }
    }
}
