package dev.cryo.engine.restore.stage;

import dev.cryo.engine.timing.TimersHandler;

/** POSIX timers created with their dumped ids, disarmed; before the credentials, since it needs privilege. */
public final class TimerCreation implements StateStage {
    @Override
    public String name() {
        return "timers (create)";
    }

    @Override
    public void run(TaskContext t) {
        TimersHandler.create(t);
    }
}
