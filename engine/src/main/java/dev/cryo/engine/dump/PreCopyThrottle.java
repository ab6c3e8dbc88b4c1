package dev.cryo.engine.dump;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.ptrace.Tracer;

import java.time.Duration;
import java.util.List;

/**
 * Auto-converge for one task (PreCopyConvergence): while a pre-copy round's pages are copied and
 * sent, the task is stopped {@code dutyPercent} of each period, seized and interrupted as the
 * freeze does (its parent sees no stop: no group stop, no SIGCHLD), and let go for the rest, so it
 * writes that much less for the next round. Called from the task's tracer thread only.
 */
public final class PreCopyThrottle {
    private final Tracer tracer;
    private final Pid pid;
    private final Duration seizeTimeout;
    private final int dutyPercent;
    private List<Integer> stopped = List.of();
    private long stoppedSince;
    private long stoppedNanos;
    private int stops;

    public PreCopyThrottle(Tracer tracer, Pid pid, Duration seizeTimeout, int dutyPercent) {
        this.tracer = tracer;
        this.pid = pid;
        this.seizeTimeout = seizeTimeout;
        this.dutyPercent = dutyPercent;
    }

    /**
     * Stops the task if it runs, lets it go if stopped: the milliseconds until the next call, or -1
     * when it could not be stopped (exiting: the round's copy says) and the throttle is over.
     */
    public long tick() {
        long period = PreCopyConvergence.PERIOD_MILLIS;
        if (!stopped.isEmpty()) {
            letGo();
            return Math.max(1, period * (100 - dutyPercent) / 100);
        }
        try {
            stopped = TaskSeizer.seizeLive(tracer, pid, seizeTimeout);
        } catch (RuntimeException e) {
            return -1;
        }
        stoppedSince = System.nanoTime();
        stops++;
        return Math.max(1, period * dutyPercent / 100);
    }

    public int dutyPercent() {
        return dutyPercent;
    }

    /** Lets the task go if it is stopped: at the round's end, and on any failure. */
    public void end() {
        if (!stopped.isEmpty()) {
            letGo();
        }
    }

    private void letGo() {
        TaskSeizer.release(tracer, pid, stopped);
        stopped = List.of();
        stoppedNanos += System.nanoTime() - stoppedSince;
    }

    /** What it did, for the log: stops and the time stopped. */
    @Override
    public String toString() {
        return stops + " stops, " + stoppedNanos / 1_000_000 + " ms stopped at " + dutyPercent + "%";
    }
}
