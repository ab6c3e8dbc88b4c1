package dev.cryo.engine.restore;

import dev.cryo.engine.model.GhostFile;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.SharedMemoryFile;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.nio.file.Path;

/**
 * A deleted hugetlbfs file made again on its mount (qemu's {@code -mem-path /dev/hugepages}, which
 * unlinks its mkstemp file; DPDK's {@code --huge-unlink}): hugetlbfs has no write(), so the file is
 * sized with ftruncate (whole huge pages, as the program sized it) and its pages that held data are
 * written through a shared mapping of cryo's; those that read zero at the dump stay untouched and
 * take no page from the host's pool.
 */
final class HugetlbfsGhost {
    private HugetlbfsGhost() {}

    /** Makes {@code g} as the new file {@code p}, which must be on a hugetlbfs mount of the ghost's page size. */
    static void create(GhostFile g, Path p) {
        try (Fd fd = Sys.open(p.toString(), Fcntl.O_RDWR | Fcntl.O_CREAT | Fcntl.O_EXCL | Fcntl.O_CLOEXEC, 0600)) {
            fill(fd, g, p.toString());
        } catch (KernelException | RestoreException e) {
            try {
                java.nio.file.Files.deleteIfExists(p);
            } catch (java.io.IOException ignored) {
                // best effort: a stray temporary file
            }
            throw e instanceof RestoreException r ? r : new RestoreException("cannot recreate the deleted hugetlbfs file "
                    + g.file().path() + " as " + p + ": " + e.getMessage());
        }
    }

    /**
     * Sizes the open file {@code fd} ({@code name} in messages) and writes the ghost's data extents into
     * it; refused when it is not on a hugetlbfs mount of the ghost's page size (the mount is gone: the
     * file would come back in small pages).
     */
    static void fill(Fd fd, GhostFile g, String name) {
        long pageBytes = g.hugePageBytes();
        long here = Sys.fsMagic(fd) == Sys.HUGETLBFS_MAGIC ? Sys.fsBlockSize(fd) : 0;
        if (here != pageBytes) {
            throw new RestoreException("the deleted file " + g.file().path() + " was a file of a hugetlbfs mount of "
                    + pageBytes / 1024 + " kB pages, and where the restore makes it again is " + (here == 0
                    ? "no hugetlbfs mount" : "one of " + here / 1024 + " kB pages") + " (mount it there again)");
        }
        long size = g.file().size();
        Sys.call(() -> "ftruncate(" + name + ", " + size + ")", SyscallNr.FTRUNCATE, fd.value(), size, 0, 0);
        try {
            GhostPieces.eachExtent(g, (at, bytes, from, len) -> SharedMemoryFile.writeMapped(fd, name, at, bytes, from, len,
                    pageBytes));
        } catch (java.io.IOException e) {
            throw new RestoreException("cannot read the contents of the deleted file " + g.file().path() + " from the"
                    + " image: " + e.getMessage());
        }
    }
}
