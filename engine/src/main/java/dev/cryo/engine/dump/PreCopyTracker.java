package dev.cryo.engine.dump;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.memory.MemoryKind;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.PagemapScan;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.WriteTracker;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;


/**
 * Pre-copy of one task: its private memory is copied while it runs, round after round, each
 * round only the pages written since the previous one (uffd-wp async + PAGEMAP_SCAN, see
 * {@link WriteTracker}); the final, frozen round then sends what changed since.
 *
 * <p>An image made this way holds several chunks for the same page; the last one wins, and pages
 * outside the final mappings are dropped at restore. So that the last chunk is right, the final
 * round also re-sends pages sent earlier that are now absent (dropped by madvise, say), read as the
 * restored task would see them, and no round after the first skips zero pages.
 *
 * <p>Shared memory is pre-copied for the whole tree by {@link SharedPreCopy}, which scans this task's
 * mappings of it through this tracker's uffd and hands a carrier its pages; what it cannot track goes
 * in the final round whole, as in a plain dump.
 */
public final class PreCopyTracker implements AutoCloseable {
    private static final long PAGE = RemoteTask.PAGE;

    private final Pid pid;
    private final WriteTracker tracker;
    /** Page ranges already in the image (or meant to be: see {@link #owed}). */
    private PageRanges sent = PageRanges.EMPTY;
    /** Pages a round scanned as written but could not read (the running task unmapped or protected them first). */
    private PageRanges owed = PageRanges.EMPTY;
    /**
     * Pages sent earlier that a later running round found no longer carried (the zero page a read mapped
     * after a drop) and write-protected again: unchanged since, their ptes keep the bit, so the frozen
     * round's quick walk does not see them, and its closer look ({@link #suspects}) sends them as zeros.
     */
    private PageRanges sentNowUncarried = PageRanges.EMPTY;
    /**
     * Pages sent earlier that {@link #armEmpty} found empty (dropped since) and write-protected: a read
     * of one maps a page that keeps the bit, which the frozen round's quick walk does not see, so
     * the frozen round looks at them and sends them as the task now sees them.
     */
    private PageRanges armedSent = PageRanges.EMPTY;
    private int rounds;
    /** Walks of a mapping's page tables so far (each a PAGEMAP_SCAN over its range): what a round costs the kernel. */
    private long walks;
    private List<Long> layout = List.of();
    /** Where the kernel may have written pinned pages unseen since tracking began: the frozen round sends them. */
    private volatile PinnedWrites pinned = PinnedWrites.NONE;
    /** The frozen round's pages of the shared objects this task carries (SharedPreCopy), by address. */
    private volatile List<PageRun> sharedFinal = List.of();

    private PreCopyTracker(Pid pid, WriteTracker tracker) {
        this.pid = pid;
        this.tracker = tracker;
    }

    /**
     * Creates the uffd inside the task (which must be seized, on this tracer's thread), takes it out
     * with pidfd_getfd and closes it in the task again, so the task's fd table is as it was.
     */
    public static PreCopyTracker start(Tracer tracer, Pid pid) {
        Fd local;
        try (RemoteTask remote = new RemoteTask(tracer, pid, ProcFs.maps(pid));
             Injector inj = remote.injector(pid.value())) {
            local = dev.cryo.kernel.Uffd.makeInside(inj, pid, WriteTracker.UFFD_USER_MODE_ONLY);
        } catch (KernelException e) {
            throw new DumpException("pid " + pid + ": cannot start tracking its writes: " + e.getMessage(), e);
        }
        PreCopyTracker t = new PreCopyTracker(pid, WriteTracker.adopt(pid, local));
        try {
            t.registerExactly(ProcFs.maps(pid), m -> true); // the first round reports every page
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    /**
     * Tracking a pre-dump left running ({@link TrackingHolder}): {@code uffd} is the task's, registered and
     * armed back then, and {@code carried} the pages of the previous image this dump copies into its own
     * (as if an earlier round had sent them). A page not written since still has the write-protect bit
     * that round set, so it is as the previous image holds it; every other page is found by the rounds
     * as they find a page written since the last one (a mapping made since is not registered, and all
     * of it counts).
     */
    public static PreCopyTracker adopt(Pid pid, Fd uffd, PageRanges carried) {
        PreCopyTracker t = new PreCopyTracker(pid, WriteTracker.resume(pid, uffd));
        t.rounds = 1; // not a first round: zero pages need bytes, and only written pages are reported
        t.sent = carried;
        return t;
    }

    /** The address ranges of {@code maps} whose pages the rounds copy: where a previous image's pages may be carried. */
    public static PageRanges preCopiedRanges(List<MapsEntry> maps) {
        PageRanges.Builder b = new PageRanges.Builder(maps.size());
        maps.stream().filter(PreCopyTracker::ownPreCopied).forEach(m -> b.add(m.start(), m.end()));
        return b.build();
    }

    /** The pages the image holds, or will, of this task (sent by a round, or carried from a previous image). */
    public PageRanges sent() {
        return sent;
    }

    /**
     * Stops the task, every thread of it, around {@code whileStopped}: what registering a mapping
     * needs ({@link #registerExactly}). Called on the thread that may trace the task.
     */
    @FunctionalInterface
    public interface Stopper {
        void whileStopped(Runnable whileStopped);
    }

    /**
     * Registers each mapping of {@code maps} the tracking covers (private memory a round copies,
     * shared memory {@link SharedPreCopy} may carry) that {@code wanted} picks, over exactly its
     * bounds: a register over part of a mapping splits it in two (the kernel gives the registered
     * part flags of its own), and the program's next mremap over the whole mapping fails with EFAULT
     * (zdtm transition/shmem wrote through MAP_FAILED). So {@code maps} must be read with the task
     * stopped, and it stays stopped until this returns. Returns the private mappings it took (a
     * mapping the kernel refuses is remembered, and never stops the task again): nothing else is done
     * while the task is stopped.
     */
    private List<MapsEntry> registerExactly(List<MapsEntry> maps, java.util.function.Predicate<MapsEntry> wanted) {
        List<MapsEntry> own = new ArrayList<>();
        for (MapsEntry m : maps) {
            boolean mine = ownPreCopied(m);
            if (!(mine || SharedPreCopy.tracked(pid, m)) || !wanted.test(m)) {
                continue;
            }
            if (mine) {
                own.add(m);
            }
            try {
                tracker.register(m.start(), m.end());
            } catch (KernelException no) {
                if (no instanceof dev.cryo.kernel.SyscallException e && e.is(dev.cryo.kernel.Errno.EBUSY) && trackedElsewhere(m)) {
                    // another uffd tracks its writes (a second cryo, the program's own): a round's scan would
                    // read that one's write-protect bits, set at some other time, and miss the pages written before
                    throw new DumpException("pid " + pid + ": " + "the mapping " + m + " is write-protect tracked by a "
                            + "userfaultfd that is not this dump's (another cryo dump, or the program's own): its writes "
                            + "cannot be told apart; dump it without --pre-copy");
                }
                refused = refused.union(whole(m)); // its carried pages sent by every round (and frozen), as before
            }
        }
        return own;
    }

    /** Whether {@code m} is registered for async write-protect (by some uffd): a scan through it then works. */
    private boolean trackedElsewhere(MapsEntry m) {
        try {
            tracker.unprotected(m.start(), m.end(), (s, e, c) -> { });
            return true;
        } catch (WriteTracker.NotRegisteredException e) {
            return false;
        }
    }

    /** Ranges of mappings the kernel would not register: not worth stopping the task for again. */
    private PageRanges refused = PageRanges.EMPTY;
    /** Addresses of shared mappings SharedPreCopy found unregistered: the next round registers them, stopped. */
    private final java.util.Set<Long> sharedToRegister = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Asks the next {@link #round} to register the shared mapping at {@code address} (with the task stopped). */
    void registerShared(long address) {
        sharedToRegister.add(address);
    }

    /** A private mapping of this task that the rounds copy (see {@link #preCopied}). */
    private static boolean ownPreCopied(MapsEntry m) {
        return !m.isSpecial() && !m.path().startsWith("/SYSV") && preCopied(MemoryKinds.kindOf(m), m);
    }

    public Pid pid() {
        return pid;
    }

    /** The uffd tracking of this task's mm, for the scans of its shared mappings (SharedPreCopy). */
    public WriteTracker writes() {
        return tracker;
    }

    /**
     * Addresses where a round sent pages of a shared object that is no longer pre-copied: the frozen round
     * sends them again as the task now sees them, as it does for its own pages gone since.
     */
    public void alsoSent(PageRanges addresses) {
        sent = sent.union(addresses);
    }

    /** The frozen round's pages of the shared objects this task carries, found with the tree frozen. */
    public void sharedFinal(List<PageRun> runs) {
        sharedFinal = List.copyOf(runs);
    }

    public int rounds() {
        return rounds;
    }

    /** Where the kernel may have written this task's pages unseen (DMA through a pin): sent whole when frozen. */
    public PinnedWrites pinned() {
        return pinned;
    }

    /** Walks of a mapping's page tables so far: one per pre-copied mapping a running round looks at. */
    public long walks() {
        return walks;
    }

    /**
     * Pieces of the last round its copy could not read: the round re-armed their tracking, so no later
     * round reports them unless written again; the frozen round sends those still carried.
     */
    public void owe(List<PageRun> pieces) {
        if (pieces.isEmpty()) {
            return;
        }
        PageRanges.Builder b = new PageRanges.Builder(pieces.size());
        pieces.forEach(r -> b.add(r.address(), r.end()));
        owed = owed.union(b.build());
    }

    /**
     * The mappings whose pages are copied while the task runs (and found by the tracker when frozen):
     * private ones of these kinds that the task may access. An area with no access at all is an
     * address-space reservation (V8's pointer cage and PartitionAlloc's pools, a JVM's or Go's heap
     * not yet committed: terabytes in a browser's renderer); registering it is work for nothing (and
     * put a marker in each of its empty ptes while the tracker asked for WP_UNPOPULATED: 3 GiB of page
     * tables per Chromium renderer). Nothing writes it without an mprotect first, which makes a new area
     * the next round registers; what such an area holds goes in the frozen round, as a plain dump takes it.
     */
    public static boolean preCopied(MemoryKind kind, MapsEntry m) {
        return (kind == MemoryKinds.ANON || kind == MemoryKinds.HEAP || kind == MemoryKinds.STACK
                || kind == MemoryKinds.FILE_PRIVATE) && (m.read() || m.write() || m.exec());
    }

    /**
     * One round while the task runs: the pages written since the last round (the first round: every
     * populated page) of its private mappings. Tracking is re-armed before anything is copied, so a
     * write that races the copy is sent again next round.
     */
    public List<PageRun> round(Stopper stopper) {
        List<PageRun> out = new ArrayList<>();
        boolean first = rounds == 0;
        List<Long> areas = new ArrayList<>();
        long either = carriedCategories();
        List<MapsEntry> maps = ProcFs.maps(pid);
        PageRanges.Builder uncarried = new PageRanges.Builder();
        PageRanges.Builder unregistered = new PageRanges.Builder();
        try (PagemapScan carried = PagemapScan.open(pid)) {
            for (MapsEntry m : maps) {
                if (!ownPreCopied(m)) {
                    continue;
                }
                MemoryKind kind = MemoryKinds.kindOf(m);
                if ((kind == MemoryKinds.ANON || kind == MemoryKinds.HEAP) && m.read() && m.write() && !m.exec()) {
                    areas.add(m.start());
                    areas.add(m.end());
                }
                // only the written pages a plain dump would carry are sent (and so counted as sent): a
                // first scan reports every page, absent ones too; later ones also report pages that
                // were never written — a file page faulted in, the zero page mapped by a read (ours
                // included: copying a run maps the zero page into its holes) — as their ptes lack the
                // write-protect bit. Sending those every round, and again frozen as "stale", was waste
                // (1 GiB of the dirtier: 33 MiB frozen where 10 MiB/s of writes leave a few)
                List<long[]> written = writtenCarried(carried, either, m, kind, uncarried, unregistered);
                for (long[] r : written) {
                    // first round: nothing is in the image yet, so zero pages need no bytes (as in a plain dump)
                    boolean zeroImplicit = first && kind != MemoryKinds.FILE_PRIVATE;
                    addRuns(out, 0, r[0], r[1], !m.read(), zeroImplicit);
                }
            }
        }
        registerNew(stopper, unregistered.build(), out, uncarried, first);
        pinned = pinned.and(PinnedWrites.look(pid, maps)); // after the scans: a pin that spans one is unseen
        rounds++;
        PageRanges.Builder now = new PageRanges.Builder(out.size());
        out.forEach(r -> now.add(r.address(), r.end()));
        PageRanges carriedNow = now.build();
        sent = sent.union(carriedNow);
        sentNowUncarried = sentNowUncarried.minus(carriedNow).union(uncarried.build().intersect(sent));
        armedSent = armedSent.minus(carriedNow);
        layout = areas;
        return out;
    }

    /** Runs of empty ptes longer than this are left unarmed: a hole among them would get page tables. */
    private static final long ARM_MAX = 256 * PAGE;

    /**
     * Write-protects the empty ptes of the anonymous mappings (pages dropped since they were written, pages
     * never touched in an area that has page tables), which no round re-arms (a round arms only pages
     * there, see {@link WriteTracker#scan}), so that the frozen round's quick walk ({@link #suspects})
     * finds only what changed after this: a heap that frees pages here and there (the dirtier drops one page
     * in 64 and leaves another untouched) otherwise left an empty pte every few pages, every gap between two
     * below {@link #GAP}, and the frozen round read the categories of the whole GiB (a walk of 5-8 ms of CPU,
     * 21-32 ms of wall time at load 14, in the freeze). Called while the task runs, after a round that is
     * likely the last; runs longer than {@link #ARM_MAX} are left alone. Returns the pages armed.
     */
    public long armEmpty() {
        if (SwapSpace.enabled()) {
            return 0; // a marker reads as swapped, which is carried where swap is on
        }
        PageRanges.Builder armed = new PageRanges.Builder();
        for (MapsEntry m : ProcFs.maps(pid)) {
            MemoryKind kind = MemoryKinds.kindOf(m);
            if (!ownPreCopied(m) || !(kind == MemoryKinds.ANON || kind == MemoryKinds.HEAP || kind == MemoryKinds.STACK)) {
                continue;
            }
            PageRanges.Builder empty = new PageRanges.Builder();
            try {
                walks++;
                tracker.unprotected(m.start(), m.end(), (s, e, c) -> {
                    if (e - s <= ARM_MAX) {
                        empty.add(s, e);
                    }
                });
            } catch (KernelException e) {
                continue; // changed since the maps were read, or gone: nothing armed there
            }
            PageRanges found = empty.build();
            // one call per group of runs at most GAP apart (the pages between hold the bit already)
            for (int k = 0, first = 0; k < found.size(); k++) {
                if (k + 1 == found.size() || found.start(k + 1) - found.end(k) > GAP) {
                    long from = found.start(first), to = found.end(k);
                    first = k + 1;
                    try {
                        walks++;
                        tracker.armEmpty(from, to, (s, e, c) -> armed.add(s, e));
                    } catch (KernelException e) {
                        // a call that fails may have armed part of its range unreported: all of it counts as armed
                        armed.add(from, to);
                        break;
                    }
                }
            }
        }
        PageRanges done = armed.build();
        armedSent = armedSent.union(done.intersect(sent));
        return done.length() / PAGE;
    }

    /**
     * The private, writable anonymous areas seen by the last {@link #round}, as start, end pairs:
     * where a migration's destination can place this round's pages before the freeze.
     */
    public List<Long> layout() {
        return layout;
    }

    /**
     * The categories of a page the image carries: present, or swapped out. A uffd-wp marker (an
     * empty pte of a private file mapping the tracker write-protected) reads as "swapped" too; without swap on
     * this host nothing is swapped out, so only present pages count (with swap, markers are sent
     * as zero pages: more bytes, never wrong).
     */
    private static long carriedCategories() {
        return PagemapScan.PAGE_IS_PRESENT | (SwapSpace.enabled() ? PagemapScan.PAGE_IS_SWAPPED : 0);
    }

    /**
     * The part of {@code written} that holds pages a plain dump would carry: present or swapped
     * anonymous pages (not the shared zero page), the copied-on-write pages of a private file mapping.
     */
    private List<long[]> carriedOf(PagemapScan scan, long either, MapsEntry m, MemoryKind kind,
                                          List<long[]> written) {
        if (written.isEmpty() || scan == null) {
            return written; // no PAGEMAP_SCAN: cannot happen with a working tracker, but sending more is safe
        }
        PageRanges.Builder carried = new PageRanges.Builder();
        long skip = kind == MemoryKinds.FILE_PRIVATE ? PagemapScan.PAGE_IS_FILE : PagemapScan.PAGE_IS_PFNZERO;
        walks++;
        scan.scan(m.start(), m.end(), skip, skip, either, either,
                (s, e, c) -> carried.add(s, e));
        return toList(ranges(written).intersect(carried.build()));
    }

    /**
     * The pages of {@code m} written since the last round that a plain dump would carry (see
     * {@link #carriedOf}), re-armed: one walk of its page tables gives both (two walks of each GiB
     * per round made the rounds longer, and the frozen round bigger by what was written meanwhile).
     */
    private List<long[]> writtenCarried(PagemapScan scan, long either, MapsEntry m, MemoryKind kind,
                                        PageRanges.Builder uncarried, PageRanges.Builder unregistered) {
        long skip = kind == MemoryKinds.FILE_PRIVATE ? PagemapScan.PAGE_IS_FILE : PagemapScan.PAGE_IS_PFNZERO;
        PageRanges.Builder carried = new PageRanges.Builder();
        try {
            walks++;
            // every range reported is write-protected again, carried or not
            tracker.scan(m.start(), m.end(), either | skip, (s, e, c) -> {
                if ((c & skip) == 0 && (c & either) != 0) {
                    carried.add(s, e);
                } else {
                    uncarried.add(s, e);
                }
            });
        } catch (WriteTracker.NotRegisteredException e) {
            // made since the last round: registered by registerNew, with the task stopped
            unregistered.add(m.start(), m.end());
            return List.of();
        }
        return toList(carried.build());
    }

    /**
     * Registers the mappings made since the last round ({@code unregistered}, as the running task's maps
     * showed them) and the shared ones {@link SharedPreCopy} asked for, exactly as they are once the task
     * is stopped (see {@link #registerExactly}); a private one's carried pages all go in this round. A
     * task that cannot be stopped (exiting, or stuck) has them sent whole unregistered: the next round tries again.
     */
    private void registerNew(Stopper stopper, PageRanges unregistered, List<PageRun> out, PageRanges.Builder uncarried,
                             boolean first) {
        List<Long> shared = new ArrayList<>(sharedToRegister);
        sharedToRegister.removeAll(shared);
        PageRanges wanted = unregistered.minus(refused);
        List<long[]> fresh = new ArrayList<>();
        List<MapsEntry> stopped = new ArrayList<>();
        if (!wanted.isEmpty() || !shared.isEmpty()) {
            try {
                List<MapsEntry> took = new ArrayList<>();
                stopper.whileStopped(() -> {
                    List<MapsEntry> now = ProcFs.maps(pid);
                    stopped.addAll(now);
                    took.addAll(registerExactly(now, m -> wanted.meets(m.start(), m.end())
                            || shared.stream().anyMatch(a -> m.start() <= a && a < m.end())));
                });
                // running again: armed, then every carried page counts (a write since the register is among them)
                try (PagemapScan scanner = PagemapScan.open(pid)) {
                    for (MapsEntry m : took) {
                        try {
                            walks++;
                            writtenPages(m); // arms it: the next scan reports only later writes
                        } catch (KernelException changedSince) {
                            // refused, or remapped since: the next round finds it unregistered again
                        }
                        fresh.addAll(carriedOf(scanner, carriedCategories(), m, MemoryKinds.kindOf(m),
                                List.<long[]>of(new long[] {m.start(), m.end()})));
                    }
                }
            } catch (RuntimeException notStopped) {
                fresh.clear();
                stopped.clear();
            }
        }
        // not registered (refused, gone, or the task could not be stopped): every carried page there counts
        PageRanges.Builder done = new PageRanges.Builder();
        stopped.stream().filter(m -> ownPreCopied(m) && wanted.meets(m.start(), m.end())).forEach(m -> done.add(m.start(), m.end()));
        PageRanges left = unregistered.minus(done.build());
        List<MapsEntry> maps = stopped.isEmpty() && !left.isEmpty() ? ProcFs.maps(pid) : stopped;
        if (!left.isEmpty()) {
            try (PagemapScan scanner = PagemapScan.open(pid)) {
                for (MapsEntry m : maps) {
                    if (ownPreCopied(m) && left.meets(m.start(), m.end())) {
                        fresh.addAll(carriedOf(scanner, carriedCategories(), m, MemoryKinds.kindOf(m), toList(left.within(m.start(), m.end()))));
                    }
                }
            }
        }
        PageRanges sending = ranges(fresh);
        PageRanges looked = done.build().union(left);
        for (MapsEntry m : maps) {
            if (!ownPreCopied(m) || !looked.meets(m.start(), m.end())) {
                continue;
            }
            PageRanges here = sending.within(m.start(), m.end());
            looked.within(m.start(), m.end()).minus(here).forEach(uncarried::add);
            for (int k = 0; k < here.size(); k++) {
                addRuns(out, 0, here.start(k), here.end(k), !m.read(), first && MemoryKinds.kindOf(m) != MemoryKinds.FILE_PRIVATE);
            }
        }
    }

    private static PageRanges ranges(List<long[]> list) {
        PageRanges.Builder b = new PageRanges.Builder(list.size());
        list.forEach(r -> b.add(r[0], r[1]));
        return b.build();
    }

    private static List<long[]> toList(PageRanges r) {
        List<long[]> out = new ArrayList<>(r.size());
        for (int i = 0; i < r.size(); i++) {
            out.add(new long[] {r.start(i), r.end(i)});
        }
        return out;
    }

    /**
     * The frozen round: its page runs, and the guard pages of the pre-copied mappings by their index
     * in the plan, as pairs (address, pages) like {@link VmaImage#guards()}: the plan leaves those
     * mappings' pages and guards to this walk (a guard page is never written: no round sees it).
     */
    public record FinalRound(List<PageRun> runs, Map<Integer, long[]> guards) {
        /** The plan's mappings with the guard pages found here. */
        public List<VmaImage> withGuards(List<VmaImage> vmas) {
            if (guards.isEmpty()) {
                return vmas;
            }
            List<VmaImage> out = new ArrayList<>(vmas);
            guards.forEach((i, g) -> out.set(i, out.get(i).withGuards(g)));
            return out;
        }
    }

    /**
     * The frozen round, given the final memory plan: for private mappings, the pages written since the
     * last round plus those sent earlier that the plan no longer wants; everything else as planned.
     */
    public FinalRound finalRuns(MemoryPlan plan) {
        categorized = 0;
        List<PageRun> out = new ArrayList<>();
        Map<Integer, long[]> guards = new TreeMap<>();
        List<VmaImage> vmas = plan.vmas();
        Map<Integer, List<PageRun>> planned = new TreeMap<>();
        for (PageRun r : plan.runs()) {
            planned.computeIfAbsent(r.vmaIndex(), k -> new ArrayList<>()).add(r);
        }
        long either = carriedCategories();
        try (PagemapScan scanner = PagemapScan.open(pid)) {
        for (int i = 0; i < vmas.size(); i++) {
            VmaImage v = vmas.get(i);
            List<PageRun> wanted = planned.getOrDefault(i, List.of());
            MapsEntry m = plan.maps().get(i);
            if (!preCopied(v.kind(), m)) {
                out.addAll(wanted);
                for (PageRun r : sharedFinal) {
                    if (r.address() >= m.start() && r.end() <= m.end()) {
                        out.add(new PageRun(i, r.address(), r.pages(), !m.read(), r.zeroImplicit()));
                    }
                }
                // a shared object's carrier pages a round could not read (PROT_NONE: process_vm_readv
                // refuses it): SharedPreCopy counts them sent, so they are read here, as they are now
                PageRanges owedHere = owed.within(m.start(), m.end());
                for (int k = 0; k < owedHere.size(); k++) {
                    addRuns(out, i, owedHere.start(k), owedHere.end(k), !m.read(), false);
                }
                staleOf(out, i, m, wanted);
                continue;
            }
            // one walk of the page tables gives both what was written since the last round and what
            // is carried now (a walk of 1 GiB is a good part of the freeze; this used to take two);
            // the walk reports ranges in address order: appended, then merged linearly
            PageRanges.Builder carriedNow = new PageRanges.Builder(1024);
            PageRanges.Builder written = new PageRanges.Builder();
            long skip = v.kind() == MemoryKinds.FILE_PRIVATE ? PagemapScan.PAGE_IS_FILE : PagemapScan.PAGE_IS_PFNZERO;
            PageRanges.Builder guarded = new PageRanges.Builder();
            PageRanges carried, send;
            PageRanges looked = PageRanges.EMPTY; // where the walk read every page's categories
            try {
                long mask = WriteTracker.PAGE_IS_WRITTEN | either | skip | PagemapScan.PAGE_IS_GUARD;
                PagemapScan.Sink each = (s, e, c) -> {
                    if ((c & PagemapScan.PAGE_IS_GUARD) != 0) {
                        guarded.add(s, e); // shows as swapped too: holds nothing, never copied
                    } else if ((c & skip) == 0 && (c & either) != 0) {
                        carriedNow.add(s, e);
                        // written and carried now; written and gone since (absent, the zero page)
                        // counts only if an earlier copy is in the image: that is the stale set below
                        if ((c & WriteTracker.PAGE_IS_WRITTEN) != 0) {
                            written.add(s, e);
                        }
                    }
                };
                looked = quick(v, either) ? suspects(m) : whole(m);
                for (int k = 0; k < looked.size(); k++) {
                    walks++;
                    tracker.categories(looked.start(k), looked.end(k), mask, each);
                }
                categorized += looked.length() / PAGE;
                carried = carriedNow.build();
                send = written.build().union(resent(m).intersect(carried));
            } catch (WriteTracker.NotRegisteredException e) {
                // made since the last round: registered now (a fresh scan reports every page written)
                looked = whole(m);
                walks++;
                scanner.scan(m.start(), m.end(), 0, PagemapScan.PAGE_IS_GUARD, 0, PagemapScan.PAGE_IS_GUARD,
                        (a, b, c) -> guarded.add(a, b));
                List<long[]> fresh = written(m);
                if (!sent.meets(m.start(), m.end())) {
                    // nothing of it sent: what a plain dump would carry
                    for (long[] r : carriedOf(scanner, either, m, v.kind(), fresh)) {
                        addRuns(out, i, r[0], r[1], !m.read(), v.kind() != MemoryKinds.FILE_PRIVATE);
                    }
                    putGuards(guards, i, guarded.build());
                    continue;
                }
                carried = ranges(carriedOf(scanner, either, m, v.kind(), List.<long[]>of(new long[] {m.start(), m.end()})));
                send = ranges(fresh).union(resent(m)).intersect(carried);
            }
            PageRanges guardPages = guarded.build();
            putGuards(guards, i, guardPages);
            // written through a pin (DMA, READ_FIXED) without a fault: what a plain dump would carry
            send = pinned.anywhere() != null ? carried
                    : send.union(pinned.buffers().within(m.start(), m.end()).intersect(carried));
            // sent before, no longer carried: the restored page must show what the task now sees
            // (judged like the rounds, not by the plan, which counts uffd-wp markers as swapped)
            // (outside what was looked at, a page sent is carried still: see suspects); not a page made a
            // guard since, which holds nothing and cannot be read (EFAULT failed the dump): its restore installs the guard
            PageRanges all = send.union(sent.within(m.start(), m.end()).intersect(looked).minus(carried).minus(guardPages));
            for (int k = 0; k < all.size(); k++) {
                addRuns(out, i, all.start(k), all.end(k), !m.read(), false);
            }
        }
        }
        rounds++;
        return new FinalRound(out, guards);
    }

    /** Pages of {@code m} the frozen round sends as they are now if carried: owed ones, and those armed since they were sent. */
    private PageRanges resent(MapsEntry m) {
        return owed.within(m.start(), m.end()).union(armedSent.within(m.start(), m.end()));
    }

    /** Pages of private memory whose categories the last frozen round read (the rest only had their write-protect bit read). */
    public long categorized() {
        return categorized;
    }

    private long categorized;

    /**
     * Gaps of at most this much between two of the frozen round's closer looks ({@link #suspects}) are
     * looked at too, in one call: a call costs about what the walk of 256 pages does.
     */
    private static final long GAP = 256 * PAGE;

    /**
     * Whether the frozen round may read only the write-protect bits of mapping {@code v} and look
     * closer at {@link #suspects}: anonymous memory (a page dropped there leaves an empty pte, never a
     * marker, as in a private file mapping), without swap, no pin the kernel may write through unseen,
     * and no guard page (a round write-protects one it finds, which then hides from the quick walk):
     * none where the kernel marks every area that ever had one ("gu" in smaps, read after the last
     * round's walk; one made since has no write-protect bit yet, the quick walk sees it).
     */
    private boolean quick(VmaImage v, long either) {
        MemoryKind kind = v.kind();
        return (kind == MemoryKinds.ANON || kind == MemoryKinds.HEAP || kind == MemoryKinds.STACK)
                && (either & PagemapScan.PAGE_IS_SWAPPED) == 0 && pinned.anywhere() == null
                && (v.advice() & dev.cryo.engine.memory.VmAdvice.MAYBE_GUARD) == 0 && WriteTracker.guardsFlagged();
    }

    private static PageRanges whole(MapsEntry m) {
        return new PageRanges.Builder(1).add(m.start(), m.end()).build();
    }

    /**
     * Where the frozen round must read the categories of a registered anonymous mapping (gaps below
     * {@link #GAP} included): what one quick walk ({@link WriteTracker#unprotected}) finds without the
     * write-protect bit (written, dropped, never touched), the pages sent that a round re-armed as no
     * longer carried, what is owed, and the pinned buffers. Any other pte still has the bit a round
     * set, which only a write or a drop takes off: its page is as that round found it (carried and
     * sent, or never sent and not carried).
     */
    private PageRanges suspects(MapsEntry m) {
        PageRanges.Builder found = new PageRanges.Builder();
        walks++;
        tracker.unprotected(m.start(), m.end(), (s, e, c) -> found.add(s, e));
        PageRanges all = found.build().union(sentNowUncarried.within(m.start(), m.end()))
                .union(armedSent.within(m.start(), m.end()))
                .union(owed.within(m.start(), m.end())).union(pinned.buffers().within(m.start(), m.end()));
        PageRanges.Builder b = new PageRanges.Builder(all.size());
        for (int k = 0, first = 0; k < all.size(); k++) {
            if (k + 1 == all.size() || all.start(k + 1) - all.end(k) > GAP) {
                b.add(all.start(first), all.end(k));
                first = k + 1;
            }
        }
        return b.build();
    }

    /**
     * Pages a round sent of a mapping the frozen plan takes whole (made inaccessible since, as an
     * allocator does to memory it frees) that the plan no longer carries: sent again as the task now
     * sees them, or the earlier copy would win at restore.
     */
    private void staleOf(List<PageRun> out, int vma, MapsEntry m, List<PageRun> wanted) {
        PageRanges before = sent.within(m.start(), m.end());
        if (before.isEmpty()) {
            return;
        }
        PageRanges.Builder now = new PageRanges.Builder(wanted.size());
        wanted.forEach(r -> now.add(r.address(), r.end()));
        PageRanges stale = before.minus(now.build());
        for (int k = 0; k < stale.size(); k++) {
            addRuns(out, vma, stale.start(k), stale.end(k), !m.read(), false);
        }
    }

    private static void putGuards(Map<Integer, long[]> guards, int vma, PageRanges g) {
        if (g.isEmpty()) {
            return;
        }
        long[] pairs = new long[2 * g.size()];
        for (int k = 0; k < g.size(); k++) {
            pairs[2 * k] = g.start(k);
            pairs[2 * k + 1] = (g.end(k) - g.start(k)) / PAGE;
        }
        guards.put(vma, pairs);
    }

    /**
     * Written ranges of one mapping that hold pages; a mapping made since the last round is registered, and all its
     * pages count. Part of it not registered, all of it counts: the failed scan may have taken (and
     * re-armed) the marks of the part before the one it stopped at. A task that remaps as it runs
     * (zdtm maps007) can change the range again between the register and the scan that arms it: the
     * next round, or the frozen one, then finds it unregistered and counts it all once more.
     */
    private List<long[]> written(MapsEntry m) {
        try {
            walks++;
            return writtenPages(m);
        } catch (WriteTracker.NotRegisteredException e) {
            try {
                tracker.register(m.start(), m.end());
                walks++;
                writtenPages(m); // arms it: the next scan reports only later writes
            } catch (KernelException changedMeanwhile) {
                // the running task has remapped part of the range since its maps were read
            }
            return List.of(new long[] {m.start(), m.end()});
        }
    }

    /**
     * The written ranges of {@code m} that hold pages, re-armed (WriteTracker#scan: empty ptes are left
     * alone); every caller keeps only pages a dump carries of them.
     */
    private List<long[]> writtenPages(MapsEntry m) {
        List<long[]> out = new ArrayList<>();
        tracker.scan(m.start(), m.end(), 0, dev.cryo.kernel.PagemapScan.Sink.joiningInto(out));
        return out;
    }

    private static void addRuns(List<PageRun> out, int vmaIndex, long start, long end, boolean viaProcMem,
                                boolean zeroImplicit) {
        out.add(new PageRun(vmaIndex, start, (int) ((end - start) / PAGE), viaProcMem, zeroImplicit));
    }

    @Override
    public void close() {
        tracker.close();
    }
}
