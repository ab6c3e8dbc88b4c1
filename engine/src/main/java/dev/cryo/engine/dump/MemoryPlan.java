package dev.cryo.engine.dump;

import dev.cryo.engine.memory.MemoryKind;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.engine.memory.MappedFilesAhead;
import dev.cryo.engine.memory.PageScan;
import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.PagemapScan;
import dev.cryo.kernel.WriteTracker;
import dev.cryo.kernel.proc.PagemapReader;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * The mappings of a frozen task and which of their pages go into the image; each mapping's
 * {@link MemoryKind} (from the {@link MemoryKinds} table) decides, or refuses the dump.
 */
/**
 * {@code filesAhead}: how many mapped files' identities came from a read before the freeze
 * (MappedFilesAhead), not from the frozen task.
 */
public record MemoryPlan(List<MapsEntry> maps, List<VmaImage> vmas, List<PageRun> runs, long scannedPages,
                         boolean provisional, int filesAhead) {
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
        return of(pid, sharedMemory, ghosts, (kind, m) -> true);
    }

    /**
     * As above; the pages (and guard pages) of mappings that fail {@code pagesPlanned} (by kind and area) are not looked at
     * (a pre-copy's frozen round finds those itself, and a page-table walk of a big task is the
     * longest step of a freeze).
     */
    public static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory, GhostFiles ghosts,
                                java.util.function.BiPredicate<MemoryKind, MapsEntry> pagesPlanned) {
        return of(pid, sharedMemory, ghosts, pagesPlanned, ProcFs.smaps(pid), false, null);
    }

    /**
     * As above, from {@code early}: smaps read before the freeze (reading smaps walks every page
     * table of the task: 20-40 ms for 1 GiB, the longest step of a pre-copy's freeze). It is used
     * when /proc/PID/maps, which costs no walk, still lists exactly the same areas; else smaps is
     * read now. A plan made from {@code early} is {@link #provisional}: its areas are the frozen
     * task's, but VmFlags (advice, locks) may have changed in place since, so the caller reads smaps
     * again while frozen — in parallel with the rest of the freeze — and {@link #confirm}s them.
     */
    public static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory, GhostFiles ghosts,
                                java.util.function.BiPredicate<MemoryKind, MapsEntry> pagesPlanned, List<SmapsEntry> early) {
        return of(pid, sharedMemory, ghosts, pagesPlanned, early, null);
    }

    /**
     * As above; with the same areas, the mapped files' identities are taken from {@code files}
     * (read with {@code early}) when it {@link MappedFilesAhead#confirm confirms} them.
     */
    public static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory, GhostFiles ghosts,
                                java.util.function.BiPredicate<MemoryKind, MapsEntry> pagesPlanned, List<SmapsEntry> early,
                                MappedFilesAhead files) {
        return of(pid, sharedMemory, ghosts, pagesPlanned, early, files, null);
    }

    /** As above, without the area {@code cryos} picks (cryo's own, mapped before the freeze; null: none). */
    public static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory, GhostFiles ghosts,
                                java.util.function.BiPredicate<MemoryKind, MapsEntry> pagesPlanned, List<SmapsEntry> early,
                                MappedFilesAhead files, java.util.function.Predicate<MapsEntry> cryos) {
        if (early != null && without(ProcFs.maps(pid), cryos).equals(without(early, cryos).stream().map(SmapsEntry::map).toList())) {
            return of(pid, sharedMemory, ghosts, pagesPlanned, without(early, cryos), true,
                    files != null && files.confirm() ? files : null);
        }
        return of(pid, sharedMemory, ghosts, pagesPlanned, without(ProcFs.smaps(pid), cryos), false, null);
    }

    private static List<SmapsEntry> without(List<SmapsEntry> smaps, java.util.function.Predicate<MapsEntry> cryos) {
        return cryos == null ? smaps : smaps.stream().filter(s -> !cryos.test(s.map())).toList();
    }

    private static List<MapsEntry> without(java.util.Collection<MapsEntry> maps, java.util.function.Predicate<MapsEntry> cryos) {
        return cryos == null ? List.copyOf(maps) : maps.stream().filter(m -> !cryos.test(m)).toList();
    }

    private static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory, GhostFiles ghosts,
                                 java.util.function.BiPredicate<MemoryKind, MapsEntry> pagesPlanned, List<SmapsEntry> smaps,
                                 boolean provisional, MappedFilesAhead files) {
        List<MemoryKind> kinds = new ArrayList<>();
        for (SmapsEntry s : smaps) {
            kinds.add(MemoryKinds.of(pid, s, sharedMemory.tree())); // every mapping checked before any page is planned
        }
        List<VmaImage> vmas = new ArrayList<>();
        List<PageRun> runs = new ArrayList<>();
        long scanned = 0;
        int ahead = 0;
        try (PagemapReader pagemap = ProcFs.openPagemap(pid); PagemapScan scanner = PagemapScan.open(pid)) {
            for (int i = 0; i < smaps.size(); i++) {
                SmapsEntry s = smaps.get(i);
                MapsEntry m = s.map();
                MemoryKind kind = kinds.get(i);
                FileRef file = files != null && kind.identityOfMappedFile() ? files.identity(m) : null;
                if (file == null) {
                    file = kind.file(pid, m, ghosts);
                } else {
                    ahead++;
                }
                int advice = kind.kernelProvided() ? 0 : VmAdvice.of(s);
                vmas.add(new VmaImage(m.start(), m.end(), prot(m), flags(m, s, kind), m.offset(), kind, file, 0, 0,
                        advice).withSeals(kind.seals(pid, m)));
                if (kind.objectCarriedWhole() && file != null) { // pre-copied too: its pages outside areas are not
                    sharedMemory.holder(new SharedMemoryClaims.Holder(file.ino(), PageScan.mapFile(pid, m),
                            "pid " + pid + " maps " + m.path() + " at 0x" + Long.toHexString(m.start())));
                }
                PageScan scan = new PageScan(pid, i, m, file, pagemap, scanner, sharedMemory, runs);
                if (pagesPlanned.test(kind, m)) {
                    if (m.shared() && mayHoldGuards(s)) {
                        // a shared area's pages are found in its object, not in this page table, which alone
                        // shows its guard pages: looked for first, so no page is read through one
                        scan.guardPagesOnly();
                    }
                    kind.planPages(scan);
                    scanned += scan.scannedPages();
                } // else a pre-copied mapping: its tracker's frozen walk finds its pages and guard pages
                  // (PreCopyTracker.finalRuns), one walk of its page tables fewer in the freeze
                long[] guards = scan.guardRuns();
                if (guards.length > 0) {
                    vmas.set(vmas.size() - 1, vmas.get(vmas.size() - 1).withGuards(guards));
                }
            }
        }
        return new MemoryPlan(smaps.stream().map(SmapsEntry::map).toList(), vmas, runs, scanned, provisional, ahead);
    }

    /**
     * The plan's areas with the VmFlags of {@code frozen} (smaps read while the task was frozen), or
     * null when an area is not in it exactly (cryo's own scratch area, mapped meanwhile, may have
     * merged with a neighbour: read again once it is gone). Areas of {@code frozen} the plan does
     * not have (that scratch area) are ignored. Fails the dump if an area's kind is not the same.
     */
    public List<VmaImage> confirm(Pid pid, List<SmapsEntry> frozen) {
        java.util.Map<MapsEntry, SmapsEntry> byLine = new java.util.HashMap<>();
        for (SmapsEntry s : frozen) {
            byLine.put(s.map(), s);
        }
        List<VmaImage> out = new ArrayList<>(vmas.size());
        for (int i = 0; i < vmas.size(); i++) {
            SmapsEntry s = byLine.get(maps.get(i));
            if (s == null) {
                return null;
            }
            VmaImage v = vmas.get(i);
            MemoryKind kind = MemoryKinds.kindOf(s);
            if (kind != v.kind()) {
                throw new dev.cryo.engine.DumpException("pid " + pid + " maps " + s.map() + ": its kind changed from "
                        + v.kind() + " to " + kind + " while frozen");
            }
            int advice = kind.kernelProvided() ? 0 : VmAdvice.of(s);
            out.add(new VmaImage(v.start(), v.end(), v.prot(), flags(s.map(), s, kind), v.offset(), v.kind(), v.file(),
                    v.dumpedPages(), v.zeroPages(), advice, v.guards()).withSeals(kind.seals(pid, s.map())));
        }
        return out;
    }

    /** "gu": guard pages were installed in the area (kernels that flag it); where none flags it, any area may. */
    private static boolean mayHoldGuards(SmapsEntry s) {
        return s.vmFlags().contains("gu") || !WriteTracker.guardsFlagged();
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
