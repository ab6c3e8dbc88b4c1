package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.model.VmaKind;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

/**
 * MEMORY: unmaps the stub, moves the vDSO block and maps every dumped VMA writable; page
 * contents are written by others in between {@link #map} and {@link #protect}, which sets the
 * final protections.
 */
public final class MemoryMapping {
    private static final int MAP_ANONYMOUS = 0x20, MAP_FIXED = 0x10, MAP_GROWSDOWN = 0x100, MAP_NORESERVE = 0x4000;
    private static final int PROT_WRITE = 2;
    private static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 02000000;

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
            if (v.kind().isVdsoBlock() || v.kind() == VmaKind.VSYSCALL) {
                continue;
            }
            mapVma(t, v, shared);
        }
    }

    private static void mapVma(TaskContext t, VmaImage v, SharedMemoryHub sharedMemory) {
        long len = v.end() - v.start();
        // mappings whose pages cryo writes get PROT_WRITE until then; shared files keep theirs
        int prot = v.kind() == VmaKind.FILE_SHARED ? v.prot() : v.prot() | PROT_WRITE;
        int flags = (v.flags() & (VmaImage.MAP_SHARED | VmaImage.MAP_PRIVATE)) | MAP_FIXED;
        if ((v.flags() & VmaImage.MAP_GROWSDOWN) != 0) {
            flags |= MAP_GROWSDOWN;
        }
        if (v.prot() == 0) {
            flags |= MAP_NORESERVE;
        }
        if (v.kind() == VmaKind.SHARED_ANON) {
            long fd = t.open(sharedMemory.path(v.file().ino()), O_RDWR | O_CLOEXEC);
            try {
                t.call("mmap(shared memory)", SyscallNr.MMAP, v.start(), len, prot, flags, fd, v.offset());
            } finally {
                t.call("close", SyscallNr.CLOSE, fd);
            }
            return;
        }
        if (v.file() == null) {
            t.call("mmap(0x" + Long.toHexString(v.start()) + ")", SyscallNr.MMAP, v.start(), len, prot,
                    flags | MAP_ANONYMOUS, -1, 0);
            return;
        }
        int mode = v.kind() == VmaKind.FILE_SHARED && (v.prot() & PROT_WRITE) != 0 ? O_RDWR : O_RDONLY;
        long fd = t.open(v.file().path(), mode | O_CLOEXEC);
        try {
            t.call("mmap(" + v.file().path() + ")", SyscallNr.MMAP, v.start(), len, prot, flags, fd, v.offset());
        } finally {
            t.call("close", SyscallNr.CLOSE, fd);
        }
    }

    /** Final protections, once the page writers are done. */
    public static void protect(TaskContext t) {
        for (VmaImage v : t.task().vmas()) {
            if (v.kind().isVdsoBlock() || v.kind() == VmaKind.VSYSCALL) {
                continue;
            }
            if (v.kind() != VmaKind.FILE_SHARED && (v.prot() & PROT_WRITE) == 0) {
                t.call("mprotect", SyscallNr.MPROTECT, v.start(), v.end() - v.start(), v.prot());
            }
        }
    }
}
