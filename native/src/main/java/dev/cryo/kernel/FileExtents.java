package dev.cryo.kernel;

import com.sun.jna.Native;

import java.util.ArrayList;
import java.util.List;

/**
 * Where a file holds data, by lseek(SEEK_DATA/SEEK_HOLE). On shmem (shared anonymous memory,
 * memfd) a page that was ever touched is data, in memory or swapped out, whichever task touched
 * it: this is how the pages of a shared memory object are found without trusting any one task's
 * page table.
 */
public final class FileExtents {
    private FileExtents() {}

    private static final int SEEK_DATA = 3, SEEK_HOLE = 4;

    /** The data ranges {start, end} (bytes) of {@code fd} within [from, to), in order. */
    public static List<long[]> data(Fd fd, long from, long to) {
        List<long[]> out = new ArrayList<>();
        long at = from;
        while (at < to) {
            long data = LibC.syscall(SyscallNr.LSEEK, fd.value(), at, SEEK_DATA, 0, 0, 0);
            if (data == -1) {
                int errno = Native.getLastError();
                if (errno == Errno.ENXIO) {
                    break; // no data from here to the end of the file
                }
                throw new SyscallException("lseek(" + fd + ", " + at + ", SEEK_DATA)", errno);
            }
            if (data >= to) {
                break;
            }
            final long d = data;
            long hole = Sys.call(() -> "lseek(" + fd + ", " + d + ", SEEK_HOLE)", SyscallNr.LSEEK, fd.value(), data,
                    SEEK_HOLE, 0);
            out.add(new long[]{data, Math.min(hole, to)});
            at = hole;
        }
        return out;
    }
}
