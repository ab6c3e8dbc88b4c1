package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Native;

/**
 * The {@code PAGEMAP_SCAN} ioctl of /proc/PID/pagemap (Linux 6.7+) used read-only: the kernel
 * walks the page tables and returns only the ranges whose page categories match, so finding the
 * present pages of a large, mostly empty mapping (a JVM's reserved heap: millions of pages) costs
 * a few syscalls instead of reading 8 bytes per page. No write-protect flag is passed: the scan
 * changes nothing. {@link #open} returns null when the kernel lacks the ioctl; callers fall back
 * to reading pagemap entries.
 */
public final class PagemapScan implements AutoCloseable {
    // include/uapi/linux/fs.h (Debian 12's headers predate them)
    public static final long PAGE_IS_FILE = 1L << 2;
    public static final long PAGE_IS_PRESENT = 1L << 3;
    public static final long PAGE_IS_SWAPPED = 1L << 4;
    public static final long PAGE_IS_PFNZERO = 1L << 5;
    /** A guard page (MADV_GUARD_INSTALL, Linux 6.13+): no memory, any access faults; it also reads as swapped. */
    public static final long PAGE_IS_GUARD = 1L << 8;
    private static final long PAGEMAP_SCAN = 0xC0606610L; // _IOWR('f', 16, struct pm_scan_arg)
    private static final int ARG_SIZE = 96, REGION_SIZE = 24, VEC_LEN = 4096;
    private static volatile boolean unsupported;

    /** One range of pages with the categories asked for in {@code returnMask}. */
    public interface Sink {
        void region(long start, long end, long categories);

        /**
         * A sink adding each range to {@code out} as a {start, end} pair, joined with the one before it
         * where they touch (a run going on across pages of different categories).
         */
        static Sink joiningInto(java.util.List<long[]> out) {
            return (s, e, c) -> {
                if (!out.isEmpty() && out.get(out.size() - 1)[1] == s) {
                    out.get(out.size() - 1)[1] = e;
                } else {
                    out.add(new long[] {s, e});
                }
            };
        }
    }

    private final Pid pid;
    private final Fd fd;
    private final Memory arg = new Memory(ARG_SIZE);
    private final Memory vec = new Memory((long) REGION_SIZE * VEC_LEN);
    private final long[] regions = new long[3 * VEC_LEN]; // vec copied out at once (start, end, categories)

    private PagemapScan(Pid pid, Fd fd) {
        this.pid = pid;
        this.fd = fd;
    }

    /** An open scanner of pid's page tables, or null when this kernel has no PAGEMAP_SCAN. */
    public static PagemapScan open(Pid pid) {
        if (unsupported) {
            return null;
        }
        PagemapScan s = new PagemapScan(pid, Sys.open(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/pagemap", Fcntl.O_RDONLY));
        try {
            s.scan(0, 4096, 0, 0, PAGE_IS_PRESENT, PAGE_IS_PRESENT, (a, b, c) -> {}); // page 0, never mapped: a probe
            return s;
        } catch (SyscallException e) {
            s.close();
            if (e.errno() == Errno.ENOTTY || e.errno() == Errno.EINVAL) {
                unsupported = true;
                return null;
            }
            throw e;
        }
    }

    /**
     * Every range of [start, end) whose page categories {@code c}, after {@code c ^= inverted},
     * have all bits of {@code mask} and (unless {@code anyOf} is 0) one of {@code anyOf}; in
     * address order, adjacent ranges with equal returned categories merged by the kernel.
     */
    public void scan(long start, long end, long inverted, long mask, long anyOf, long returnMask, Sink sink) {
        long from = start;
        do {
            arg.clear();
            arg.setLong(0, ARG_SIZE);
            arg.setLong(8, 0); // flags: no write-protect, a pure read
            arg.setLong(16, from);
            arg.setLong(24, end);
            arg.setLong(40, Sys.address(vec));
            arg.setLong(48, VEC_LEN);
            arg.setLong(64, inverted);
            arg.setLong(72, mask);
            arg.setLong(80, anyOf);
            arg.setLong(88, returnMask);
            long n = LibC.syscall(SyscallNr.IOCTL, fd.value(), PAGEMAP_SCAN, Sys.address(arg), 0, 0, 0);
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
        } while (from < end);
    }

    @Override
    public void close() {
        fd.close();
    }
}
