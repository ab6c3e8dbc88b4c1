package dev.cryo.engine.memory;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.dump.PageRun;
import dev.cryo.engine.dump.SharedMemoryClaims;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.PagemapScan;
import dev.cryo.kernel.FileExtents;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.Pagemap;
import dev.cryo.kernel.proc.PagemapReader;

import java.nio.file.Path;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * Finds the pages of one mapping of a frozen task that go into the image, for the kind's
 * {@link MemoryKind#planPages}: by the task's page table (pagemap), or, for shared memory, in
 * the object itself.
 */
public final class PageScan {
    private static final long PAGE = 4096;
    private static final int PAGEMAP_BATCH = 1 << 16;

    private final Pid pid;
    private final int index;
    private final MapsEntry map;
    private final dev.cryo.engine.model.FileRef file;
    private final PagemapReader pagemap;
    private final PagemapScan scanner; // null: this kernel has no PAGEMAP_SCAN, pagemap entries are read
    private final SharedMemoryClaims claims;
    private final List<PageRun> out;
    private final List<Long> guards = new java.util.ArrayList<>();
    private long scanned;

    public PageScan(Pid pid, int index, MapsEntry map, dev.cryo.engine.model.FileRef file, PagemapReader pagemap,
                    SharedMemoryClaims claims, List<PageRun> out) {
        this(pid, index, map, file, pagemap, null, claims, out);
    }

    public PageScan(Pid pid, int index, MapsEntry map, dev.cryo.engine.model.FileRef file, PagemapReader pagemap,
                    PagemapScan scanner, SharedMemoryClaims claims, List<PageRun> out) {
        this.scanner = scanner;
        this.pid = pid;
        this.index = index;
        this.map = map;
        this.file = file;
        this.pagemap = pagemap;
        this.claims = claims;
        this.out = out;
    }

    /** The mapped file's identity as the kind recorded it (null for plain memory). */
    public dev.cryo.engine.model.FileRef file() {
        return file;
    }

    public long scannedPages() {
        return scanned;
    }

    /**
     * The guard pages (MADV_GUARD_INSTALL) found, as pairs (address, pages): they hold nothing and
     * fault on any access (the pagemap shows them as swapped), so they are recorded, never copied.
     */
    public long[] guardRuns() {
        return guards.stream().mapToLong(Long::longValue).toArray();
    }

    private void guard(long start, long end) {
        int n = guards.size();
        if (n > 0 && guards.get(n - 2) + guards.get(n - 1) * PAGE == start) {
            guards.set(n - 1, guards.get(n - 1) + (end - start) / PAGE);
        } else {
            guards.add(start);
            guards.add((end - start) / PAGE);
        }
    }

    /** Present or swapped pages: anonymous memory. An absent page reads zero after restore too. */
    public void presentPages() {
        if (scanner != null) { // the kernel finds them; pages of the shared zero page read zero anyway
            byScan(PagemapScan.PAGE_IS_PFNZERO, PagemapScan.PAGE_IS_PFNZERO, true);
            return;
        }
        byPagemap(e -> Pagemap.present(e) || Pagemap.swapped(e), true);
    }

    /**
     * Every page of the mapping, whether the task's page table has it or not: an area whose pages
     * the kernel keeps and writes through its own mapping (an AIO ring), read in whole.
     */
    public void wholeArea() {
        scanned += map.pages();
        out.add(new PageRun(index, map.start(), (int) map.pages(), false, true));
    }

    /**
     * Only the copied-on-write pages of a private file mapping (present with the "file page" bit
     * clear, or swapped); an absent page shows the file's bytes again after restore, so zero pages
     * must be written too.
     */
    public void copiedOnWritePages() {
        if (scanner != null) { // "file" clear: the task's own copy
            byScan(PagemapScan.PAGE_IS_FILE, PagemapScan.PAGE_IS_FILE, false);
            return;
        }
        byPagemap(e -> (Pagemap.present(e) && !Pagemap.fileOrSharedAnon(e)) || Pagemap.swapped(e), false);
    }

    /**
     * Only the guard pages, for a mapping whose pages another pass carries (a pre-copy's tracker):
     * guard pages are never written, so that pass never sees them.
     */
    public void guardPagesOnly() {
        if (scanner != null) {
            scanner.scan(map.start(), map.end(), 0, PagemapScan.PAGE_IS_GUARD, 0, PagemapScan.PAGE_IS_GUARD,
                    (start, end, categories) -> guard(start, end));
            return;
        }
        long addr = map.start();
        while (addr < map.end()) {
            int n = (int) Math.min(PAGEMAP_BATCH, (map.end() - addr) / PAGE);
            long[] entries = pagemap.read(addr, n);
            for (int i = 0; i < n; i++) {
                if (Pagemap.guard(entries[i])) {
                    guard(addr + i * PAGE, addr + (i + 1) * PAGE);
                }
            }
            addr += n * PAGE;
        }
    }

    /** Present or swapped pages whose other categories, xor {@code inverted}, have all of {@code mask}. */
    private void byScan(long inverted, long mask, boolean zeroImplicit) {
        scanned += map.pages();
        boolean viaProcMem = !map.read();
        long either = PagemapScan.PAGE_IS_PRESENT | PagemapScan.PAGE_IS_SWAPPED;
        long[] run = {-1, -1};
        scanner.scan(map.start(), map.end(), inverted, mask, either, either | PagemapScan.PAGE_IS_GUARD, (start, end, categories) -> {
            if ((categories & PagemapScan.PAGE_IS_GUARD) != 0) {
                guard(start, end);
                return;
            }
            if (run[1] == start) {
                run[1] = end;
                return;
            }
            if (run[0] >= 0) {
                out.add(new PageRun(index, run[0], (int) ((run[1] - run[0]) / PAGE), viaProcMem, zeroImplicit));
            }
            run[0] = start;
            run[1] = end;
        });
        if (run[0] >= 0) {
            out.add(new PageRun(index, run[0], (int) ((run[1] - run[0]) / PAGE), viaProcMem, zeroImplicit));
        }
    }

    private void byPagemap(LongPredicate wanted, boolean zeroImplicit) {
        scanned += map.pages();
        // process_vm_readv refuses PROT_NONE pages: those are read through /proc/PID/mem, safe
        // because pagemap said they are there
        boolean viaProcMem = !map.read();
        long addr = map.start();
        long runStart = -1;
        while (addr < map.end()) {
            int n = (int) Math.min(PAGEMAP_BATCH, (map.end() - addr) / PAGE);
            long[] entries = pagemap.read(addr, n);
            for (int i = 0; i < n; i++) {
                long page = addr + i * PAGE;
                boolean guard = Pagemap.guard(entries[i]);
                if (guard) {
                    guard(page, page + PAGE);
                }
                if (!guard && wanted.test(entries[i])) {
                    if (runStart < 0) {
                        runStart = page;
                    }
                } else if (runStart >= 0) {
                    out.add(new PageRun(index, runStart, (int) ((page - runStart) / PAGE), viaProcMem, zeroImplicit));
                    runStart = -1;
                }
            }
            addr += n * PAGE;
        }
        if (runStart >= 0) {
            out.add(new PageRun(index, runStart, (int) ((map.end() - runStart) / PAGE), viaProcMem, zeroImplicit));
        }
    }

    /**
     * The pages of a shared memory object (shmem inode {@code ino}) in this mapping's window that
     * no other mapping of the dump carries yet. They are found in the object itself (SEEK_DATA on
     * the mapped file), not in this task's page table: a task that never touched a page since
     * fork has no page table entry for it, yet the page is there for every task that maps it.
     * Hugetlb objects are read instead (see {@link FileExtents#nonZero}).
     */
    public void sharedObjectPages(long ino) {
        scanned += map.pages();
        long firstPage = map.offset() / PAGE;
        List<long[]> mine = claims.claim(ino, firstPage, firstPage + map.pages());
        if (mine.isEmpty()) {
            return;
        }
        boolean viaProcMem = !map.read();
        try (Fd fd = Sys.open(mapFile(pid, map).toString(), Fcntl.O_RDONLY)) {
            long hugePage = FileExtents.hugePageBytes(fd);
            for (long[] r : mine) {
                for (long[] d : FileExtents.held(fd, r[0] * PAGE, r[1] * PAGE, hugePage)) {
                    long from = d[0] / PAGE * PAGE;
                    long to = (d[1] + PAGE - 1) / PAGE * PAGE;
                    long at = map.start() + (from - map.offset());
                    refuseBehindGuard(at, at + (to - from));
                    out.add(new PageRun(index, at, (int) ((to - from) / PAGE), viaProcMem, true));
                }
            }
        }
    }

    /**
     * Data of a shared object behind a guard page of this mapping (put there before the guard, or by
     * another mapping) cannot be read through it (EFAULT), nor written back through it at restore.
     */
    private void refuseBehindGuard(long from, long to) {
        for (int i = 0; i < guards.size(); i += 2) {
            long g = guards.get(i);
            long end = g + guards.get(i + 1) * PAGE;
            if (g < to && from < end) {
                throw new dev.cryo.engine.DumpException("pid " + pid + ": the shared memory " + map.path() + " mapped at 0x"
                        + Long.toHexString(map.start()) + " holds data behind its guard page(s) at 0x"
                        + Long.toHexString(Math.max(g, from)) + " (MADV_GUARD_INSTALL), which this mapping cannot reach;"
                        + " not supported");
            }
        }
    }

    /**
     * As {@link #sharedObjectPages}, for memfd_secret object {@code ino}: the pages it has are found
     * through a mapping of cryo's own of it, taken from the task's fd (SecretMemoryArea#check made sure
     * it holds one): neither its file nor its pages can be reached from outside otherwise.
     */
    public void secretObjectPages(long ino) {
        scanned += map.pages();
        long firstPage = map.offset() / PAGE;
        List<long[]> mine = claims.claim(ino, firstPage, firstPage + map.pages());
        if (mine.isEmpty()) {
            return;
        }
        try (Fd fd = dev.cryo.kernel.SecretMemory.take(pid, ino)) {
            if (fd == null) {
                throw new dev.cryo.engine.DumpException("pid " + pid + " closed its fd of the memfd_secret memory at 0x"
                        + Long.toHexString(map.start()) + " while frozen");
            }
            for (long[] r : mine) {
                for (long[] d : dev.cryo.kernel.SecretMemory.resident(fd, r[0] * PAGE, r[1] * PAGE)) {
                    out.add(new PageRun(index, map.start() + (d[0] - map.offset()), (int) ((d[1] - d[0]) / PAGE),
                            false, true));
                }
            }
        }
    }

    /** /proc/PID/map_files/START-END: the very file mapped there, even if its path was replaced or removed. */
    public static Path mapFile(Pid pid, MapsEntry m) {
        return Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/map_files/" + Long.toHexString(m.start()) + "-" + Long.toHexString(m.end()));
    }
}
