package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What every restore stage of one task works with: the tracer (on its own thread), the task's
 * image, the bootstrap area, and the injector of the main thread once the stub is adopted; plus
 * the small helpers every stage needs (inject a call, open a path, put bytes in scratch memory).
 */
public final class TaskContext {
    private final Tracer tracer;
    private final TaskImage task;
    private final Pid pid;
    private final BootstrapArea boot;
    private final Set<Integer> treePids;
    private final List<Integer> forked = new ArrayList<>();
    private Injector main;
    private final java.util.Map<Integer, dev.cryo.kernel.ptrace.Registers> resumeFrames = new java.util.HashMap<>();

    /** {@code treePids}: every pid of the image; groups and sessions led from outside it are not recreated. */
    public TaskContext(Tracer tracer, TaskImage task, BootstrapArea boot, Set<Integer> treePids) {
        this.tracer = tracer;
        this.task = task;
        this.pid = Pid.of(task.pid());
        this.boot = boot;
        this.treePids = Set.copyOf(treePids);
    }

    private dev.cryo.engine.restore.PreparedRoot prepared;

    /** The stub was prepared while a migration's pre-copy arrived (null: a plain stub). */
    public dev.cryo.engine.restore.PreparedRoot prepared() {
        return prepared;
    }

    public void prepared(dev.cryo.engine.restore.PreparedRoot p) {
        this.prepared = p;
    }

    public Tracer tracer() {
        return tracer;
    }

    public TaskImage task() {
        return task;
    }

    public Pid pid() {
        return pid;
    }

    public BootstrapArea boot() {
        return boot;
    }

    public Set<Integer> treePids() {
        return treePids;
    }

    /** The main thread's injector; set by {@link StubAdoption}. */
    public Injector main() {
        if (main == null) {
            throw new IllegalStateException("pid " + pid + " is not adopted yet");
        }
        return main;
    }

    void main(Injector injector) {
        this.main = injector;
    }

    /** The injector of one thread of the task (the main one, or a fresh one through the bootstrap gadget). */
    public Injector injector(int tid) {
        return tid == pid.value() ? main() : new Injector(tracer, pid, tid, boot.gadget());
    }

    /**
     * Sets the frame a thread resumes with, instead of its dumped registers run through
     * {@link RegisterInstall#resumeFrame} (a stage that re-created a syscall's kernel state).
     */
    public void resumeWith(int tid, dev.cryo.kernel.ptrace.Registers frame) {
        resumeFrames.put(tid, frame);
    }

    /** The frame set by {@link #resumeWith}, or null. */
    public dev.cryo.kernel.ptrace.Registers resumeFrame(int tid) {
        return resumeFrames.get(tid);
    }

    /** Pids forked by this task so far: a failure kills them too. */
    public List<Integer> forked() {
        return forked;
    }

    /** A syscall injected into the main thread; failures throw with the call named. */
    public long call(String name, int nr, long... args) {
        return main().call(name, nr, args);
    }

    /** openat(AT_FDCWD, path, flags) in the task; returns the fd. */
    public long open(String path, int flags) {
        long at = put(RemoteWriter.cString(path));
        return call("open(" + path + ")", dev.cryo.kernel.SyscallNr.OPENAT, -100, at, flags, 0);
    }

    /** Copies bytes to the start of the bootstrap data area and returns their address in the task. */
    public long put(byte[] data) {
        return put(0, data);
    }

    /** Copies bytes at {@code offset} into the bootstrap data area (for calls that take several buffers). */
    public long put(long offset, byte[] data) {
        if (offset < 0 || offset + data.length > BootstrapArea.DATA_SIZE) {
            throw new IllegalArgumentException(data.length + " bytes at +" + offset
                    + " do not fit the bootstrap data area");
        }
        Sys.write(pid, boot.data() + offset, data);
        return boot.data() + offset;
    }

    /** A NUL-terminated string in the bootstrap data area. */
    public long putString(String s) {
        return put(RemoteWriter.cString(s));
    }
}
