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

    /** F_SEAL_WRITE, F_SEAL_FUTURE_WRITE (fcntl.h). */
    private static final int F_SEAL_WRITE = 0x8, F_SEAL_FUTURE_WRITE = 0x10;

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        check(pid, m, s, java.util.List.of());
    }

    /**
     * A memfd sealed against writing (F_SEAL_WRITE) cannot be sealed so again: its mapping is made
     * writable to take its pages, and the kernel refuses the seal while one may write (EBUSY): the
     * restore failed after the dump had killed the tree (zdtmf42's memfd_seals2); one sealed against
     * future writes would come back mapped with write allowed. Its other seals come back from the
     * mapping ({@link #seals}), also when no fd holds it (memfd_seals3: it came back unsealed), but for a
     * memfd of huge pages, whose seals are taken from its fds only.
     */
    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s, java.util.Collection<Integer> tree) {
        int seals = memfdSeals(pid, m);
        if (seals < 0) {
            return; // not a memfd, unmapped meanwhile, or not one cryo may read: carried as before
        }
        String where = "pid " + pid + " maps " + m.path() + " at 0x" + Long.toHexString(m.start()) + "-0x"
                + Long.toHexString(m.end());
        if ((seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0) {
            throw new DumpException(where + ", a memfd sealed against " + ((seals & F_SEAL_WRITE) != 0 ? "writing"
                    + " (F_SEAL_WRITE): the restore maps it writable to put its pages back and the kernel then refuses"
                    + " the seal" : "future writes (F_SEAL_FUTURE_WRITE): the restore maps it writable to put its pages"
                    + " back, and the mapping would then allow writing") + "; not supported yet");
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

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        int own = shared.memfdFd(v.file().ino());
        if (own >= 0) {
            // a memfd is mapped from its own file, as memfd_create gave it: the file of a reopen through
            // /proc counts as a writer for as long as the area lives, and execveat of the memfd would fail
            long fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), own);
            t.call("mmap(" + v.file().path() + ")", dev.cryo.kernel.SyscallNr.MMAP, v.start(), v.end() - v.start(),
                    Mapper.writable(v), Mapper.flags(v), fd, v.offset());
            t.call("close", dev.cryo.kernel.SyscallNr.CLOSE, fd);
            return;
        }
        Mapper.mapFile(t, v, shared.path(v.file().ino()), Fcntl.O_RDWR, Mapper.writable(v));
    }
}
