package dev.cryo.engine.timing;

import dev.cryo.kernel.Sched;

/**
 * The calling thread of cryo at SCHED_FIFO while a tree waits frozen for its ptrace round trips
 * (the tracer's side of {@code cryo.dump.freeze-rt-priority} and {@code cryo.restore.rt-priority},
 * which lift the tracee's). A round trip wakes the tracee, then the tracer when the tracee stops:
 * the tracee, real-time, runs at once, but the tracer under a fair policy waited for a CPU each
 * time (a migration's steps on a loaded host). Reset on fork, so no thread this one starts keeps
 * it; put back with sched_setscheduler, which keeps the thread's nice (FreezePriority's). Best
 * effort: where a real-time policy is refused the thread runs as it was.
 */
public final class ThreadLift implements AutoCloseable {
    private final int tid;
    private final Sched.Attr from;
    private boolean dropped;

    private ThreadLift(int tid, Sched.Attr from) {
        this.tid = tid;
        this.from = from;
    }

    /** The calling thread at SCHED_FIFO {@code priority}; null when not lifted (0, already real-time, refused). */
    public static ThreadLift ofThisThread(int priority) {
        if (priority <= 0) {
            return null;
        }
        try {
            int tid = ownTid();
            Sched.Attr a = Sched.getattr(tid);
            if (!Sched.fair(a.policy())) {
                return null;
            }
            Sched.setScheduler(tid, Sched.SCHED_FIFO, priority, true);
            return new ThreadLift(tid, a);
        } catch (RuntimeException e) {
            return null; // it waits its turn as before
        }
    }

    /** /proc/thread-self names the calling thread ("PID/task/TID") without a native call of its own. */
    private static int ownTid() {
        try {
            String self = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self")).toString();
            return Integer.parseInt(self.substring(self.lastIndexOf('/') + 1));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The thread back to its own policy (from any thread; once). */
    @Override
    public synchronized void close() {
        if (dropped) {
            return;
        }
        dropped = true;
        try {
            Sched.setScheduler(tid, from.policy(), from.priority(), (from.flags() & Sched.FLAG_RESET_ON_FORK) != 0);
        } catch (RuntimeException e) {
            // the thread ended meanwhile: nothing to put back
        }
    }
}
