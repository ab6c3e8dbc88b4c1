package dev.cryo.api;

import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.files.SocketDumpState;
import dev.cryo.kernel.Pid;

import java.nio.file.Path;

/**
 * Dump the tree rooted at {@code pid} into {@code imageDir}. Like {@code criu dump}, the tree is
 * killed once the image is complete unless {@code leaveRunning}; {@code shellJob} takes the
 * controlling terminal along. {@code progress} is polled by progress bars. {@code preCopy}: copy
 * memory in rounds while the tree runs and freeze it only for what changed since.
 * {@code sockets}: which sockets may be dumped (established TCP connections, unix peers outside the tree).
 * {@code leaveStopped}: like CRIU's --leave-stopped, the tree is neither killed nor resumed but left
 * stopped (SIGSTOP), for the user to SIGCONT or kill.
 * {@code hooks}: what the caller runs at the dump's fixed points (CRIU's action scripts).
 * {@code iteration}: CRIU's pre-dump and the dump after it ({@link Iteration}).
 * {@code externalMounts}: CRIU's {@code --external mnt[POINT]:NAME}, point → name
 * ({@link dev.cryo.engine.namespaces.ExternalMounts}).
 */
public record DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress,
                          boolean preCopy, SocketDumpState.Options sockets, boolean leaveStopped, StageHooks hooks,
                          Iteration iteration, java.util.Map<String, String> externalMounts) {
    public DumpRequest {
        hooks = hooks == null ? StageHooks.NONE : hooks;
        iteration = iteration == null ? Iteration.NONE : iteration;
        preCopy = preCopy || iteration.any();
        externalMounts = externalMounts == null ? java.util.Map.of() : java.util.Map.copyOf(externalMounts);
    }

    public DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress,
                       boolean preCopy, SocketDumpState.Options sockets, boolean leaveStopped, StageHooks hooks,
                       Iteration iteration) {
        this(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, leaveStopped, hooks, iteration, null);
    }

    public DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress,
                       boolean preCopy, SocketDumpState.Options sockets, boolean leaveStopped, StageHooks hooks) {
        this(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, leaveStopped, hooks, null);
    }

    public DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress,
                       boolean preCopy, SocketDumpState.Options sockets, boolean leaveStopped) {
        this(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, leaveStopped, null);
    }

    public DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress,
                       boolean preCopy, SocketDumpState.Options sockets) {
        this(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, false);
    }

    public DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress) {
        this(pid, imageDir, leaveRunning, shellJob, progress, false);
    }

    public DumpRequest(Pid pid, Path imageDir, boolean leaveRunning, boolean shellJob, DumpProgress progress,
                       boolean preCopy) {
        this(pid, imageDir, leaveRunning, shellJob, progress, preCopy, SocketDumpState.Options.NONE);
    }

    public static DumpRequest of(int pid, Path imageDir) {
        return new DumpRequest(Pid.of(pid), imageDir, false, false, new DumpProgress());
    }

    public DumpRequest leavingRunning(boolean leave) {
        return new DumpRequest(pid, imageDir, leave, shellJob, progress, preCopy, sockets, leaveStopped, hooks, iteration, externalMounts);
    }

    public DumpRequest withShellJob(boolean shell) {
        return new DumpRequest(pid, imageDir, leaveRunning, shell, progress, preCopy, sockets, leaveStopped, hooks, iteration, externalMounts);
    }

    public DumpRequest withPreCopy(boolean pre) {
        return new DumpRequest(pid, imageDir, leaveRunning, shellJob, progress, pre, sockets, leaveStopped, hooks, iteration, externalMounts);
    }

    /** CRIU's --tcp-established, --tcp-close and --ext-unix-sk. */
    public DumpRequest withSockets(SocketDumpState.Options options) {
        return new DumpRequest(pid, imageDir, leaveRunning, shellJob, progress, preCopy, options, leaveStopped, hooks, iteration, externalMounts);
    }

    public DumpRequest leavingStopped(boolean stopped) {
        return new DumpRequest(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, stopped, hooks, iteration, externalMounts);
    }

    public DumpRequest withHooks(StageHooks h) {
        return new DumpRequest(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, leaveStopped, h, iteration, externalMounts);
    }

    public DumpRequest withIteration(Iteration i) {
        return new DumpRequest(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, leaveStopped, hooks, i, externalMounts);
    }

    public DumpRequest namingMounts(java.util.Map<String, String> names) {
        return new DumpRequest(pid, imageDir, leaveRunning, shellJob, progress, preCopy, sockets, leaveStopped, hooks, iteration, names);
    }

    /** Whether the tree outlives the dump (running or stopped). */
    public boolean keepsTree() {
        return leaveRunning || leaveStopped;
    }
}
