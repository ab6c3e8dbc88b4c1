package dev.cryo.engine.restore.stage;

import dev.cryo.engine.timing.SchedHandler;

/** Policy, priority, nice, affinity and I/O priority of every thread, and oom_score_adj; set from outside. */
public final class Scheduling implements StateStage {
    @Override
    public String name() {
        return "scheduling";
    }

    @Override
    public void run(TaskContext t) {
        SchedHandler.restore(t);
    }
}
