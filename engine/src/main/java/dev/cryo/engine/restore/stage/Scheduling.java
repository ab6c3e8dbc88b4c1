package dev.cryo.engine.restore.stage;

import dev.cryo.engine.timing.SchedHandler;

/**
 * Policy, priority, nice, affinity and I/O priority of every thread, and oom_score_adj; set from
 * outside, after the registers: no injected call follows (a SCHED_IDLE task's would crawl on a busy
 * host), and the stub's SCHED_FIFO lift, dropped here, served every round trip of the STATE stage.
 */
public final class Scheduling implements StateStage {
    @Override
    public String name() {
        return "scheduling";
    }

    @Override
    public void run(TaskContext t) {
        SchedHandler.dropLift(t); // first: the stub's own policy, slice and slack are what restore compares with
        SchedHandler.restore(t);
    }
}
