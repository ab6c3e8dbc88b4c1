package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.FdImage;

import java.util.HashSet;
import java.util.Set;

/**
 * Signal owners (F_SETOWN_EX with F_OWNER_TID) that are one of the task's own threads, once the
 * threads exist: FILES runs before they are made, and the kernel takes only a live tid.
 */
public final class ThreadSignalOwners implements StateStage {
    @Override
    public String name() {
        return "thread signal owners";
    }

    @Override
    public void run(TaskContext t) {
        Set<Integer> done = new HashSet<>();
        for (FdImage fd : t.task().fds()) {
            if (fd.owner() != null && FileRestore.ownedByLaterThread(t, fd.owner()) && done.add(fd.fd())) {
                FileRestore.setOwner(t, fd.fd(), fd.owner());
            }
        }
    }
}
