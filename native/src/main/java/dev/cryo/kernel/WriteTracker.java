package dev.cryo.kernel;


import java.util.ArrayList;
import java.util.List;

/**
 * Tracks which pages a running process writes, from outside, without soft-dirty: a userfaultfd
 * of the target's mm in write-protect async mode (the kernel resolves each write fault itself and
 * never blocks the target) plus the {@code PAGEMAP_SCAN} ioctl, which returns the pages written
 * since the previous scan and write-protects them again in the same step (kernel.md).
 *
 * <p>The uffd must be created inside the target (by injection) and taken out with pidfd_getfd;
 * this class takes it from there. The first scan of a freshly registered range reports every
 * populated page. Thread-safe: a pre-copy of shared memory scans every task's mappings of an object
 * from one thread (SharedPreCopy) while each task's own dumper scans its private ones.
 */
public final class WriteTracker implements AutoCloseable {
    /**
     * userfaultfd(2) flag for the uffd made inside the target. Without it the call needs
     * CAP_SYS_PTRACE in the target (vm.unprivileged_userfaultfd is 0 by default), which any task
     * not running as root lacks: a worker that dropped privileges, a browser's renderer. It only
     * keeps kernel-mode faults from being handed to a reader, and async write-protect hands none
     * to a reader: the kernel resolves every write fault itself, a read(2) into a tracked page too.
     */
    public static final int UFFD_USER_MODE_ONLY = 1;
    private static final long UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1L << 12;
    private static final long UFFD_FEATURE_WP_UNPOPULATED = 1L << 13;
    private static final long UFFD_FEATURE_WP_ASYNC = 1L << 15;
    private static final long PM_SCAN_WP_MATCHING = 1, PM_SCAN_CHECK_WPASYNC = 2;
    public static final long PAGE_IS_WRITTEN = 1L << 1;
    private static final long PAGE = 4096;

    private final Pid pid;
    private final Fd uffd;
    private final Fd pagemap;
    private final PagemapWalk walk = new PagemapWalk();

    /** Raised by {@link #scan} when part of the range is not registered (a mapping made since). */
    public static final class NotRegisteredException extends KernelException {
        NotRegisteredException(String message) {
            super(message);
        }
    }

    private WriteTracker(Pid pid, Fd uffd, Fd pagemap) {
        this.pid = pid;
        this.uffd = uffd;
        this.pagemap = pagemap;
    }

    /** Takes ownership of {@code uffd} (the target's, duplicated here) and enables async write-protect on it. */
    public static WriteTracker adopt(Pid pid, Fd uffd) {
        try {
            Uffd.api(uffd, UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
                    () -> "ioctl(UFFDIO_API, WP_ASYNC|WP_UNPOPULATED) on the uffd of pid " + pid);
            return new WriteTracker(pid, uffd, Sys.open(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/pagemap", Fcntl.O_RDONLY));
        } catch (RuntimeException e) {
            uffd.close();
            throw e;
        }
    }

    /**
     * Takes ownership of {@code uffd} whose API handshake was made already (a tracking kept between two
     * commands, see cryo's TrackingHolder): its registrations and write-protect bits are as it left them.
     */
    public static WriteTracker resume(Pid pid, Fd uffd) {
        try {
            return new WriteTracker(pid, uffd, Sys.open(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/pagemap", Fcntl.O_RDONLY));
        } catch (RuntimeException e) {
            uffd.close();
            throw e;
        }
    }

    /** The uffd itself: a holder keeps it open between two commands (the registrations live as long as it does). */
    public Fd uffd() {
        return uffd;
    }

    public Pid pid() {
        return pid;
    }

    /** Registers [start, end) of the target for write-protect tracking (one VMA or several whole ones). */
    public synchronized void register(long start, long end) {
        Uffd.register(uffd, start, end - start, Uffd.REGISTER_MODE_WP, () -> "ioctl(UFFDIO_REGISTER, pid " + pid
                + ", 0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end) + ")");
    }

    /**
     * The page ranges of [start, end) written since the last scan, as {start, end} pairs, in
     * address order; they are write-protected again by the same call.
     */
    public synchronized List<long[]> scan(long start, long end) {
        List<long[]> out = new ArrayList<>();
        walk(start, end, PM_SCAN_WP_MATCHING, PAGE_IS_WRITTEN, 0, PAGE_IS_WRITTEN, PagemapScan.Sink.joiningInto(out));
        return out;
    }

    /**
     * As {@link #scan} for private memory, each written range with its categories ({@code returnMask}
     * of them, {@link PagemapScan#PAGE_IS_PRESENT} etc.), in address order: one page-table walk where a
     * round needs both what was written and which of it holds a page now. Only pages there (present or
     * swapped) are reported and re-armed: arming an empty pte puts a marker in it (WP_ASYNC implies
     * WP_UNPOPULATED), page tables for all of an area never touched (2 GiB per TiB, kept after the
     * dump), while a page that a write faults into an empty pte of private memory comes without the
     * write-protect bit, so the next scan reports it. Not for shared memory, whose pages live on without a pte.
     */
    public synchronized void scan(long start, long end, long returnMask, PagemapScan.Sink sink) {
        walk(start, end, PM_SCAN_WP_MATCHING, PAGE_IS_WRITTEN, PagemapScan.PAGE_IS_PRESENT | PagemapScan.PAGE_IS_SWAPPED,
                returnMask | PAGE_IS_WRITTEN, sink);
    }

    /**
     * Every range of [start, end) with its page categories ({@code returnMask} of them:
     * {@link PagemapScan#PAGE_IS_PRESENT} etc., and {@link #PAGE_IS_WRITTEN}: written since the last
     * {@link #scan}), in address order, without write-protecting anything: one page-table walk where
     * a frozen round needs both what was written and what is there now.
     */
    public synchronized void categories(long start, long end, long returnMask, PagemapScan.Sink sink) {
        walk(start, end, 0, 0, 0, returnMask, sink); // no PM_SCAN_WP_MATCHING: a pure read
    }

    /**
     * The ranges of [start, end) whose ptes lack the write-protect bit, without write-protecting
     * anything: pages written since their last {@link #scan}, and every empty pte or hole (a page
     * dropped since, one never touched). This mask (WRITTEN alone, as category and return mask) is
     * the kernel's fast path, which reads each pte's bit and nothing else: 0.2 ms of CPU per
     * populated GiB here, where {@link #categories} takes 2.8 ms. Before Linux 6.9 that path read a
     * swap or migration entry's bit as a present pte's (fixed by "fs/proc/task_mmu: fix uffd-wp
     * confusion in pagemap_scan_pmd_entry()"); its one caller also needs {@link #guardsFlagged}, which
     * no kernel that old has.
     */
    public synchronized void unprotected(long start, long end, PagemapScan.Sink sink) {
        walk(start, end, 0, PAGE_IS_WRITTEN, 0, PAGE_IS_WRITTEN, sink);
    }

    /**
     * Write-protects the empty ptes of [start, end) (a page dropped since it was written, one never
     * touched), reporting them: each gets a marker, so {@link #unprotected} no longer shows it until
     * a write or a drop takes the marker off. Pages there (present, swapped, a guard) are left as
     * they are: one written since the last {@link #scan} stays unprotected, and the next scan reports
     * it. A hole (no page table) in the range is armed too, which allocates its page table: callers
     * pass short ranges inside areas that have them.
     */
    public synchronized void armEmpty(long start, long end, PagemapScan.Sink sink) {
        long there = PagemapScan.PAGE_IS_PRESENT | PagemapScan.PAGE_IS_SWAPPED;
        walk(start, end, PM_SCAN_WP_MATCHING, there, there, 0, PAGE_IS_WRITTEN | there, sink);
    }

    /**
     * Whether an area that ever had a guard page shows it ("gu" in smaps' VmFlags), or this kernel
     * has no guard pages: a guard a scan write-protected hides from {@link #unprotected}, and only
     * this flag tells where one may be. Probed once, on an area of cryo's own.
     */
    public static boolean guardsFlagged() {
        return GuardsFlag.SHOWN;
    }

    private static final class GuardsFlag {
        static final boolean SHOWN = probe();

        private static boolean probe() {
            long at = LibC.syscall(SyscallNr.MMAP, 0, PAGE, 3 /* RW */, 0x22 /* PRIVATE|ANON */, -1, 0);
            if (at == -1) {
                return false;
            }
            try {
                if (LibC.syscall(SyscallNr.MADVISE, at, PAGE, 102 /* MADV_GUARD_INSTALL */, 0, 0, 0) != 0) {
                    return true; // no guard pages here (EINVAL)
                }
                return dev.cryo.kernel.proc.ProcFs.smaps(Pid.of((int) ProcessHandle.current().pid())).stream()
                        .anyMatch(e -> e.map().start() <= at && at < e.map().end() && e.hasFlag("gu"));
            } catch (RuntimeException e) {
                return false;
            } finally {
                LibC.syscall(SyscallNr.MUNMAP, at, PAGE, 0, 0, 0, 0);
            }
        }
    }

    /** PAGEMAP_SCAN over [start, end) with the write-protect checks of async mode; EPERM: a range not registered. */
    private void walk(long start, long end, long flags, long categoryMask, long anyOf, long returnMask,
                      PagemapScan.Sink sink) {
        walk(start, end, flags, 0, categoryMask, anyOf, returnMask, sink);
    }

    private void walk(long start, long end, long flags, long inverted, long categoryMask, long anyOf, long returnMask,
                      PagemapScan.Sink sink) {
        try {
            walk.walk(pagemap, pid, flags | PM_SCAN_CHECK_WPASYNC, start, end, inverted, categoryMask, anyOf, returnMask, sink);
        } catch (SyscallException e) {
            if (e.is(Errno.EPERM)) {
                throw new NotRegisteredException(e.call() + ": part of the range is not registered for tracking");
            }
            throw e;
        }
    }

    /** Total pages in ranges as returned by {@link #scan}. */
    public static long pages(List<long[]> ranges) {
        long n = 0;
        for (long[] r : ranges) {
            n += (r[1] - r[0]) / PAGE;
        }
        return n;
    }

    /** Closing the last reference to the uffd ends tracking; the target's mappings are unregistered by the kernel. */
    @Override
    public synchronized void close() {
        pagemap.close();
        uffd.close();
    }
}
