package dev.cryo.engine.memory;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

/** {@code [vsyscall]}: at a fixed address in every process, unreadable; nothing to carry. */
public final class Vsyscall extends MemoryKind {
    Vsyscall(int id) {
        super(id, "VSYSCALL");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.isVsyscall();
    }

    @Override
    public boolean kernelProvided() {
        return true;
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {}

    @Override
    public void protect(TaskContext t, VmaImage v) {}
}
