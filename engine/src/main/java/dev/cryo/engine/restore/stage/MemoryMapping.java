package dev.cryo.engine.restore.stage;

import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

/**
 * MEMORY: unmaps the stub, moves the vDSO block and maps every dumped VMA through its kind
 * (writable where cryo writes pages); page contents are written by others in between
 * {@link #map} and {@link #protect}, which sets the final protections.
 */
public final class MemoryMapping {
    private MemoryMapping() {}

    public static void map(TaskContext t, SharedMemoryHub shared) {
        for (MapsEntry m : ProcFs.maps(t.pid())) {
            if (m.isVdso() || m.isVvar() || m.isVsyscall() || m.start() == t.boot().address()) {
                continue;
            }
            t.call("munmap(stub " + m.path() + ")", SyscallNr.MUNMAP, m.start(), m.size());
        }
        VdsoMove.run(t);
        for (VmaImage v : t.task().vmas()) {
            if (!v.kind().kernelProvided()) {
                v.kind().map(t, v, shared);
                VmAdvice.adviseBeforePages(t, v);
            }
        }
    }

    /** Final protections, once the page writers are done. */
    public static void protect(TaskContext t) {
        for (VmaImage v : t.task().vmas()) {
            if (!v.kind().kernelProvided()) {
                v.kind().protect(t, v);
                VmAdvice.lockAfterProtect(t, v);
            }
        }
    }
}
