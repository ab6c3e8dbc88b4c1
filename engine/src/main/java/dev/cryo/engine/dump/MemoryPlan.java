package dev.cryo.engine.dump;

import dev.cryo.engine.memory.MemoryKind;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.engine.memory.PageScan;
import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.PagemapScan;
import dev.cryo.kernel.proc.PagemapReader;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * The mappings of a frozen task and which of their pages go into the image; each mapping's
 * {@link MemoryKind} (from the {@link MemoryKinds} table) decides, or refuses the dump.
 */
public record MemoryPlan(List<MapsEntry> maps, List<VmaImage> vmas, List<PageRun> runs, long scannedPages) {
    public long pages() {
        return runs.stream().mapToLong(PageRun::pages).sum();
    }

    public static MemoryPlan of(Pid pid) {
        return of(pid, new SharedMemoryClaims(), new GhostFiles(Long.MAX_VALUE));
    }

    /**
     * {@code sharedMemory}: the pages of shared memory objects that tasks of this dump already
     * carry; this task carries the pages of its windows that nobody claimed before. {@code ghosts}:
     * the deleted files of the dump, carried once each.
     */
    public static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory, GhostFiles ghosts) {
        return of(pid, sharedMemory, ghosts, kind -> true);
    }

    /**
     * As above; the pages of mappings whose kind fails {@code pagesPlanned} are not looked at
     * (a pre-copy's frozen round finds those itself, and a page-table walk of a big task is the
     * longest step of a freeze).
     */
    public static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory, GhostFiles ghosts,
                                java.util.function.Predicate<MemoryKind> pagesPlanned) {
        List<SmapsEntry> smaps = ProcFs.smaps(pid);
        List<MemoryKind> kinds = new ArrayList<>();
        for (SmapsEntry s : smaps) {
            kinds.add(MemoryKinds.of(pid, s)); // every mapping checked before any page is planned
        }
        List<VmaImage> vmas = new ArrayList<>();
        List<PageRun> runs = new ArrayList<>();
        long scanned = 0;
        try (PagemapReader pagemap = ProcFs.openPagemap(pid); PagemapScan scanner = PagemapScan.open(pid)) {
            for (int i = 0; i < smaps.size(); i++) {
                SmapsEntry s = smaps.get(i);
                MapsEntry m = s.map();
                MemoryKind kind = kinds.get(i);
                FileRef file = kind.file(pid, m, ghosts);
                int advice = kind.kernelProvided() ? 0 : VmAdvice.of(s);
                vmas.add(new VmaImage(m.start(), m.end(), prot(m), flags(m, s, kind), m.offset(), kind, file, 0, 0,
                        advice));
                if (pagesPlanned.test(kind)) {
                    PageScan scan = new PageScan(pid, i, m, file, pagemap, scanner, sharedMemory, runs);
                    kind.planPages(scan);
                    scanned += scan.scannedPages();
                }
            }
        }
        return new MemoryPlan(smaps.stream().map(SmapsEntry::map).toList(), vmas, runs, scanned);
    }

    private static int prot(MapsEntry m) {
        return (m.read() ? VmaImage.PROT_READ : 0) | (m.write() ? VmaImage.PROT_WRITE : 0)
                | (m.exec() ? VmaImage.PROT_EXEC : 0);
    }

    private static int flags(MapsEntry m, SmapsEntry s, MemoryKind kind) {
        int f = m.shared() ? VmaImage.MAP_SHARED : VmaImage.MAP_PRIVATE;
        if (!kind.fileBacked()) {
            f |= VmaImage.MAP_ANONYMOUS;
        }
        if (s.isGrowsDown()) {
            f |= VmaImage.MAP_GROWSDOWN;
        }
        return f;
    }
}
