package dev.cryo.engine.restore.stage;

import dev.cryo.engine.timing.SleepHandler;
import dev.cryo.engine.timing.TimersHandler;

/**
 * The very end of a task's injected calls: POSIX and interval timers armed with every signal
 * blocked, then interrupted relative sleeps re-armed with the time they had left (both count
 * from now, so they go as late as possible).
 */
public final class TimerArming implements StateStage {
    @Override
    public String name() {
        return "timers (arm)";
    }

    @Override
    public void run(TaskContext t) {
        TimersHandler.arm(t);
        SleepHandler.rearm(t);
    }
}
