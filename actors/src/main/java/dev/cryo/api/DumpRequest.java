package dev.cryo.api;

import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.kernel.Pid;

import java.nio.file.Path;

/**
 * Dump the tree rooted at {@code pid} into {@code imageDir}. Like {@code criu dump}, the tree is
 * killed once the image is complete unless {@code leaveRunning}; {@code shellJob} takes the
 * controlling terminal along. {@code progress} is polled by progress bars.
 */
public record DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress) {
    public static DumpRequest of(int pid, Path imageDir) {
        return new DumpRequest(Pid.of(pid), imageDir, false, false, new DumpProgress());
    }

    public DumpRequest leavingRunning(boolean leave) {
        return new DumpRequest(pid, imageDir, leave, shellJob, progress);
    }

    public DumpRequest withShellJob(boolean shell) {
        return new DumpRequest(pid, imageDir, leaveRunning, shell, progress);
    }
}
