package dev.cryo.kernel;

import com.sun.jna.Native;

import java.util.ArrayList;
import java.util.List;

/**
 * Where a file holds data, by lseek(SEEK_DATA/SEEK_HOLE). On shmem (shared anonymous memory,
 * memfd) a page that was ever touched is data, in memory or swapped out, whichever task touched
 * it: this is how the pages of a shared memory object are found without trusting any one task's
 * page table. Hugetlbfs has no such holes: {@link #nonZero} reads its pages instead.
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

    /** The huge page size of a hugetlbfs file (its statfs block size), 0 for any other file. */
    public static long hugePageBytes(Fd fd) {
        return Sys.fsMagic(fd) == Sys.HUGETLBFS_MAGIC ? Sys.fsBlockSize(fd) : 0;
    }

    /**
     * The ranges {start, end} (bytes) of {@code fd} within [from, to) that hold pages: its data
     * ({@link #data}), or for a hugetlbfs file ({@code hugePage} from {@link #hugePageBytes}, not 0)
     * its huge pages that are not all zero ({@link #nonZero}).
     */
    public static List<long[]> held(Fd fd, long from, long to, long hugePage) {
        return hugePage > 0 ? nonZero(fd, from, to, hugePage) : data(fd, from, to);
    }

    private static final long CHUNK = 2 * 1024 * 1024;

    /**
     * The ranges {start, end} (bytes) of {@code fd} within [from, to) made of whole {@code unit}s
     * holding a byte other than zero, in order. For hugetlbfs, where SEEK_DATA calls the whole file
     * data and no page table tells which huge pages exist (the task that touched one may be gone):
     * a read of a huge page never touched gives zeros without taking one from the pool, and a page
     * that reads zero comes back the same untouched.
     */
    public static List<long[]> nonZero(Fd fd, long from, long to, long unit) {
        List<long[]> out = new ArrayList<>();
        long chunk = Math.min(unit, CHUNK);
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect((int) chunk);
        java.nio.ByteBuffer zero = java.nio.ByteBuffer.allocateDirect((int) chunk);
        long address = com.sun.jna.Pointer.nativeValue(Native.getDirectBufferPointer(buf));
        for (long u = from / unit * unit; u < to; u += unit) {
            boolean data = false;
            for (long at = Math.max(u, from); at < Math.min(u + unit, to) && !data; at += chunk) {
                long n = Math.min(chunk, to - at);
                final long off = at;
                long got = Sys.call(() -> "pread(" + fd + ", " + off + ")", SyscallNr.PREAD64, fd.value(), address, n, at);
                buf.clear().limit((int) got);
                zero.clear().limit((int) got);
                data = buf.mismatch(zero) >= 0;
                if (got < n) {
                    break; // the end of the file
                }
            }
            if (!data) {
                continue;
            }
            long start = Math.max(u, from), end = Math.min(u + unit, to);
            if (!out.isEmpty() && out.get(out.size() - 1)[1] == start) {
                out.get(out.size() - 1)[1] = end;
            } else {
                out.add(new long[]{start, end});
            }
        }
        return out;
    }
}
