package dev.cryo.engine.restore.stage;

import dev.cryo.engine.timing.SleepHandler;
import dev.cryo.engine.timing.TimersHandler;

/**
 * The very end of a task's injected calls: POSIX and interval timers armed, timerfds armed again, then interrupted
 * relative sleeps re-armed with the time they had left (both count from now, so they go as late
 * as possible). Every signal is blocked by then ({@link SignalsHeld}): a timer that fires before
 * the tree resumes leaves its signal pending, with its siginfo, for the program to take once it
 * runs.
 */
public final class TimerArming implements StateStage {
    @Override
    public String name() {
        return "timers (arm)";
    }

    @Override
    public void run(TaskContext t) {
        TimersHandler.arm(t);
        dev.cryo.engine.files.TimerFdHandler.rearm(t);
        SleepHandler.rearm(t);
    }
}
