package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.PidFdHandler;

/** pidfds of the task's own threads (PIDFD_THREAD), once the threads exist: FILES runs before they are made. */
public final class ThreadPidFds implements StateStage {
    @Override
    public String name() {
        return "thread pidfds";
    }

    @Override
    public void run(TaskContext t) {
        PidFdHandler.reopenThreadPidfds(t);
    }
}
