package dev.cryo.engine.memory;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.io.IOException;

/**
 * Shared memory: MAP_SHARED|MAP_ANONYMOUS, a shared mapping of /dev/zero (the kernel makes both
 * the same shmem object, "/dev/zero (deleted)"), or of a memfd. The object's inode tells which
 * mappings of which tasks are the same memory; its pages are carried once per object, by page
 * offset, whichever task's window shows them; restore maps one object that every task shares.
 */
public class SharedMemory extends MemoryKind {
    SharedMemory(int id) {
        this(id, "SHARED_ANON");
    }

    /** For kinds of shared memory made again otherwise ({@link HugetlbSharedMemory}). */
    SharedMemory(int id, String name) {
        super(id, name);
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.shared() && (m.isAnonymous() || m.path().equals("/dev/zero") || m.path().startsWith("/memfd:"));
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        check(pid, m, s, java.util.List.of());
    }

    /**
     * A memfd's seals come back from the mapping ({@link #seals}), also when no fd holds it (memfd_seals3: it
     * came back unsealed), but for a memfd of huge pages, whose seals are taken from its fds only, and
     * which is refused when sealed against writing (its areas are not mapped again read-only, {@link #protect}).
     */
    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s, java.util.Collection<Integer> tree) {
        int seals = memfdSeals(pid, m);
        if (seals < 0) {
            return; // not a memfd, unmapped meanwhile, or not one cryo may read: carried as before
        }
        String where = "pid " + pid + " maps " + m.path() + " at 0x" + Long.toHexString(m.start()) + "-0x"
                + Long.toHexString(m.end());
        if (this instanceof HugetlbSharedMemory && (seals & Fcntl.F_SEALS_AGAINST_WRITING) != 0) {
            throw new DumpException(where + ", a memfd of huge pages sealed against " + ((seals & Fcntl.F_SEAL_WRITE) != 0
                    ? "writing (F_SEAL_WRITE)" : "future writes (F_SEAL_FUTURE_WRITE)") + ": the restore maps it"
                    + " writable to put its pages back and maps huge pages read-only again only for other memfds;"
                    + " not supported yet");
        }
        if (this instanceof HugetlbSharedMemory && seals != Fcntl.F_SEAL_SEAL && !HugetlbMemfdPrivate.heldByFd(pid, m.inode())
                && tree.stream().noneMatch(p -> p != pid.value() && HugetlbMemfdPrivate.heldByFd(Pid.of(p), m.inode()))) {
            throw new DumpException(where + ", a memfd of huge pages whose seals (0x" + Integer.toHexString(seals)
                    + (seals == 0 ? ": sealing allowed, none set" : "") + ") no fd of the tree holds: the restore takes"
                    + " such a memfd's seals from its fds and would make it unsealed; not supported yet");
        }
    }

    /** A memfd's seals (F_GET_SEALS through the mapped file), or -1 for other shared memory. */
    private static int memfdSeals(Pid pid, MapsEntry m) {
        if (!m.path().startsWith("/memfd:")) {
            return -1;
        }
        try (dev.cryo.kernel.Fd f = dev.cryo.kernel.Sys.open(PageScan.mapFile(pid, m).toString(), Fcntl.O_RDONLY)) {
            return (int) dev.cryo.kernel.Sys.call(() -> "fcntl(" + m.path() + ", F_GET_SEALS)",
                    dev.cryo.kernel.SyscallNr.FCNTL, f.value(), Fcntl.F_GET_SEALS, 0, 0);
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** A memfd's seals, made again from the mapping when no fd holds it (SharedMemoryHub.of). */
    @Override
    public int seals(Pid pid, MapsEntry m) {
        return this instanceof HugetlbSharedMemory ? -1 : memfdSeals(pid, m);
    }

    @Override
    public FileRef file(Pid pid, MapsEntry m, dev.cryo.engine.dump.GhostFiles ghosts) {
        try {
            return FileIdentity.of(m.path(), PageScan.mapFile(pid, m));
        } catch (IOException e) {
            throw new DumpException("pid " + pid + ": cannot stat the shared memory mapped at 0x"
                    + Long.toHexString(m.start()) + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void planPages(PageScan scan) {
        scan.sharedObjectPages(scan.file().ino());
    }

    @Override
    public boolean checksFile() {
        return false;
    }

    /** Its pages outside every area too: the object lives on in the kernel whatever the areas show of it. */
    @Override
    public boolean objectCarriedWhole() {
        return true;
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        if (readOnlyForGood(v)) {
            t.noteArea(v.start(), shared.path(v.file().ino()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        int own = shared.memfdFd(v.file().ino());
        if (own >= 0) {
            // a memfd is mapped from its own file, as memfd_create gave it: the file of a reopen through
            // /proc counts as a writer for as long as the area lives, and execveat of the memfd would fail
            mapOwn(t, v, own, Mapper.writable(v), "");
            return;
        }
        Mapper.mapFile(t, v, shared.path(v.file().ino()), Fcntl.O_RDWR, Mapper.writable(v));
    }

    /**
     * A memfd area that can never be made writable (no VM_MAYWRITE): mapped writable for its pages, which live in
     * the memfd, then mapped again over itself from a read-only open with its own protection, so it has no
     * VM_MAYWRITE either, and mprotect refuses PROT_WRITE as it did. Mapped from a read-only open (no VM_SHARED
     * either, zdtm's memfd_seals2), it stays so; mapped after a write seal from a file open for writing (Wayland,
     * pipewire, systemd map sealed memfds so: VM_SHARED kept), it is mapped once more from the memfd's own file
     * once the memfd is sealed again ({@link #mapSealed}): F_SEAL_WRITE takes only while no area may write.
     * The mmap drops the area's advice: given again.
     */
    @Override
    public void protect(TaskContext t, VmaImage v) {
        byte[] at = readOnlyForGood(v) ? t.areaNote(v.start()) : null;
        if (at == null) {
            super.protect(t, v);
            return;
        }
        Mapper.mapFile(t, v, new String(at, java.nio.charset.StandardCharsets.UTF_8), Fcntl.O_RDONLY, v.prot());
        VmAdvice.adviseBeforePages(t, v);
    }

    /** Locks and seals (mseal) wait for {@link #mapSealed} on an area mapped once more then. */
    @Override
    public boolean locksAfterProtect(VmaImage v) {
        return !mappedOnceSealed(v);
    }

    /**
     * Once the memfd has its seals against writing again (SharedMemoryHub#sealAgainstWriting, before the FILES
     * stage): an area mapped after such a seal from a file open for writing is mapped again from the memfd's own
     * file, read-only: the kernel takes VM_MAYWRITE away and keeps VM_SHARED, as it did.
     */
    @Override
    public void mapSealed(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        if (!mappedOnceSealed(v)) {
            return;
        }
        int own = shared.memfdFd(v.file().ino());
        if (own < 0) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + ": the memfd " + v.file().path()
                    + " mapped at 0x" + Long.toHexString(v.start()) + " was not made by this restore");
        }
        mapOwn(t, v, own, v.prot(), ", sealed");
        VmAdvice.adviseBeforePages(t, v);
        VmAdvice.lockAfterProtect(t, v);
    }

    /** Maps {@code v} from the memfd's own file (cryo's fd {@code own}, taken into the task for the call). */
    private static void mapOwn(TaskContext t, VmaImage v, int own, int prot, String how) {
        long fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), own);
        t.call("mmap(" + v.file().path() + how + ")", dev.cryo.kernel.SyscallNr.MMAP, v.start(), v.end() - v.start(),
                prot, Mapper.flags(v), fd, v.offset());
        t.call("close", dev.cryo.kernel.SyscallNr.CLOSE, fd);
    }

    private boolean readOnlyForGood(VmaImage v) {
        return !(this instanceof HugetlbSharedMemory) && v.file() != null && v.file().path().startsWith("/memfd:")
                && (v.prot() & VmaImage.PROT_WRITE) == 0 && (v.advice() & VmAdvice.MAYWRITE) == 0;
    }

    /** VM_SHARED without VM_MAYWRITE: mapped after a seal against writing (an image made before such areas were carried has neither bit: as before). */
    private boolean mappedOnceSealed(VmaImage v) {
        return readOnlyForGood(v) && (v.advice() & VmAdvice.READ_ONLY_FILE) == 0 && v.seals() > 0
                && (v.seals() & Fcntl.F_SEALS_AGAINST_WRITING) != 0;
    }
}
