package dev.cryo.engine.memory;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.PagemapScan;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.Pagemap;
import dev.cryo.kernel.proc.PagemapReader;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Private pages a task shares copy-on-write with its parent since a fork (zdtm cow00; a prefork
 * server's workers and the heap their master preloaded). The kernel gives no way to share an
 * anonymous page between two address spaces but fork, so the restore forks such a child only once
 * its parent's memory is in place.
 *
 * <p>Dump: in each private mapping of a child, the pages that are one frame with its parent's at the
 * same address (same PFN in both pagemaps, readable as root; or the same swap slot) are recorded as
 * {@link VmaImage#inherited()}. Their bytes still go into the image: the record only lets the
 * restore skip them. They are read without pinning ({@link #readUnpinned}): a tree the dump lets run
 * on still shares them. Restore ({@link #plan}): a child keeps a mapping it inherited where its parent's
 * image maps the same area the same way; it drops there the parent's pages it did not share
 * ({@link #keep}) and writes only its own.
 */
public final class ParentSharing {
    private ParentSharing() {}

    private static final long PAGE = 4096;
    private static final int BATCH = 1 << 16;
    private static final int MADV_DONTNEED = 4;
    /** Advice that makes a fork not carry an area as it is (or a sealed area the child could not unmap). */
    private static final int NOT_INHERITED = VmAdvice.DONTFORK | VmAdvice.WIPEONFORK | VmAdvice.SEALED
            | VmAdvice.MAYBE_GUARD;
    /** Locks are not inherited by a fork: the child takes its own after its pages are in. */
    private static final int LOCKS = VmAdvice.LOCKED | VmAdvice.LOCKONFAULT;

    /** Mappings whose private pages a fork shares: anonymous memory and copied-on-write file pages. */
    private static boolean privatePages(VmaImage v) {
        return v.kind() == MemoryKinds.ANON || v.kind() == MemoryKinds.HEAP || v.kind() == MemoryKinds.STACK
                || v.kind() == MemoryKinds.FILE_PRIVATE;
    }

    // ---- dump ----------------------------------------------------------------------------------

    /**
     * What {@link #scan} found: by pid, the pages each task shares with its parent, as pairs
     * (address, pages); and the ranges [start, end) of each task's memory (a parent's and its
     * children's) to read without pinning, so the tree keeps sharing them when it runs on.
     */
    public record Found(Map<Integer, long[]> inherited, Map<Integer, List<long[]>> unpinned) {
        public static final Found NONE = new Found(Map.of(), Map.of());

        /**
         * Only where to read unpinned: found while the tree runs (a pre-copy's rounds), the pages
         * shared then may be written before the freeze, so none is recorded as shared.
         */
        public Found unpinnedOnly() {
            return new Found(Map.of(), unpinned);
        }
    }

    /**
     * For each task of the frozen tree {@code live} forked by another of it and running no program
     * of its own since: the pages of its private mappings that are one frame with its parent's at
     * the same address. Must run before any page of the tree is read: process_vm_readv pins the
     * pages it reads, and pinning a page shared copy-on-write gives the reader a copy of its own
     * (the kernel's gup_must_unshare), so a read task no longer shares what it shared. A task whose
     * pagemaps cannot be read is left out: its pages are all written on restore, as before.
     */
    public static Found scan(List<Pid> live, java.util.function.Consumer<String> debug) {
        java.util.Set<Integer> pids = new java.util.HashSet<>();
        live.forEach(p -> pids.add(p.value()));
        Map<Integer, long[]> inherited = new LinkedHashMap<>();
        Map<Integer, List<long[]>> unpinned = new LinkedHashMap<>();
        for (Pid child : live) {
            try {
                var st = dev.cryo.kernel.proc.ProcFs.stat(child);
                if ((st.flags() & dev.cryo.kernel.proc.ProcStat.PF_FORKNOEXEC) == 0 || st.ppid() == child.value()
                        || !pids.contains(st.ppid())) {
                    continue;
                }
                long[] runs = scan(child, Pid.of(st.ppid()));
                if (runs.length > 0) {
                    inherited.put(child.value(), runs);
                    for (int reader : new int[] {child.value(), st.ppid()}) {
                        List<long[]> r = unpinned.computeIfAbsent(reader, k -> new ArrayList<>());
                        for (int i = 0; i < runs.length; i += 2) {
                            r.add(new long[] {runs[i], runs[i] + runs[i + 1] * PAGE});
                        }
                    }
                }
            } catch (RuntimeException e) {
                debug.accept("pid " + child + ": pages shared with its parent not looked for: " + e.getMessage());
            }
        }
        unpinned.replaceAll((pid, r) -> merged(r));
        return new Found(inherited, unpinned);
    }

    /** Sorted ranges with the overlapping and touching ones joined. */
    static List<long[]> merged(List<long[]> ranges) {
        List<long[]> sorted = new ArrayList<>(ranges);
        sorted.sort(java.util.Comparator.comparingLong(r -> r[0]));
        List<long[]> out = new ArrayList<>();
        for (long[] r : sorted) {
            long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && r[0] <= last[1]) {
                last[1] = Math.max(last[1], r[1]);
            } else {
                out.add(new long[] {r[0], r[1]});
            }
        }
        return out;
    }

    /**
     * {@code runs} with their parts inside {@code ranges} (sorted, disjoint) read through
     * /proc/PID/mem, which takes a page without pinning it (a page shared copy-on-write stays shared).
     */
    public static List<dev.cryo.engine.dump.PageRun> readUnpinned(List<dev.cryo.engine.dump.PageRun> runs, List<long[]> ranges) {
        if (ranges == null || ranges.isEmpty()) {
            return runs;
        }
        List<dev.cryo.engine.dump.PageRun> out = new ArrayList<>(runs.size());
        for (dev.cryo.engine.dump.PageRun r : runs) {
            long at = r.address();
            int lo = 0, hi = ranges.size(); // the first range ending after the run starts
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (ranges.get(mid)[1] <= at) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            for (int i = lo; i < ranges.size() && ranges.get(i)[0] < r.end() && !r.viaProcMem(); i++) {
                long s = Math.max(ranges.get(i)[0], at), e = Math.min(ranges.get(i)[1], r.end());
                if (s > at) {
                    out.add(part(r, at, s, false));
                }
                out.add(part(r, s, e, true));
                at = e;
            }
            if (at < r.end()) {
                out.add(part(r, at, r.end(), r.viaProcMem()));
            }
        }
        return out;
    }

    private static dev.cryo.engine.dump.PageRun part(dev.cryo.engine.dump.PageRun r, long start, long end, boolean viaProcMem) {
        return new dev.cryo.engine.dump.PageRun(r.vmaIndex(), start, (int) ((end - start) / PAGE), viaProcMem, r.zeroImplicit());
    }

    /**
     * Only where the child has a page (present or swapped, found by PAGEMAP_SCAN) are both pagemaps
     * read: a page the child lacks is never one frame with its parent's, and reading every entry of a
     * reservation (a V8 cage, a JVM's or Go's heap: terabytes never touched) took seconds per child
     * (a Chromium's zygote-forked renderers: 13 s frozen).
     */
    private static long[] scan(Pid child, Pid parent) {
        List<Long> runs = new ArrayList<>();
        try (PagemapReader mine = PagemapReader.open(child); PagemapReader theirs = PagemapReader.open(parent);
             PagemapScan scanner = PagemapScan.open(child)) {
            for (dev.cryo.kernel.proc.MapsEntry m : dev.cryo.kernel.proc.ProcFs.maps(child)) {
                MemoryKind k = MemoryKinds.kindOf(m);
                if (k == MemoryKinds.ANON || k == MemoryKinds.HEAP || k == MemoryKinds.STACK || k == MemoryKinds.FILE_PRIVATE) {
                    for (long[] r : populated(scanner, m.start(), m.end())) {
                        shared(r[0], r[1], mine, theirs, runs);
                    }
                }
            }
        }
        return runs.stream().mapToLong(Long::longValue).toArray();
    }

    /** The ranges of [start, end) holding pages, adjacent ones joined; all of it without PAGEMAP_SCAN. */
    private static List<long[]> populated(PagemapScan scanner, long start, long end) {
        List<long[]> out = new ArrayList<>();
        if (scanner == null) {
            out.add(new long[] {start, end});
            return out;
        }
        long either = PagemapScan.PAGE_IS_PRESENT | PagemapScan.PAGE_IS_SWAPPED;
        scanner.scan(start, end, 0, 0, either, either, PagemapScan.Sink.joiningInto(out)); // across present and swapped
        return out;
    }

    private static void shared(long start, long end, PagemapReader mine, PagemapReader theirs, List<Long> runs) {
        long runStart = -1;
        for (long addr = start; addr < end; ) {
            int n = (int) Math.min(BATCH, (end - addr) / PAGE);
            long[] a = mine.read(addr, n);
            long[] b = theirs.read(addr, n);
            for (int i = 0; i < n; i++) {
                long page = addr + i * PAGE;
                if (oneFrame(a[i], b[i])) {
                    if (runStart < 0) {
                        runStart = page;
                    }
                } else if (runStart >= 0) {
                    runs.add(runStart);
                    runs.add((page - runStart) / PAGE);
                    runStart = -1;
                }
            }
            addr += n * PAGE;
        }
        if (runStart >= 0) {
            runs.add(runStart);
            runs.add((end - runStart) / PAGE);
        }
    }

    /**
     * {@code vmas} with the runs {@link #scan} found recorded in the private mappings they fall in
     * (runs never cross a mapping: each was found within one).
     */
    public static List<VmaImage> assign(List<VmaImage> vmas, long[] runs) {
        List<VmaImage> out = new ArrayList<>(vmas.size());
        for (VmaImage v : vmas) {
            if (!privatePages(v) || (v.advice() & NOT_INHERITED) != 0) {
                out.add(v);
                continue;
            }
            List<Long> mine = new ArrayList<>();
            for (int i = 0; i < runs.length; i += 2) {
                if (runs[i] >= v.start() && runs[i] < v.end()) {
                    mine.add(runs[i]);
                    mine.add(Math.min(runs[i + 1], (v.end() - runs[i]) / PAGE));
                }
            }
            out.add(mine.isEmpty() ? v : v.withInherited(mine.stream().mapToLong(Long::longValue).toArray()));
        }
        return out;
    }

    /** The same anonymous frame (a file's own page is no copy) or the same swap slot in both. */
    static boolean oneFrame(long mine, long theirs) {
        if (Pagemap.guard(mine) || Pagemap.guard(theirs)) {
            return false;
        }
        if (Pagemap.present(mine) && Pagemap.present(theirs)) {
            return !Pagemap.fileOrSharedAnon(mine) && Pagemap.pfn(mine) != 0 && Pagemap.pfn(mine) == Pagemap.pfn(theirs);
        }
        return Pagemap.swapped(mine) && Pagemap.swapped(theirs) && (mine & Pagemap.PFN_MASK) != 0
                && (mine & Pagemap.PFN_MASK) == (theirs & Pagemap.PFN_MASK);
    }

    // ---- restore -------------------------------------------------------------------------------

    /**
     * For each live task forked by a live task of {@code tasks}: the mappings it keeps from its
     * parent (those with inherited pages that the parent's image maps over the same area the same
     * way), by pid; tasks that keep none are left out. A parent with a sealed area forks no such
     * child: the child could not unmap what it inherits of it.
     */
    public static Map<Integer, List<VmaImage>> plan(List<TaskImage> tasks) {
        Map<Integer, TaskImage> byPid = new LinkedHashMap<>();
        tasks.forEach(t -> byPid.put(t.pid(), t));
        Map<Integer, List<VmaImage>> out = new LinkedHashMap<>();
        for (TaskImage child : tasks) {
            TaskImage parent = byPid.get(child.ids().ppid());
            if (parent == null || parent.pid() == child.pid() || child.execed()
                    || parent.vmas().stream().anyMatch(p -> (p.advice() & VmAdvice.SEALED) != 0)) {
                continue;
            }
            List<VmaImage> kept = child.vmas().stream()
                    .filter(v -> v.inherited().length > 0 && parent.vmas().stream().anyMatch(p -> sameArea(p, v))).toList();
            if (!kept.isEmpty()) {
                out.put(child.pid(), kept);
            }
        }
        return out;
    }

    /** Whether a fork of the parent with {@code p} mapped gives the child {@code v} as it was, pages aside. */
    static boolean sameArea(VmaImage p, VmaImage v) {
        return privatePages(p) && p.kind() == v.kind() && p.start() <= v.start() && v.end() <= p.end()
                && p.flags() == v.flags() && ((p.advice() | v.advice()) & NOT_INHERITED) == 0
                && ((p.advice() ^ v.advice()) & ~LOCKS) == 0 && p.guards().length == 0 && v.guards().length == 0
                && java.util.Objects.equals(p.file(), v.file())
                && (p.file() == null || p.offset() + (v.start() - p.start()) == v.offset());
    }

    /**
     * Restore half, in the child forked after its parent's memory was in place: the inherited area
     * {@code v} is kept (made writable as it would have been mapped) and the parent's pages it did
     * not share are dropped (they read zero, or the file's bytes, as before); its own pages are
     * written next, over that.
     */
    public static void keep(TaskContext t, VmaImage v) {
        t.later("mprotect(inherited 0x" + Long.toHexString(v.start()) + ")", SyscallNr.MPROTECT, v.start(),
                v.end() - v.start(), Mapper.privateProt(v));
        for (long[] gap : notShared(v)) {
            t.later("madvise(0x" + Long.toHexString(gap[0]) + ", dontneed, not shared with the parent)", SyscallNr.MADVISE,
                    gap[0], gap[1] - gap[0], MADV_DONTNEED);
        }
    }

    /** The ranges [start, end) of {@code v} outside its inherited runs. */
    static List<long[]> notShared(VmaImage v) {
        List<long[]> out = new ArrayList<>();
        long at = v.start();
        long[] runs = v.inherited();
        for (int i = 0; i < runs.length; i += 2) {
            if (runs[i] > at) {
                out.add(new long[] {at, runs[i]});
            }
            at = Math.max(at, runs[i] + runs[i + 1] * PAGE);
        }
        if (at < v.end()) {
            out.add(new long[] {at, v.end()});
        }
        return out;
    }

    /** The inherited runs of {@code kept} as sorted ranges [start, end), for cutting page lists. */
    public static List<long[]> sharedRanges(List<VmaImage> kept) {
        List<long[]> out = new ArrayList<>();
        for (VmaImage v : kept) {
            long[] runs = v.inherited();
            for (int i = 0; i < runs.length; i += 2) {
                out.add(new long[] {runs[i], runs[i] + runs[i + 1] * PAGE});
            }
        }
        out.sort(java.util.Comparator.comparingLong(r -> r[0]));
        return out;
    }
}
