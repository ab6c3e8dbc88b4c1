package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Native;

/**
 * One {@code struct pm_scan_arg} and its result vector: the {@code PAGEMAP_SCAN} walk that the read-only
 * {@link PagemapScan} and the write-protecting {@link WriteTracker} share. Not thread-safe: one per owner.
 */
final class PagemapWalk {
    private static final long PAGEMAP_SCAN = 0xC0606610L; // _IOWR('f', 16, struct pm_scan_arg)
    private static final int ARG_SIZE = 96, REGION_SIZE = 24, VEC_LEN = 4096;

    private final Memory arg = new Memory(ARG_SIZE);
    private final Memory vec = new Memory((long) REGION_SIZE * VEC_LEN);
    private final long[] regions = new long[3 * VEC_LEN]; // vec copied out at once (start, end, categories)

    /**
     * PAGEMAP_SCAN of {@code pagemap} (pid's) over [start, end), call after call until the walk is through
     * (a call returns at most VEC_LEN ranges): every range whose categories {@code c}, after
     * {@code c ^= inverted}, have all bits of {@code mask} and (unless {@code anyOf} is 0) one of {@code anyOf}.
     * A failed call throws a {@link SyscallException} naming pid and the range.
     */
    void walk(Fd pagemap, Pid pid, long flags, long start, long end, long inverted, long mask, long anyOf,
              long returnMask, PagemapScan.Sink sink) {
        long from = start;
        while (from < end) {
            arg.clear();
            arg.setLong(0, ARG_SIZE);
            arg.setLong(8, flags);
            arg.setLong(16, from);
            arg.setLong(24, end);
            arg.setLong(40, Sys.address(vec));
            arg.setLong(48, VEC_LEN);
            arg.setLong(64, inverted);
            arg.setLong(72, mask);
            arg.setLong(80, anyOf);
            arg.setLong(88, returnMask);
            long n = LibC.syscall(SyscallNr.IOCTL, pagemap.value(), PAGEMAP_SCAN, Sys.address(arg), 0, 0, 0);
            if (n < 0) {
                throw new SyscallException("ioctl(PAGEMAP_SCAN, pid " + pid + ", 0x" + Long.toHexString(from) + "-0x"
                        + Long.toHexString(end) + ")", Native.getLastError());
            }
            vec.read(0, regions, 0, (int) n * 3); // one copy: a GiB can report tens of thousands of regions
            for (int i = 0; i < n; i++) {
                sink.region(regions[3 * i], regions[3 * i + 1], regions[3 * i + 2]);
            }
            long walkEnd = arg.getLong(32);
            if (walkEnd <= from) {
                break; // no progress: nothing more to learn
            }
            from = walkEnd;
        }
    }
}
