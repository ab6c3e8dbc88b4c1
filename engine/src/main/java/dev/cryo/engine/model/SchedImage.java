package dev.cryo.engine.model;

/**
 * Scheduling state of one thread (all of it is per thread on Linux): sched_attr (policy, flags such
 * as reset-on-fork, nice, static priority, SCHED_DEADLINE runtime/deadline/period, utilization
 * clamps), CPU affinity as 64-bit mask words, and the I/O priority ((class << 13) | level, 0 when
 * never set), and its timer slack (the grace the kernel may add to its timers and sleeps, in ns).
 */
public record SchedImage(int policy, long flags, int nice, int priority, long runtime, long deadline, long period,
                         int utilMin, int utilMax, long[] affinity, int ioprio,
                         long timerSlackNs) {
    public SchedImage {
        affinity = affinity.clone();
    }

    @Override
    public long[] affinity() {
        return affinity.clone();
    }
}
