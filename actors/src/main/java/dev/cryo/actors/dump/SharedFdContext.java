package dev.cryo.actors.dump;

import dev.cryo.engine.files.FdHandler;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The fd state all task dumpers of one dump share (they run in parallel). */
final class SharedFdContext implements FdHandler.DumpContext {
    private final Set<Long> pipesWithData = ConcurrentHashMap.newKeySet();
    private final boolean shellJob;

    SharedFdContext(boolean shellJob) {
        this.shellJob = shellJob;
    }

    @Override
    public boolean claimPipeData(long pipeId) {
        return pipesWithData.add(pipeId);
    }

    @Override
    public boolean shellJob() {
        return shellJob;
    }
}
