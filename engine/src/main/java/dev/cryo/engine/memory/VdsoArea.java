package dev.cryo.engine.memory;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

/**
 * One area of the vDSO block ({@code [vvar]}, {@code [vvar_vclock]}, {@code [vdso]}): the kernel
 * provides it at exec; restore moves the stub's block to the dumped place, never copies pages.
 */
public final class VdsoArea extends MemoryKind {
    private final String path;

    VdsoArea(int id, String name, String path) {
        super(id, name);
        this.path = path;
    }

    /** The name of the area in maps. */
    public String path() {
        return path;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.path().equals(path);
    }

    @Override
    public boolean kernelProvided() {
        return true;
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        // moved as a block by VdsoMove
    }

    @Override
    public void protect(TaskContext t, VmaImage v) {}
}
