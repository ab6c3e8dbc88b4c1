package dev.cryo.engine.memory;

import dev.cryo.engine.dump.PageRun;
import dev.cryo.engine.dump.SharedMemoryClaims;
import dev.cryo.kernel.Fd;
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
    private final SharedMemoryClaims claims;
    private final List<PageRun> out;
    private long scanned;

    public PageScan(Pid pid, int index, MapsEntry map, dev.cryo.engine.model.FileRef file, PagemapReader pagemap,
                    SharedMemoryClaims claims, List<PageRun> out) {
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

    /** Present or swapped pages: anonymous memory. An absent page reads zero after restore too. */
    public void presentPages() {
        byPagemap(e -> Pagemap.present(e) || Pagemap.swapped(e), true);
    }

    /**
     * Only the copied-on-write pages of a private file mapping (present with the "file page" bit
     * clear, or swapped); an absent page shows the file's bytes again after restore, so zero pages
     * must be written too.
     */
    public void copiedOnWritePages() {
        byPagemap(e -> (Pagemap.present(e) && !Pagemap.fileOrSharedAnon(e)) || Pagemap.swapped(e), false);
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
                if (wanted.test(entries[i])) {
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
     */
    public void sharedObjectPages(long ino) {
        scanned += map.pages();
        long firstPage = map.offset() / PAGE;
        List<long[]> mine = claims.claim(ino, firstPage, firstPage + map.pages());
        if (mine.isEmpty()) {
            return;
        }
        boolean viaProcMem = !map.read();
        try (Fd fd = Sys.open(mapFile(pid, map).toString(), Sys.O_RDONLY)) {
            for (long[] r : mine) {
                for (long[] d : FileExtents.data(fd, r[0] * PAGE, r[1] * PAGE)) {
                    long from = d[0] / PAGE * PAGE;
                    long to = (d[1] + PAGE - 1) / PAGE * PAGE;
                    out.add(new PageRun(index, map.start() + (from - map.offset()), (int) ((to - from) / PAGE),
                            viaProcMem, true));
                }
            }
        }
    }

    /** /proc/PID/map_files/START-END: the very file mapped there, even if its path was replaced or removed. */
    public static Path mapFile(Pid pid, MapsEntry m) {
        return Path.of("/proc/" + pid + "/map_files/" + Long.toHexString(m.start()) + "-" + Long.toHexString(m.end()));
    }
}
