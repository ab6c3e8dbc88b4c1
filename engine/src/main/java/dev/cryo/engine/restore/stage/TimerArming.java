package dev.cryo.engine.restore.stage;

import dev.cryo.engine.timing.SleepHandler;
import dev.cryo.engine.timing.TimersHandler;

/**
 * The very end of a task's injected calls: POSIX and interval timers armed, then interrupted
 * relative sleeps re-armed with the time they had left (both count from now, so they go as late
 * as possible). Every signal of every thread is blocked first, through ptrace, and the dumped
 * masks go back in {@link RegisterInstall} after the last injected call: a timer that fires
 * before the tree resumes leaves its signal pending, with its siginfo, for the program to take
 * once it runs, instead of stopping an injected call (which would cost the signal its siginfo).
 */
public final class TimerArming implements StateStage {
    private static final long ALL_SIGNALS = -1L;

    @Override
    public String name() {
        return "timers (arm)";
    }

    @Override
    public void run(TaskContext t) {
        t.task().threads().forEach(th -> t.tracer().setSigmask(th.tid(), ALL_SIGNALS));
        TimersHandler.arm(t);
        SleepHandler.rearm(t);
    }
}
