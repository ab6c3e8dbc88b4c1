package dev.cryo.engine.restore;

import com.sun.jna.Memory;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.memory.AnonymousMemory;
import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Uffd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The page server of a lazy restore ({@code cryo restore --lazy-pages}, CRIU's {@code --lazy-pages}): the
 * tree runs before its private anonymous memory is in (heaps, stacks, anonymous mappings: most of a JVM's or
 * a Python's memory), and each page comes from the image when a thread first touches it, or ahead of that,
 * in address order, once the tree runs; when every page is in, the kernel has the memory back.
 *
 * <p>Each task's areas are registered for missing pages on a userfaultfd made inside the task and taken out
 * (pidfd_getfd), with the events of a non-cooperative monitor: a fork (the child's mm gets a uffd of its own,
 * and the same pages to come), an mremap (the pages to come move), a munmap or madvise(DONTNEED) (those pages
 * are not brought in: the program threw them away, and a fault there gets a zero page). One thread serves
 * every mm: a fault is answered with the 64 KiB block around it (UFFDIO_COPY, which wakes the thread), and
 * between faults 1 MiB at a time is copied ahead. A copy refused while the mm changes (EAGAIN) waits for the
 * events that say how. Every chunk was checked against its checksum before the tree ran ({@link #verify}).
 *
 * <p>While pages are missing, a watcher outside cryo ({@link dev.cryo.engine.files.DeathWatch}) holds a
 * copy of every uffd, those of children forked since included: should cryo die, the tasks' faults stay blocked
 * (never zero-filled) and the watcher kills the restored tasks, their descendants and the children found.
 */
public final class LazyPages implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LazyPages.class);
    private static final long PAGE = PageRuns.PAGE, BLOCK = 16 * PAGE, AHEAD = 256 * PAGE;
    static final long FEATURES = Uffd.FEATURE_EVENT_FORK | Uffd.FEATURE_EVENT_REMAP | Uffd.FEATURE_EVENT_REMOVE
            | Uffd.FEATURE_EVENT_UNMAP;
    private static final int MESSAGES = 64;
    /** How long a fault may wait for its mm to stop changing (the task that changed it to be scheduled). */
    private static final long CHANGING_WAIT_NANOS = 30_000_000_000L;

    /** One mm served: its uffd, the pages still to come and the ranges registered, by address. */
    private static final class Mm {
        final String who;
        int pid; // 0 for a child forked since the restore until it is found (the event names no pid)
        final Fd uffd;
        final PageRuns left;
        final PageRuns registered;

        Mm(String who, int pid, Fd uffd, PageRuns left, PageRuns registered) {
            this.who = who;
            this.pid = pid;
            this.uffd = uffd;
            this.left = left;
            this.registered = registered;
        }
    }

    private final Path imageDir;
    private final long maxChunk;
    private final int aheadPauseMillis;
    /** When the next copy ahead may run (System.nanoTime), the server thread's. */
    private long nextAhead;
    private final ConcurrentLinkedQueue<Mm> arriving = new ConcurrentLinkedQueue<>();
    private final List<Mm> mms = new ArrayList<>(); // the server thread's
    private final CompletableFuture<String> done = new CompletableFuture<>();
    private final AtomicLong demanded = new AtomicLong(), ahead = new AtomicLong(), zero = new AtomicLong(),
            events = new AtomicLong(), total = new AtomicLong(), dropped = new AtomicLong();
    private volatile boolean prefetching, stopping;
    private volatile long startedAt;
    private Thread thread;
    private dev.cryo.engine.files.DeathWatch guard;
    private ImageReader reader;
    /** Every uffd registered before the watcher started, for it to hold (then handed to it one by one). */
    private final List<Fd> initial = java.util.Collections.synchronizedList(new ArrayList<>());
    /** The tasks the watcher kills: the restored ones, and children forked since as they are found. */
    private final Set<Integer> known = new HashSet<>();
    /** Children forked since the tree ran whose pid is not known yet; looked for until, and next at (nanoTime). */
    private final List<Mm> unfound = new ArrayList<>();
    private long lookUntil, nextLook;
    /** When the tree ran, in the clock ticks since boot of /proc/PID/stat's start time. */
    private volatile long ranAtTicks;
    private final Memory arg = Uffd.argument();
    private final Memory messages = new Memory((long) Uffd.MSG_SIZE * MESSAGES);
    private final PageFill fill = new PageFill();
    private final Map<Long, Integer> fillBytes = new HashMap<>();
    /** Compressed chunks unpacked lately, by offset, the least recent first: faults jump between a few. */
    private final java.util.LinkedHashMap<Long, ByteBuffer> unpacked = new java.util.LinkedHashMap<>(8, 0.75f, true);
    private static final int UNPACKED_KEPT = 4;

    public LazyPages(Path imageDir, long maxChunk) {
        this(imageDir, maxChunk, 0);
    }

    /** {@code aheadPauseMillis}: the wait for faults between two copies ahead (cryo.restore.lazy-ahead-pause). */
    public LazyPages(Path imageDir, long maxChunk, int aheadPauseMillis) {
        this.imageDir = imageDir;
        this.maxChunk = maxChunk;
        this.aheadPauseMillis = aheadPauseMillis;
    }

    /**
     * Whether area {@code v} of a task (after {@code prev} in its list) is left to come on demand: private
     * anonymous memory, readable and writable, with pages in the image, which no fork, lock, guard, seal or
     * wipe-on-fork makes special and which restore maps as it was (not kept apart from the one before). Not
     * the main thread's stack: its arguments and environment are read by others through the kernel's
     * access_remote_vm (/proc/PID/cmdline, environ, ptrace's PEEKDATA), which takes no missing page from a
     * uffd (it fails there) — a thread's stack is an anonymous area, and comes lazily.
     */
    public static boolean servesLazily(VmaImage prev, VmaImage v) {
        int special = VmAdvice.LOCKED | VmAdvice.LOCKONFAULT | VmAdvice.WIPEONFORK | VmAdvice.SEALED
                | VmAdvice.MAYBE_GUARD;
        return (v.kind() == MemoryKinds.ANON || v.kind() == MemoryKinds.HEAP)
                && (v.flags() & VmaImage.MAP_PRIVATE) != 0
                && (v.prot() & (VmaImage.PROT_READ | VmaImage.PROT_WRITE)) == (VmaImage.PROT_READ | VmaImage.PROT_WRITE)
                && (v.advice() & special) == 0 && v.guards().length == 0 && v.inherited().length == 0
                && v.dumpedPages() > 0 && !AnonymousMemory.keptApart(prev, v);
    }

    /** The areas of {@code vmas} served lazily, as [start, end) pairs. */
    public static List<long[]> lazyAreas(List<VmaImage> vmas) {
        List<long[]> out = new ArrayList<>();
        VmaImage prev = null;
        for (VmaImage v : vmas) {
            if (!v.kind().kernelProvided() && servesLazily(prev, v)) {
                out.add(new long[] {v.start(), v.end()});
            }
            prev = v;
        }
        return out;
    }

    /** Whether slice {@code s} lies in one of {@code areas} (sorted, disjoint). */
    public static boolean within(PageSlice s, List<long[]> areas) {
        int i = PageSlice.firstEndingAfter(areas, s.address());
        return i < areas.size() && areas.get(i)[0] <= s.address() && s.end() <= areas.get(i)[1];
    }

    /**
     * Checks the chunks of {@code slices} against their checksums, before the tree runs: a corrupt image
     * fails the restore then, not a running tree later.
     */
    public static void verify(Path imageDir, long maxChunk, List<PageSlice> slices) throws IOException {
        Set<Long> seen = new HashSet<>();
        ByteBuffer buffer = null;
        try (ImageReader r = ImageReader.openForPages(imageDir, ModelCodecs.ALL, maxChunk)) {
            for (PageSlice s : slices) {
                IndexEntry e = s.chunk();
                if (!seen.add(e.offset())) {
                    continue;
                }
                if (e.compressed()) {
                    if (buffer == null || buffer.capacity() < e.rawLength()) {
                        buffer = dev.cryo.engine.image.PageBuffers.allocate(Math.max(e.rawLength(), 1 << 20));
                    }
                    r.readPages(e, buffer.clear().limit(e.rawLength()));
                } else {
                    r.mappedPages(e, false);
                }
            }
        }
    }

    /**
     * Makes a uffd in task {@code pid} (seized; {@code inj} runs a syscall in it), takes it out, registers
     * {@code areas} on it and serves {@code slices} there from now on.
     */
    public void register(Pid pid, dev.cryo.kernel.ptrace.Injector inj, List<long[]> areas, List<PageSlice> slices) {
        Fd uffd = Uffd.makeInside(inj, pid, 0);
        try {
            Uffd.api(uffd, FEATURES, () -> "ioctl(UFFDIO_API, the events of a lazy restore) on the uffd of pid " + pid);
            PageRuns registered = new PageRuns(), left = new PageRuns();
            for (long[] a : areas) {
                Uffd.register(uffd, a[0], a[1] - a[0], Uffd.REGISTER_MODE_MISSING, () -> "ioctl(UFFDIO_REGISTER, pid "
                        + pid + ", 0x" + Long.toHexString(a[0]) + "-0x" + Long.toHexString(a[1]) + ")");
                registered.add(new PageRuns.Run(a[0], a[1], null, 0));
            }
            for (PageSlice s : slices) {
                left.add(new PageRuns.Run(s.address(), s.end(), s.chunk(), s.firstPage()));
            }
            total.addAndGet(left.pages());
            log.debug("pid {}: {} areas registered for lazy pages ({} pages to come)", pid, areas.size(), left.pages());
            initial.add(uffd);
            arriving.add(new Mm("pid " + pid, pid.value(), uffd, left, registered));
        } catch (RuntimeException e) {
            uffd.close();
            throw e;
        }
        startServing();
    }

    private synchronized void startServing() {
        if (thread == null) {
            thread = new Thread(this::serve, "cryo-lazy-pages");
            thread.setDaemon(true);
            thread.start();
        }
    }

    /**
     * Before the tree runs: the watcher that holds every uffd and kills {@code pids} should cryo die before
     * the last page is in.
     */
    public synchronized void guard(List<Integer> pids) {
        if (thread == null) {
            return; // nothing to serve
        }
        StringBuilder kill = new StringBuilder();
        pids.forEach(p -> kill.append(' ').append(p));
        synchronized (initial) { // none closed meanwhile (finishEmpty)
            known.addAll(pids);
            guard = dev.cryo.engine.files.DeathWatch.start("cryo-lazy-watch", "p='" + kill + "'\n" + WATCH,
                    List.of(), List.copyOf(initial), true);
        }
    }

    /**
     * The watcher's script: it reads the pids of children forked since (found by cryo) until "done"; on cryo's
     * death (an end of file) it stops every task it knows and every descendant of theirs, a level at a time
     * (a child of a stopped task forked since, whose pid cryo had not found yet), and kills them all. Until it
     * exits it holds every uffd (its fds, and the ones in its socket's queue): no fault is answered with zeros.
     */
    static final String WATCH = """
            while read -r w <&3; do case $w in done) exit 0;; ''|*[!0-9]*) ;; *) p="$p $w";; esac; done
            all=' '
            while [ -n "$p" ]; do
              kill -STOP $p 2>/dev/null
              for q in $p; do all="$all$q "; done
              n=' '
              for f in /proc/[0-9]*/stat; do
                { read -r s < "$f"; } 2>/dev/null || continue
                s=${s##*) }; set -- $s
                case "$all" in *" $2 "*) q=${f#/proc/}; q=${q%/stat}
                  case "$all$n" in *" $q "*) ;; *) n="$n$q ";; esac;; esac
              done
              p=${n# }
            done
            kill -9 $all 2>/dev/null
            """;

    /** The tree runs: pages are copied ahead of its faults from now on. */
    public void prefetch() {
        ranAtTicks = ticksSinceBoot() - 1;
        startedAt = System.nanoTime();
        prefetching = true;
        if (thread == null) {
            done.complete(summary());
        }
    }

    /** Now, in USER_HZ (100) ticks since boot (/proc/uptime, in hundredths of a second). */
    private static long ticksSinceBoot() {
        try {
            String up = java.nio.file.Files.readString(Path.of("/proc/uptime")).split(" ")[0];
            return new java.math.BigDecimal(up).movePointRight(2).longValue();
        } catch (IOException | RuntimeException e) {
            return 0; // any process started since boot then: the areas alone tell
        }
    }

    /** Pages in so far (brought on demand or ahead, or thrown away by the program first), for `cryo agents`. */
    public long pagesIn() {
        return demanded.get() + ahead.get() + dropped.get();
    }

    /** Pages to come in all: the tree's, and those of children forked since, as they are found. */
    public long pagesTotal() {
        return total.get();
    }

    /** Completes with a summary once every page is in, exceptionally if the serving failed. */
    public CompletableFuture<String> whenDone() {
        return done;
    }

    private String summary() {
        long ms = startedAt == 0 ? 0 : (System.nanoTime() - startedAt) / 1_000_000;
        return String.format(java.util.Locale.ROOT, "%d pages came lazily in %d ms after the tree ran: %d on demand, "
                + "%d ahead, %d thrown away or unmapped by the program first, %d zero pages on demand, %d events",
                total.get(), ms, demanded.get(), ahead.get(), dropped.get(), zero.get(), events.get());
    }

    // ---- the server thread ---------------------------------------------------------------------

    private void serve() {
        try (ImageReader r = ImageReader.openForPages(imageDir, ModelCodecs.ALL, maxChunk)) {
            reader = r;
            while (!stopping) {
                for (Mm m; (m = arriving.poll()) != null; ) {
                    mms.add(m);
                }
                if (mms.isEmpty() && arriving.isEmpty()) {
                    if (prefetching) {
                        break; // every page is in
                    }
                }
                long now = System.nanoTime();
                long pause = Math.max(0, nextAhead - now) / 1_000_000; // faults are served meanwhile, at once
                waitAndServe(prefetching ? (int) pause : 10);
                if (prefetching) {
                    findForked();
                    if (System.nanoTime() >= nextAhead) {
                        copyAhead();
                        nextAhead = System.nanoTime() + aheadPauseMillis * 1_000_000L;
                    }
                }
                finishEmpty();
            }
            stopGuard(false);
            done.complete(summary());
        } catch (Throwable e) {
            log.error("lazy pages: {}", e.toString());
            killServed(); // a page it waits for would never come
            stopGuard(true); // and children whose pid was not found yet
            done.completeExceptionally(e);
        } finally {
            for (Mm m : mms) {
                m.uffd.close(); // a failed restore kills its tasks; a failed server leaves the watcher to
            }
            for (Mm m; (m = arriving.poll()) != null; ) {
                m.uffd.close();
            }
        }
    }

    /** Polls every uffd for up to {@code timeoutMs} and handles what came. */
    private void waitAndServe(int timeoutMs) throws IOException {
        if (mms.isEmpty()) {
            if (timeoutMs > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(timeoutMs * 1_000_000L);
            }
            return;
        }
        Memory fds = new Memory(8L * mms.size());
        for (int i = 0; i < mms.size(); i++) {
            fds.setInt(8L * i, mms.get(i).uffd.value());
            fds.setShort(8L * i + 4, (short) 1); // POLLIN
            fds.setShort(8L * i + 6, (short) 0);
        }
        long n = dev.cryo.kernel.LibC.syscall(SyscallNr.POLL, Sys.address(fds), mms.size(), timeoutMs, 0, 0, 0);
        if (n <= 0) {
            return;
        }
        List<Mm> now = List.copyOf(mms);
        for (int i = 0; i < now.size(); i++) {
            if (fds.getShort(8L * i + 6) != 0) {
                readAll(now.get(i));
            }
        }
    }

    /** Reads and handles every message waiting on {@code m}'s uffd. */
    private void readAll(Mm m) throws IOException {
        List<Long> retry = new ArrayList<>();
        int n;
        while ((n = read(m)) > 0) {
            // the events first: the kernel hands out faults before events, and reading an event lets its task go
            // on (mmap_changing drops), so a fault of the same read answered first would put its page in the
            // parent alone after a fork the child's copy of the pages to come no longer lists: a zero page there
            List<Long> faults = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                long at = (long) Uffd.MSG_SIZE * i;
                int event = messages.getByte(at) & 0xff;
                if (event == Uffd.EVENT_PAGEFAULT) {
                    faults.add(messages.getLong(at + 16) & -PAGE);
                    continue;
                }
                events.incrementAndGet();
                switch (event) {
                    case Uffd.EVENT_FORK -> forked(m, new Fd(messages.getInt(at + 8)));
                    case Uffd.EVENT_REMAP -> {
                        long from = messages.getLong(at + 8), to = messages.getLong(at + 16), len = messages.getLong(at + 24);
                        m.left.move(from, to, len);
                        m.registered.move(from, to, len);
                    }
                    case Uffd.EVENT_REMOVE -> drop(m.left.take(messages.getLong(at + 8), messages.getLong(at + 16)));
                    case Uffd.EVENT_UNMAP -> {
                        drop(m.left.take(messages.getLong(at + 8), messages.getLong(at + 16)));
                        m.registered.take(messages.getLong(at + 8), messages.getLong(at + 16));
                    }
                    default -> log.warn("lazy pages: {}: an event of type {} was not expected", m.who, event);
                }
            }
            for (long address : faults) {
                if (!fault(m, address)) {
                    retry.add(address);
                }
            }
        }
        // refused while the mm changes: until the task that changed it has run on from its event (read just now)
        long deadline = System.nanoTime() + CHANGING_WAIT_NANOS;
        while (!retry.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(m.who + ": a fault could not be answered (the mm kept changing for "
                        + CHANGING_WAIT_NANOS / 1_000_000_000 + " s)");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
            retry.removeIf(a -> {
                try {
                    return fault(m, a);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            if (!retry.isEmpty()) {
                readAll(m);
            }
        }
    }

    private void drop(List<PageRuns.Run> gone) {
        gone.forEach(r -> dropped.addAndGet(r.pages()));
    }

    private int read(Mm m) {
        try {
            return Uffd.read(m.uffd, messages);
        } catch (KernelException e) {
            return 0; // its mm is gone
        }
    }

    /**
     * A child forked since: its mm has the same pages to come, and the same ranges registered. The watcher holds
     * its uffd too (until then, cryo's death would leave its missing pages to the kernel's zero page), and kills it
     * once its pid is found.
     */
    private void forked(Mm parent, Fd uffd) {
        Mm child = new Mm("a child of " + parent.who, 0, uffd, parent.left.copy(), parent.registered.copy());
        total.addAndGet(child.left.pages());
        mms.add(child);
        synchronized (initial) {
            if (guard == null) { // forked by the restore itself: the watcher will hold it
                initial.add(uffd);
            } else if (!guard.hold(uffd)) {
                log.warn("lazy pages: {}: the watcher could not take its uffd (its socket is full): should cryo die"
                        + " before its last page is in, it would get zero pages", child.who);
            }
        }
        if (prefetching) {
            unfound.add(child);
            lookUntil = System.nanoTime() + LOOKING_NANOS;
        }
    }

    /**
     * How long children forked are looked for (one that exited first is never found), and how often: every 20 ms,
     * or ten times as long as the last look took (5 ms for 104 processes here: a host of thousands would keep the
     * page server looking), so that looks take at most a tenth of the serving.
     */
    private static final long LOOKING_NANOS = 2_000_000_000L, LOOK_EVERY_NANOS = 20_000_000L, LOOK_SHARE = 10;

    /**
     * Finds the pids of children forked since the tree ran, to tell the watcher, which kills them should cryo die
     * (a child whose parent exited is no descendant of the tree any more: only its pid names it). The fork event
     * names no pid: a child is a process started since the tree ran, not exec'd since its fork, not known, with an
     * area at the start of each range its mm has registered (the forks of one parent at once may be matched to
     * each other's uffd: each is killed all the same).
     */
    private void findForked() {
        long now = System.nanoTime();
        unfound.removeIf(c -> c.left.isEmpty()); // every page in: nothing to guard
        if (unfound.isEmpty() || now - nextLook < 0) {
            return; // a look over /proc costs some ms: not at every turn of the serving
        }
        if (now - lookUntil > 0) { // exited before it was found
            unfound.clear();
            return;
        }
        try {
            look();
        } finally {
            nextLook = now + Math.max(LOOK_EVERY_NANOS, LOOK_SHARE * (System.nanoTime() - now));
        }
    }

    private void look() {
        for (int pid : dev.cryo.kernel.proc.ProcFs.pids()) {
            if (unfound.isEmpty()) {
                break;
            }
            synchronized (initial) {
                if (known.contains(pid)) {
                    continue;
                }
            }
            List<dev.cryo.kernel.proc.MapsEntry> maps;
            try {
                var st = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid));
                if (st.starttime() < ranAtTicks || (st.flags() & dev.cryo.kernel.proc.ProcStat.PF_FORKNOEXEC) == 0) {
                    continue;
                }
                maps = dev.cryo.kernel.proc.ProcFs.maps(Pid.of(pid));
            } catch (KernelException e) {
                continue; // gone
            }
            for (java.util.Iterator<Mm> it = unfound.iterator(); it.hasNext(); ) {
                Mm child = it.next();
                if (!holdsEvery(maps, child.registered)) {
                    continue;
                }
                it.remove();
                synchronized (initial) {
                    child.pid = pid;
                    known.add(pid);
                    if (guard != null) {
                        guard.tell(Integer.toString(pid));
                    }
                }
                log.debug("lazy pages: pid {}, forked since the tree ran ({}), is watched", pid, child.who);
                break;
            }
        }
    }

    /** Whether an area of {@code maps} (sorted) holds the start of every range of {@code ranges}. */
    private static boolean holdsEvery(List<dev.cryo.kernel.proc.MapsEntry> maps, PageRuns ranges) {
        int i = 0;
        for (PageRuns.Run r : ranges.all()) {
            while (i < maps.size() && maps.get(i).end() <= r.start()) {
                i++;
            }
            if (i == maps.size() || maps.get(i).start() > r.start()) {
                return false;
            }
        }
        return true;
    }

    /** Answers a fault at {@code address}; false when the mm is changing (to be answered after its events). */
    private boolean fault(Mm m, long address) throws IOException {
        PageRuns.Run r = m.left.at(address);
        if (r == null) { // never in the image, or thrown away since: the zero page, as the kernel would give
            long z = Uffd.zeroPage(m.uffd, arg, address, PAGE);
            if (z == -Errno.EAGAIN) {
                return false;
            }
            if (z > 0) {
                zero.incrementAndGet();
            } else if (z == -Errno.ENOENT) { // its area moved or went since (or is no longer registered): no copy
                Uffd.wake(m.uffd, arg, address, PAGE); // answers it, the thread retries its access
            }
            return true; // EEXIST: answered already (two threads faulted there); ESRCH: gone
        }
        long block = address & -BLOCK;
        return bring(m, Math.max(r.start(), block), Math.min(r.end(), block + BLOCK), demanded);
    }

    /** Copies ahead: up to {@link #AHEAD} bytes of the first range still to come, of each mm in turn. */
    private void copyAhead() throws IOException {
        for (Mm m : List.copyOf(mms)) {
            PageRuns.Run r = m.left.first();
            if (r != null && !bring(m, r.start(), Math.min(r.end(), r.start() + AHEAD), ahead)) {
                readAll(m);
            }
        }
    }

    /**
     * Copies the pages still to come of [from, to) into {@code m}; false when the mm is changing (what is
     * left stays to come).
     */
    private boolean bring(Mm m, long from, long to, AtomicLong counted) throws IOException {
        List<PageRuns.Run> parts = m.left.take(from, to);
        for (int i = 0; i < parts.size(); i++) {
            PageRuns.Run p = parts.get(i);
            long at = p.start();
            while (at < p.end()) {
                long len = Math.min(p.end() - at, p.chunk().fill() ? PageFill.SPAN : p.end() - at);
                long copied = Uffd.copy(m.uffd, arg, at, source(p.part(at, at + len), len), len);
                if (copied > 0) {
                    counted.addAndGet(copied / PAGE);
                    at += copied;
                } else if (copied == -Errno.EEXIST) {
                    at += PAGE; // there already (a copy raced a fault of another thread's): kept as it is
                    dropped.incrementAndGet();
                } else if (copied == -Errno.EAGAIN) {
                    m.left.add(p.part(at, p.end()));
                    parts.subList(i + 1, parts.size()).forEach(m.left::add);
                    return false;
                } else if (copied == -Errno.ESRCH) {
                    dropped.addAndGet((p.end() - at) / PAGE);
                    parts.subList(i + 1, parts.size()).forEach(r -> dropped.addAndGet(r.pages()));
                    drop(m.left.take(0, Long.MAX_VALUE)); // the mm is gone (exit, exec): nothing to give it any more
                    return true;
                } else if (copied == -Errno.ENOENT || copied == -Errno.EINVAL) {
                    dropped.addAndGet((p.end() - at) / PAGE);
                    if (copied == -Errno.ENOENT) {
                        Uffd.wake(m.uffd, arg, at, p.end() - at); // a fault waiting there retries its access
                    }
                    break; // that range is no longer registered: nothing to give there
                } else {
                    throw new IllegalStateException(m.who + ": UFFDIO_COPY at 0x" + Long.toHexString(at) + " failed: "
                            + Errno.name((int) -copied));
                }
            }
        }
        return true;
    }

    /** The address, in this process, of part {@code p}'s first page in the image ({@code len} bytes from it). */
    private long source(PageRuns.Run p, long len) throws IOException {
        IndexEntry e = p.chunk();
        if (e.fill()) {
            int b = fillBytes.computeIfAbsent(e.offset(), o -> {
                try {
                    return reader.fillByte(e);
                } catch (IOException x) {
                    throw new java.io.UncheckedIOException(x);
                }
            });
            return Sys.address(fill.of((byte) b, (int) len), 0);
        }
        if (e.compressed()) {
            ByteBuffer b = unpacked.get(e.offset());
            if (b == null) {
                if (unpacked.size() >= UNPACKED_KEPT) { // the least recent one's buffer is used again
                    var eldest = unpacked.entrySet().iterator().next();
                    b = eldest.getValue();
                    unpacked.remove(eldest.getKey());
                }
                if (b == null || b.capacity() < e.rawLength()) {
                    b = dev.cryo.engine.image.PageBuffers.allocate(Math.max(e.rawLength(), 1 << 20));
                }
                reader.readPages(e, b.clear().limit(e.rawLength()));
                unpacked.put(e.offset(), b);
            }
            return Sys.address(b, (int) (p.firstPage() * PAGE));
        }
        return Sys.address(reader.mappedPages(e, true), (int) (p.firstPage() * PAGE)); // checked before the tree ran
    }

    private void killServed() {
        List<Mm> all = new ArrayList<>(mms);
        all.addAll(arriving);
        for (Mm m : all) {
            if (m.pid > 0) {
                dev.cryo.kernel.LibC.syscall(SyscallNr.KILL, m.pid, 9, 0, 0, 0, 0);
            }
        }
    }

    /** Every mm whose pages are all in goes back to the kernel: its ranges unregistered, its uffd closed. */
    private void finishEmpty() {
        for (java.util.Iterator<Mm> it = mms.iterator(); it.hasNext(); ) {
            Mm m = it.next();
            if (!m.left.isEmpty()) {
                continue;
            }
            log.debug("lazy pages: {}: every page in", m.who);
            for (PageRuns.Run r : m.registered.all()) {
                try {
                    Uffd.unregister(m.uffd, r.start(), r.end() - r.start(), () -> "UFFDIO_UNREGISTER");
                } catch (KernelException e) {
                    // unmapped meanwhile, or its mm gone
                }
            }
            synchronized (initial) {
                initial.remove(m.uffd);
                m.uffd.close();
            }
            it.remove();
        }
    }

    /** The planned end ({@code kill} false), or the watcher left to kill the tree (a failed serving). */
    private void stopGuard(boolean kill) {
        dev.cryo.engine.files.DeathWatch g;
        synchronized (initial) {
            g = guard;
            guard = null;
        }
        if (g != null && kill) {
            g.abandon();
        } else if (g != null) {
            g.close();
        }
    }

    /** Stops serving (a failed restore, whose tasks are killed) and closes every uffd. */
    @Override
    public void close() {
        stopping = true;
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else if (t == null) {
            for (Mm m; (m = arriving.poll()) != null; ) {
                m.uffd.close();
            }
        }
        stopGuard(false);
        done.complete(summary());
    }
}
