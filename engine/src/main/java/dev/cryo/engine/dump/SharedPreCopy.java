package dev.cryo.engine.dump;

import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.engine.memory.PageScan;
import dev.cryo.engine.memory.SysvSharedMemory;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileExtents;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.PagemapScan;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.ProcessEvents;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.WriteTracker;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Pre-copy of the tree's shared memory objects (MAP_SHARED anonymous memory and memfds, SysV segments
 * marked for removal: the shared memory whose pages go into the image), each once for the whole tree.
 * A write through any mapping is caught by the uffd-wp tracking of the task that maps it: every task's
 * mapping of an object is registered with that task's uffd (the kernel keeps write-protect markers in
 * shmem page tables, so a page a task never touched is caught too), and a round's written pages are
 * the union of every mapping's. A write with no page table entry cannot be seen, so an object is
 * pre-copied only if none can happen unseen; else it goes whole into the frozen round, as in a plain
 * dump:
 * <ul>
 * <li>no process holds an fd of it (write(2), pwrite, fallocate: the tree's tasks at every look, any
 *     process at the first), and no process outside the tree maps it (looked at at the first round);
 * <li>a mapping gone since the last look (a task exited, unmapped it, ran exec), a mapping new since
 *     (not armed before), a fork by a task that maps it (the child's mapping is not tracked: the kernel
 *     drops the registration in a child) or a task mapping it that is not tracked: every page of the
 *     object counts as written. Forks are heard from the kernel's process events connector; without
 *     it (not root, another network or pid namespace) nothing shared is pre-copied.
 * </ul>
 * One task carries all pages of an object (its "carrier": the first task whose single mapping shows
 * every page any task of the tree maps), in every round and frozen: a restore keeps the last copy of a
 * page per task, so copies of different ages under two tasks could land in either order. The rounds'
 * pages are read after every mapping of the round was scanned, so a copy is never older than a scan.
 */
public final class SharedPreCopy implements AutoCloseable {
    private static final long PAGE = RemoteTask.PAGE;

    /** One mapping of an object by one task; pages {@code offset/PAGE} on in the object. */
    record Window(int pid, long start, long end, long offset) {
        long firstPage() {
            return offset / PAGE;
        }

        long endPage() {
            return firstPage() + (end - start) / PAGE;
        }

        boolean covers(Window o) {
            return firstPage() <= o.firstPage() && o.endPage() <= endPage();
        }
    }

    /** One pre-copied object. */
    private static final class Shared {
        final long key;
        final Window carrier;
        /** Carrier addresses whose pages some round sent. */
        PageRanges sent = PageRanges.EMPTY;
        /** The windows seen at the last look (a write through one gone since was not seen). */
        Set<Window> seen = Set.of();
        /** Those of them whose scan armed them (registered before that look): the next scan of one reports every later write. */
        Set<Window> armed = Set.of();
        /** Why it is no longer pre-copied (null: it is). */
        String abandoned;

        Shared(long key, Window carrier) {
            this.key = key;
            this.carrier = carrier;
        }
    }

    private final ProcessEvents events;
    private final Consumer<String> log;
    private final Map<Long, Shared> objects = new LinkedHashMap<>();
    private boolean started;

    private SharedPreCopy(ProcessEvents events, Consumer<String> log) {
        this.events = events;
        this.log = log;
    }

    /** Listens for forks from now on; nothing shared is pre-copied where the kernel cannot say (see class). */
    public static SharedPreCopy start(Consumer<String> log) {
        ProcessEvents events = ProcessEvents.open();
        if (events == null) {
            log.accept("shared memory goes whole into the frozen round: the process events connector is not"
                    + " available here (forks could not be seen)");
        }
        return new SharedPreCopy(events, log);
    }

    /**
     * One running round: scans every tracked task's mappings of the pre-copied objects (re-arming them)
     * and returns, by carrier pid, the pages to copy now, after every scan of the round.
     */
    public synchronized Map<Integer, List<PageRun>> round(Map<Pid, PreCopyTracker> trackers) {
        if (events == null || (started && objects.isEmpty())) {
            return Map.of();
        }
        ProcessEvents.Drained forks = drain();
        Map<Long, List<Window>> now = windows(trackers.keySet());
        if (!started) {
            started = true;
            select(now, trackers.keySet());
        }
        return look(now, trackers, forks);
    }

    /**
     * The frozen round, with every task of the tree stopped ({@code frozen}, tracked or not): the pages
     * each carrier sends, handed to its tracker ({@link PreCopyTracker#sharedFinal}); the carrier's
     * window is claimed in {@code claims} so that no task's plan takes it whole. An object no longer
     * pre-copied is left to the plan, and the carrier re-sends what it sent of it as it is now.
     * With no object pre-copied it reads nothing: the events connector queues every fork, exec and
     * exit of the host since the last round, and draining them on a busy host took 8-36 ms of the freeze.
     */
    public synchronized void freeze(Map<Pid, PreCopyTracker> trackers, Collection<Pid> frozen, SharedMemoryClaims claims) {
        if (!precopying()) {
            return;
        }
        ProcessEvents.Drained forks = drain();
        Map<Long, List<Window>> now = windows(frozen);
        Map<Integer, List<PageRun>> runs = look(now, trackers, forks);
        for (Shared s : objects.values()) {
            PreCopyTracker carrier = trackers.get(new Pid(s.carrier.pid()));
            if (s.abandoned == null) {
                claims.claim(s.key, s.carrier.firstPage(), s.carrier.endPage());
            } else if (carrier != null) {
                carrier.alsoSent(s.sent);
            }
        }
        runs.forEach((pid, r) -> trackers.get(new Pid(pid)).sharedFinal(r));
    }

    /** Whether the rounds have begun and pre-copy some object: only then are the process events read. */
    private boolean precopying() {
        return events != null && started && !objects.isEmpty();
    }

    /** Forks (and overflows) the connector told of at a {@link #catchUp}, not looked at yet. */
    private final Set<Integer> heardForks = new HashSet<>();
    private boolean heardOverflow;

    /**
     * Reads the process events queued so far, right before the seize while the tree still runs,
     * and keeps what they tell for the next look: the freeze then reads only the events of its own
     * few ms, not every fork, exec and exit of the host since the last round (tens of ms on a busy
     * host).
     */
    public synchronized void catchUp() {
        if (!precopying()) {
            return;
        }
        ProcessEvents.Drained d = events.drain();
        heardForks.addAll(d.forkedParents());
        heardOverflow |= d.overflow();
    }

    /** The events since the last look: those a catch-up kept and those queued since. */
    private ProcessEvents.Drained drain() {
        ProcessEvents.Drained d = events.drain();
        if (heardForks.isEmpty() && !heardOverflow) {
            return d;
        }
        Set<Integer> forks = new HashSet<>(heardForks);
        forks.addAll(d.forkedParents());
        ProcessEvents.Drained all = new ProcessEvents.Drained(forks, heardOverflow || d.overflow());
        heardForks.clear();
        heardOverflow = false;
        return all;
    }

    /** The first look: which objects are pre-copied, and by which carrier. */
    private void select(Map<Long, List<Window>> now, Collection<Pid> tree) {
        Set<Integer> pids = new HashSet<>();
        tree.forEach(p -> pids.add(p.value()));
        Set<Long> outside = outsideHolders(now.keySet(), pids);
        Set<Long> inside = new HashSet<>();
        inTreeFds(now.keySet(), now).values().forEach(inside::addAll);
        for (Map.Entry<Long, List<Window>> e : now.entrySet()) {
            if (outside.contains(e.getKey()) || inside.contains(e.getKey())) {
                log.accept("shared memory " + name(e.getKey()) + " is " + (inside.contains(e.getKey())
                        ? "held open by a task of the tree (a write(2) is not tracked)" : "held or mapped outside the tree")
                        + ": it goes whole into the frozen round");
                continue;
            }
            Window carrier = carrierOf(e.getValue());
            if (carrier == null) {
                log.accept("shared memory " + name(e.getKey()) + ": no mapping shows every page the tree maps of it: it"
                        + " goes whole into the frozen round");
                continue;
            }
            objects.put(e.getKey(), new Shared(e.getKey(), carrier));
            log.accept("shared memory " + name(e.getKey()) + " is pre-copied, carried by pid " + carrier.pid() + " at 0x"
                    + Long.toHexString(carrier.start()));
        }
    }

    /**
     * Whether {@code w} has guard pages (MADV_GUARD_INSTALL): a round's copy through one fails, and the piece it
     * was in would be owed to a frozen round that does not re-read shared objects still pre-copied.
     */
    private static boolean guarded(Window w) {
        try (PagemapScan scanner = PagemapScan.open(new Pid(w.pid()))) {
            boolean[] any = {false};
            if (scanner != null) {
                long g = PagemapScan.PAGE_IS_GUARD;
                scanner.scan(w.start(), w.end(), 0, g, 0, g, (a, b, c) -> any[0] = true);
            }
            return any[0];
        } catch (RuntimeException gone) {
            return false; // unmapped or exited meanwhile: the next look sees it gone
        }
    }

    /** Why the kernel may write {@code w} through a pin unseen (see {@link PinnedWrites}), or null. */
    private static String pinnedIn(PinnedWrites p, Window w) {
        return p.anywhere() != null ? p.anywhere()
                : p.buffers().meets(w.start(), w.end()) ? "a registered io_uring buffer lies in its mapping" : null;
    }

    private static Window carrierOf(List<Window> ws) {
        Window best = null;
        for (Window w : ws) {
            if (ws.stream().allMatch(w::covers) && (best == null || w.pid() < best.pid())) {
                best = w;
            }
        }
        return best;
    }

    private Map<Integer, List<PageRun>> look(Map<Long, List<Window>> now, Map<Pid, PreCopyTracker> trackers,
                                             ProcessEvents.Drained forks) {
        Map<Integer, Set<Long>> held = inTreeFds(now.keySet(), now);
        // every scan first, then the copies are planned: a copy is never older than a scan of this look
        Map<Shared, PageRanges> dirty = new LinkedHashMap<>();
        for (Shared s : objects.values()) {
            if (s.abandoned != null) {
                continue;
            }
            List<Window> ws = now.getOrDefault(s.key, List.of());
            String why = null;
            if (!ws.contains(s.carrier)) {
                why = "pid " + s.carrier.pid() + " no longer maps it at 0x" + Long.toHexString(s.carrier.start());
            } else if (!ws.stream().allMatch(s.carrier::covers)) {
                why = "a mapping now shows pages the carrier's does not";
            } else if (ws.stream().anyMatch(w -> held.getOrDefault(w.pid(), Set.of()).contains(s.key))) {
                why = "a task of the tree holds an fd of it (a write(2) is not tracked)";
            } else if (guarded(s.carrier)) {
                why = "pid " + s.carrier.pid() + "'s mapping of it at 0x" + Long.toHexString(s.carrier.start())
                        + " has guard pages, which no copy can read through";
            }
            if (why != null) {
                s.abandoned = why;
                log.accept("shared memory " + name(s.key) + " is no longer pre-copied (" + why + "): it goes whole into"
                        + " the frozen round");
                continue;
            }
            String whole = forks.overflow() ? "process events were lost"
                    : s.seen.stream().anyMatch(w -> !ws.contains(w)) ? "a mapping of it is gone (an exit, munmap or exec)"
                    : null;
            PageRanges.Builder written = new PageRanges.Builder();
            Set<Window> armed = new HashSet<>();
            for (Window w : ws) {
                PreCopyTracker t = trackers.get(new Pid(w.pid()));
                if (forks.forkedParents().contains(w.pid())) {
                    whole = "pid " + w.pid() + " forked";
                }
                if (t == null) {
                    whole = "pid " + w.pid() + " maps it untracked";
                    continue;
                }
                Scanned scanned = scan(t, w, s.armed.contains(w), written);
                if (scanned != Scanned.UNARMED) {
                    armed.add(w);
                }
                if (pinnedIn(t.pinned(), w) != null) {
                    whole = "pid " + w.pid() + ": " + pinnedIn(t.pinned(), w);
                } else if (scanned != Scanned.WRITTEN && whole == null) {
                    whole = "a mapping of it by pid " + w.pid() + " is new";
                }
            }
            s.seen = Set.copyOf(ws);
            s.armed = Set.copyOf(armed);
            PageRanges all = new PageRanges.Builder().add(s.carrier.firstPage(), s.carrier.endPage()).build();
            if (whole != null && !s.sent.isEmpty()) {
                log.accept("shared memory " + name(s.key) + ": every page counts as written (" + whole + ")");
            }
            dirty.put(s, whole != null ? all : written.build().intersect(all));
        }
        Map<Integer, List<PageRun>> out = new HashMap<>();
        dirty.forEach((s, pages) -> log.accept("shared memory " + name(s.key) + ": " + pages.length() + " pages written"));
        dirty.forEach((s, pages) -> {
            if (!pages.isEmpty()) {
                out.computeIfAbsent(s.carrier.pid(), k -> new ArrayList<>()).addAll(copies(s, pages));
            }
        });
        return out;
    }

    /** What a look's scan of a window found. */
    private enum Scanned {
        /** Armed at the last look: its written pages were added. */
        WRITTEN,
        /** Armed now, not before: all its pages count. */
        ARMED_NOW,
        /** Not registered (its task registers it in its next round, stopped) or not scannable: all its pages count. */
        UNARMED
    }

    /**
     * Adds the written pages of {@code w} (object page numbers) to {@code written}, re-arming them. A window
     * not registered is never registered here, while its task runs: the task's next round does, with the
     * task stopped, over the mapping as it is then (PreCopyTracker#registerExactly says why).
     */
    private static Scanned scan(PreCopyTracker tracker, Window w, boolean armed, PageRanges.Builder written) {
        WriteTracker t = tracker.writes();
        try {
            if (!armed) {
                t.scan(w.start(), w.end()); // arms it: the next scan reports only later writes
                return Scanned.ARMED_NOW;
            }
            for (long[] r : t.scan(w.start(), w.end())) {
                written.add(w.firstPage() + (r[0] - w.start()) / PAGE, w.firstPage() + (r[1] - w.start()) / PAGE);
            }
            return Scanned.WRITTEN;
        } catch (WriteTracker.NotRegisteredException e) {
            tracker.registerShared(w.start());
            return Scanned.UNARMED;
        } catch (RuntimeException e) {
            return Scanned.UNARMED; // unmapped meanwhile (the next look sees it gone), or not ours to scan
        }
    }

    /**
     * The carrier's runs for the written object pages: those the object holds (a page never sent that
     * reads zero needs no bytes), and those sent before that it no longer holds (a hole punched since:
     * read as zeros, or the earlier copy would come back).
     */
    private List<PageRun> copies(Shared s, PageRanges pages) {
        Window c = s.carrier;
        PageRanges.Builder addr = new PageRanges.Builder(pages.size());
        for (int i = 0; i < pages.size(); i++) {
            addr.add(c.start() + (pages.start(i) - c.firstPage()) * PAGE, c.start() + (pages.end(i) - c.firstPage()) * PAGE);
        }
        PageRanges wanted = addr.build();
        PageRanges.Builder inObject = new PageRanges.Builder();
        try (Fd fd = Sys.open(mapFile(c), Fcntl.O_RDONLY)) {
            long huge = FileExtents.hugePageBytes(fd);
            for (long[] d : FileExtents.held(fd, c.offset(), c.offset() + (c.end() - c.start()), huge)) {
                long from = d[0] / PAGE * PAGE, to = (d[1] + PAGE - 1) / PAGE * PAGE;
                inObject.add(c.start() + from - c.offset(), c.start() + to - c.offset());
            }
        } catch (KernelException e) {
            inObject.add(c.start(), c.end()); // gone meanwhile: the copy (or the next look) says
        }
        PageRanges holds = wanted.intersect(inObject.build());
        PageRanges stale = wanted.intersect(s.sent).minus(holds);
        List<PageRun> out = new ArrayList<>();
        add(out, holds.minus(s.sent), true);
        add(out, holds.intersect(s.sent), false);
        add(out, stale, false);
        s.sent = s.sent.union(holds);
        return out;
    }

    private static String mapFile(Window w) {
        return dev.cryo.kernel.ExitedLeaders.proc(w.pid()) + "/map_files/" + Long.toHexString(w.start()) + "-" + Long.toHexString(w.end());
    }

    private static void add(List<PageRun> out, PageRanges r, boolean zeroImplicit) {
        for (int i = 0; i < r.size(); i++) {
            out.add(new PageRun(0, r.start(i), (int) ((r.end(i) - r.start(i)) / PAGE), false, zeroImplicit));
        }
    }

    /** The device of each object seen (st_dev): an inode number is unique only on its device. */
    private final Map<Long, Long> devices = new HashMap<>();
    /** What the log calls each object: its path in the maps and its inode (a SysV segment's shmid). */
    private final Map<Long, String> names = new HashMap<>();

    private String name(long key) {
        return names.getOrDefault(key, Long.toString(key));
    }

    /** The tasks' mappings of shared objects whose pages go into the image, by object key (as the claims key them). */
    private Map<Long, List<Window>> windows(Collection<Pid> pids) {
        Map<Long, List<Window>> out = new LinkedHashMap<>();
        for (Pid p : pids) {
            List<MapsEntry> maps;
            try {
                maps = ProcFs.maps(p);
            } catch (RuntimeException gone) {
                continue; // exited: its windows are gone, which the look counts
            }
            for (MapsEntry m : maps) {
                long key = keyOf(p, m);
                if (key != 0 && !hugetlb(p, m)) { // hugetlb memory: frozen whole, as before
                    devices.put(key, dev(m.devMajor(), m.devMinor()));
                    names.putIfAbsent(key, m.path() + " (inode " + m.inode() + ")");
                    out.computeIfAbsent(key, k -> new ArrayList<>()).add(new Window(p.value(), m.start(), m.end(), m.offset()));
                }
            }
        }
        return out;
    }

    /** st_dev of a device number as /proc/PID/maps shows it. */
    private static long dev(long major, long minor) {
        return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffL) << 12) | ((major & ~0xfffL) << 32);
    }

    private static boolean hugetlb(Pid p, MapsEntry m) {
        try {
            return Sys.fsMagic(PageScan.mapFile(p, m).toString()) == Sys.HUGETLBFS_MAGIC;
        } catch (RuntimeException gone) {
            return true; // unmapped meanwhile: not pre-copied
        }
    }

    /** Whether {@code m} maps a shared object a look may pre-copy: each task's tracking registers such mappings. */
    static boolean tracked(Pid p, MapsEntry m) {
        return keyOf(p, m) != 0 && !hugetlb(p, m);
    }

    private static long keyOf(Pid p, MapsEntry m) {
        if (!m.shared()) {
            return 0;
        }
        var kind = MemoryKinds.kindOf(m);
        if (kind == MemoryKinds.SHARED_ANON || kind instanceof dev.cryo.engine.memory.HugetlbSharedMemory) {
            return m.inode(); // by maps alone a memfd may be hugetlb: the caller looks at its file system
        }
        if (kind == MemoryKinds.SYSV_SHM) {
            try {
                return SysvSharedMemory.imageKey(p, m);
            } catch (RuntimeException e) {
                return 0;
            }
        }
        return 0;
    }

    /** Objects (by key) some task of the tree holds an fd of, by pid. */
    private Map<Integer, Set<Long>> inTreeFds(Set<Long> keys, Map<Long, List<Window>> now) {
        Set<Integer> pids = new HashSet<>();
        now.values().forEach(ws -> ws.forEach(w -> pids.add(w.pid())));
        Map<Integer, Set<Long>> out = new HashMap<>();
        for (int pid : pids) {
            Set<Long> h = fdObjects(pid, keys);
            if (!h.isEmpty()) {
                out.put(pid, h);
            }
        }
        return out;
    }

    /** Of {@code keys}, the objects mapped or held open by a process outside {@code tree}. */
    private Set<Long> outsideHolders(Set<Long> keys, Set<Integer> tree) {
        Set<Long> out = new HashSet<>();
        if (keys.isEmpty()) {
            return out;
        }
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                int pid = Integer.parseInt(proc.getFileName().toString());
                if (tree.contains(pid) || pid == ProcessHandle.current().pid()) {
                    continue;
                }
                out.addAll(fdObjects(pid, keys));
                try {
                    for (MapsEntry m : ProcFs.maps(new Pid(pid))) {
                        long key = m.path().startsWith("/SYSV") ? -1 - m.inode() : m.inode();
                        if (m.shared() && keys.contains(key)
                                && devices.getOrDefault(key, -1L) == dev(m.devMajor(), m.devMinor())) {
                            out.add(key);
                        }
                    }
                } catch (RuntimeException gone) {
                    // exited meanwhile
                }
            }
        } catch (IOException e) {
            out.addAll(keys); // cannot tell: none is pre-copied
        }
        return out;
    }

    /** Of {@code keys}, the shared memory objects process {@code pid} holds an fd of (a memfd, a reopened mapping). */
    private Set<Long> fdObjects(int pid, Set<Long> keys) {
        Set<Long> out = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd"))) {
            for (Path fd : fds) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("/memfd:") || target.startsWith("/dev/zero") || target.startsWith("/SYSV")) {
                        Map<String, Object> st = Files.readAttributes(fd, "unix:ino,dev");
                        if (st.get("ino") instanceof Long i && st.get("dev") instanceof Long dev) {
                            long key = target.startsWith("/SYSV") ? -1 - i : i; // a segment's inode is its shmid
                            if (keys.contains(key) && devices.getOrDefault(key, -1L).longValue() == dev) {
                                out.add(key);
                            }
                        }
                    }
                } catch (IOException | RuntimeException closed) {
                    // closed meanwhile
                }
            }
        } catch (IOException | RuntimeException gone) {
            // exited meanwhile, or not ours to read
        }
        return out;
    }

    @Override
    public synchronized void close() {
        if (events != null) {
            events.close();
        }
    }
}
