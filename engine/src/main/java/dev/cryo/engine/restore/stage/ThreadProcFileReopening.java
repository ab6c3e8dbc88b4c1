package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.ThreadProcFiles;

/** Files under /proc/PID/task/TID of the task's own threads, once the threads exist: FILES runs before they are made. */
public final class ThreadProcFileReopening implements StateStage {
    @Override
    public String name() {
        return "thread /proc files";
    }

    @Override
    public void run(TaskContext t) {
        ThreadProcFiles.reopen(t);
    }
}
