package dev.cryo.engine.files;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The stand-ins of the reaped tasks a task's pidfds refer to while its files are restored: one per
 * dead task (pidfs inode), so pidfds opened apart on one task share it again; each ends as its task
 * had and is reaped at {@link #close}, once every fd of the task is in place.
 */
public final class DeadTaskStandIns implements AutoCloseable {
    private final Map<Long, DeadTaskStandIn> live = new LinkedHashMap<>();
    /** Stand-ins at the very pids of processes that had exited, for their /proc files. */
    private final SenderStandIns atPids = new SenderStandIns();

    /**
     * A live process at {@code pid} as {@code holder} sees it (in its pid namespace, a container's)
     * until {@link #close}; {@code what} (a /proc file, a cwd) names it in errors.
     */
    public void atPid(dev.cryo.kernel.Pid holder, int pid, String what) {
        atPids.at(holder, pid, what + " is of pid " + pid);
    }

    /** The pid of the stand-in for pidfs inode {@code ino}, started on the first ask. */
    public int of(long ino, int status) {
        return live.computeIfAbsent(ino, k -> DeadTaskStandIn.start(status)).pid().value();
    }

    @Override
    public void close() {
        RuntimeException first = null;
        try {
            atPids.close();
        } catch (RuntimeException e) {
            first = e;
        }
        for (DeadTaskStandIn s : live.values()) {
            try {
                s.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        live.clear();
        if (first != null) {
            throw first;
        }
    }
}
