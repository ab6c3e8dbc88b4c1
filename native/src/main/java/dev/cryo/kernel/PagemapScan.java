package dev.cryo.kernel;

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
    private final PagemapWalk walk = new PagemapWalk();

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
        walk.walk(fd, pid, 0, start, end, inverted, mask, anyOf, returnMask, sink); // flags 0: no write-protect, a pure read
    }

    @Override
    public void close() {
        fd.close();
    }
}
