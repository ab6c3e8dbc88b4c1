package dev.cryo.engine.files;

/**
 * Stand-ins at the very pids of processes that had exited, for the /proc files (and a cwd) of them a
 * task holds, while its files are restored: each ends at {@link #close}, once every fd of the task is
 * in place. The stand-ins of reaped tasks its pidfds refer to are the restore's ({@link DeadTaskHub}).
 */
public final class DeadTaskStandIns implements AutoCloseable {
    private final SenderStandIns atPids = new SenderStandIns();

    /**
     * A live process at {@code pid} as {@code holder} sees it (in its pid namespace, a container's)
     * until {@link #close}; {@code what} (a /proc file, a cwd) names it in errors.
     */
    public void atPid(dev.cryo.kernel.Pid holder, int pid, String what) {
        atPid(holder, pid, what, null);
    }

    /** As above, with the owner of process {@code as} (null: root), which a /proc file opened on it takes. */
    public void atPid(dev.cryo.kernel.Pid holder, int pid, String what, OutsideProcess as) {
        atPids.at(holder, pid, what + " is of pid " + pid, as);
    }

    @Override
    public void close() {
        atPids.close();
    }
}
