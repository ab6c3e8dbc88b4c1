package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.FileLocks;
import dev.cryo.engine.model.FdImage;

/**
 * Breaks again each lease that was being broken at dump time ({@link FileLockRestore} took it
 * again), once {@link SignalsHeld} blocks every signal: the break signal then stays pending with
 * its siginfo (the leased fd in si_fd) until the program runs, instead of stopping an injected
 * call, where cryo would keep only its number.
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
                    FileLockRestore.breakAgain(t, fd.fd(), l);
                }
            }
        }
    }
}
