package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.FileLocks;
import dev.cryo.engine.model.FdImage;

/**
 * Breaks again each lease that was being broken at dump time ({@link FileLockRestore} took it
 * again), once {@link SignalsHeld} blocks every signal. The break sends no signal (the holder had
 * it before the dump), so none stops an injected call or reaches the program a second time.
 */
public final class LeaseBreaks implements StateStage {
    @Override
    public String name() {
        return "lease breaks";
    }

    @Override
    public void run(TaskContext t) {
        for (FdImage fd : t.task().fds()) {
            for (FileLocks.Lock l : FileLocks.of(fd.desc())) {
                if (l.kind() == FileLocks.LEASE_BREAKING) {
                    FileLockRestore.breakAgain(t, fd, l);
                }
            }
        }
    }
}
