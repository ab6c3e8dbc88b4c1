package dev.cryo.engine.restore.stage;

/**
 * io_uring ring fds registered by the task's threads (IORING_REGISTER_RING_FDS), each at its slot
 * in its thread, once the rings (FILES) and the threads exist.
 */
public final class RegisteredRings implements StateStage {
    @Override
    public String name() {
        return "registered io_uring ring fds";
    }

    @Override
    public void run(TaskContext t) {
        dev.cryo.engine.files.IoUringRingFds.restore(t);
    }
}
