package dev.cryo.engine.restore;

import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.engine.image.ChunkType;
import dev.cryo.engine.image.ImageStreamReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.PreCopyLayout;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A migration's destination, while the pre-copy rounds arrive: the root task's stub is created
 * with its pid as soon as the first {@link PreCopyLayout} comes, its private anonymous areas are
 * mapped in it, and every page chunk of the root that falls in one is written into it at once
 * (process_vm_writev; the stub sleeps meanwhile). After the freeze the restore adopts that stub,
 * keeps each area the task record still has exactly ({@link PreparedRoot#keeps}), and writes only
 * the pages of chunks that were not placed — in a busy migration, the last round's.
 *
 * <p>Chunks are placed in the order they arrive, which is the image's order, so each page holds its
 * latest placed copy; a later copy that was not placed is written by the restore, which knows from
 * the image which copy is the latest. Anything unexpected (a pid taken, an area that collides with
 * the stub's own mappings) is not an error: that part, or all of it, is simply restored from the
 * image as without pre-placement. Used by one receiving thread; {@link #discard} may come from another.
 */
public final class ArrivingMemory implements AutoCloseable {
    private static final long PAGE = 4096;
    private static final int PROT_RW = 3, PROT_RWX = 7, MAP_PRIVATE_ANON = 0x22, MAP_FIXED_NOREPLACE = 0x100000;

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ArrivingMemory.class);
    private final String what;
    private int layouts, chunks;
    private final List<Object> records = new java.util.ArrayList<>();
    /** Each task's latest pages, kept as the chunks come (not in the downtime). */
    private final Map<Integer, LatestPages> latest = new java.util.HashMap<>();
    private String stopped;
    private final TreeMap<Long, Long> placed = new TreeMap<>();
    /** Areas whose mapping in the stub failed, by start: why (for the summary; their pages are the restore's to write). */
    private final TreeMap<Long, String> unplaced = new TreeMap<>();
    private int respawned;
    private final StubSpawner spawner;
    /** Keeps the stub's move of ns_last_pid past the tree's pids (StubParent) until the restore holds it. */
    private final dev.cryo.kernel.NsLastPid.Hold pids;
    private Pid stub;
    private boolean sessionLeader;
    private boolean execed;
    private boolean rseqDropped;
    private boolean off; // given up (or discarded): the restore does everything from the image
    private StubKeptWarm warm; // from the source's freeze until the restore takes the stub
    private ByteBuffer buffer;
    private final PageFill fill = new PageFill();
    private long placedPages;
    private int placedChunks;
    /** The bootstrap area mapped in the stub (0: not yet tried, -1: none). */
    private long bootstrap;

    /** Told once, on the receiving thread, when the first record written after the source's freeze arrives. */
    private final java.util.function.IntConsumer onFreeze;
    private final int rtPriority;
    private boolean frozen;

    /** Told on the receiving thread, when a running round's last chunk is in, how many pages it carried. */
    private final java.util.function.LongConsumer onRound;
    private long roundPages;
    private int rounds;

    /** {@code what} names the migration in log lines. */
    public ArrivingMemory(String what) {
        this(what, stubPid -> { }, pages -> { });
    }

    /**
     * As above; {@code onFreeze} hears the stub's pid (0: none) when the source tree is frozen: from
     * then on the source waits for this end, whose work should not wait for a CPU. {@code onRound}
     * hears each running round's pages once the next round starts (the root's next layout): the
     * source's rule of the rounds that race the tree's writes (PreCopySettings#endgame) applies
     * here too, where each round's receipt waits for this end's work.
     */
    public ArrivingMemory(String what, java.util.function.IntConsumer onFreeze, java.util.function.LongConsumer onRound) {
        this(what, onFreeze, onRound, 0);
    }

    /** As above; {@code rtPriority}: the stub's SCHED_FIFO priority while it is kept warm (cryo.restore.rt-priority; 0: none). */
    public ArrivingMemory(String what, java.util.function.IntConsumer onFreeze, java.util.function.LongConsumer onRound,
                          int rtPriority) {
        this(what, onFreeze, onRound, rtPriority, StubParent::spawnStub);
    }

    /** How the root's stub is made: {@link StubParent#spawnStub}, or a test's. */
    interface StubSpawner {
        Pid spawn(int pid, boolean sessionLeader, boolean execed);
    }

    ArrivingMemory(String what, java.util.function.IntConsumer onFreeze, java.util.function.LongConsumer onRound,
                   int rtPriority, StubSpawner spawner) {
        this.spawner = spawner;
        this.pids = dev.cryo.kernel.NsLastPid.hold();
        this.rtPriority = rtPriority;
        this.what = what;
        this.onFreeze = onFreeze;
        this.onRound = onRound;
    }

    /** Whether the first record written after the source's freeze has arrived. */
    public synchronized boolean sourceFrozen() {
        return frozen;
    }

    /** Takes what concerns it from one verified chunk of the arriving image. */
    public synchronized void accept(ImageStreamReader.Chunk c) {
        if (!frozen && c.record() instanceof dev.cryo.engine.model.DumpInfo) { // written once the tree is seized
            frozen = true;
            onFreeze.accept(off || stub == null ? 0 : stub.value());
            // the running rounds' chunks merged while the source reads its frozen state: the listing
            // after the last chunk has only the frozen round's few to go round
            latest.values().forEach(LatestPages::settle);
            if (!off && stub != null) {
                warm = new StubKeptWarm(stub, rtPriority);
            }
        }
        roundEnds(c);
        boolean placed = false;
        if (!off) {
            try {
                if (c.record() instanceof PreCopyLayout l) {
                    layout(l);
                } else if (c.entry().type() == ChunkType.PAGES && stub != null && c.entry().pid() == stub.value()) {
                    placed = pages(c);
                }
            } catch (RuntimeException | dev.cryo.engine.image.ImageCorruptException e) {
                stopped = e.getMessage() == null ? e.toString() : e.getMessage();
                log.debug("{}: placing pages before the freeze stopped (the restore writes them all): {}", what, stopped, e);
                discard(); // no stub handed over: the placement kept below is never consulted
            }
        }
        if (c.record() != null) { // a deleted file's piece is read again from the staged image when written
            records.add(GhostPieces.inPlace(c.record(), c.recordStart()));
        } else if (c.entry().type() == ChunkType.PAGES) {
            latest.computeIfAbsent(c.entry().pid(), k -> new LatestPages(true)).add(c.entry(), placed);
        }
    }

    /** Each layout of the root (the first task's) starts a round: the one before it is complete. */
    private void roundEnds(ImageStreamReader.Chunk c) {
        if (frozen) {
            return;
        }
        if (c.entry().type() == ChunkType.PAGES) {
            roundPages += c.entry().pageCount();
        } else if (c.record() instanceof PreCopyLayout l && (stub == null || l.pid() == stub.value())) {
            if (rounds++ > 0) {
                onRound.accept(roundPages);
            }
            roundPages = 0;
        }
    }

    private void layout(PreCopyLayout l) {
        layouts++;
        letGo(); // layouts come before the freeze; one after it would seize the stub below
        if (stub == null) {
            sessionLeader = l.sessionLeader();
            execed = l.execed();
            spawnClearOf(l);
        } else if (l.pid() != stub.value()) {
            return;
        }
        TreeMap<Long, Long> wanted = new TreeMap<>();
        for (int i = 0; i < l.areas(); i++) {
            long s = l.start(i), e = l.end(i);
            Map.Entry<Long, Long> at = placed.floorEntry(s);
            if (at != null && at.getKey() == s && at.getValue() < e && free(at.getValue(), e)) {
                wanted.put(at.getValue(), e); // grown (a heap): the extension joins the area
            } else if (free(s, e)) {
                wanted.put(s, e);
            }
        }
        if (wanted.isEmpty()) {
            return;
        }
        try (Tracer tracer = new Tracer()) {
            List<Integer> tids = TaskSeizer.seizeLive(tracer, stub, Duration.ofSeconds(5));
            List<dev.cryo.kernel.proc.MapsEntry> maps = ProcFs.maps(stub);
            try (RemoteTask remote = new RemoteTask(tracer, stub, maps);
                 Injector inj = remote.injector(stub.value())) {
                if (!rseqDropped) { // two injected round trips fewer for the restore's adoption, in the downtime
                    rseqDropped = true;
                    try {
                        dev.cryo.engine.restore.stage.StubAdoption.dropRseq(tracer, stub.value(), inj);
                    } catch (dev.cryo.kernel.SyscallException e) { // the adoption tries again, and says
                        log.debug("{}: the stub's rseq stays registered for now: {}", what, e.getMessage());
                    }
                }
                if (bootstrap == 0) {
                    bootstrap = mapBootstrap(inj, l, maps);
                }
                for (Map.Entry<Long, Long> a : wanted.entrySet()) {
                    long r = inj.raw(SyscallNr.MMAP, a.getKey(), a.getValue() - a.getKey(), PROT_RW,
                            MAP_PRIVATE_ANON | MAP_FIXED_NOREPLACE, -1, 0);
                    if (r == a.getKey()) {
                        add(a.getKey(), a.getValue());
                        unplaced.remove(a.getKey());
                    } else { // the restore writes that area's pages whole, in the downtime (2.7 s for a GiB at load 20)
                        String why = Long.toHexString(a.getKey()) + "-" + Long.toHexString(a.getValue()) + " ("
                                + (a.getValue() - a.getKey()) / 1024 + " KiB): mmap " + (r < 0 && r > -4096
                                ? dev.cryo.kernel.Errno.name((int) -r) : "gave " + Long.toHexString(r));
                        unplaced.put(a.getKey(), why);
                        log.debug("{}: area {} not placed before the freeze (the stub's own mappings there: {})", what, why,
                                maps.stream().filter(m -> m.start() < a.getValue() && a.getKey() < m.end()).toList());
                    }
                }
            } finally {
                TaskSeizer.release(tracer, stub, tids);
            }
        }
    }

    /** Stubs spawned at most for one layout whose areas the stub's own mappings are in (each spawn lays it out anew). */
    private static final int SPAWNS = 4;

    /**
     * The stub, with none of its own mappings (its libraries, vDSO, stack: laid out at random) in the
     * root's areas: an area they are in cannot be mapped (EEXIST), and the restore wrote all of its
     * pages in the downtime (a GiB's: 2.8 s). Such a stub is killed and spawned again, laid out anew;
     * the last one is kept as it is. Dies with this process, never left behind.
     */
    private void spawnClearOf(PreCopyLayout l) {
        for (int spawn = 1; ; spawn++) {
            stub = spawner.spawn(l.pid(), sessionLeader, execed);
            if (!Spawner.awaitSleeping(stub, "sleep", 5000)) {
                throw new KernelException("the stub for pid " + stub + " did not start within 5 s");
            }
            List<dev.cryo.kernel.proc.MapsEntry> inTheWay = ProcFs.maps(stub).stream().filter(m -> java.util.stream.IntStream
                    .range(0, l.areas()).anyMatch(i -> m.start() < l.end(i) && l.start(i) < m.end())).toList();
            if (inTheWay.isEmpty() || spawn == SPAWNS) {
                return;
            }
            respawned++;
            log.debug("{}: the stub {} has mappings of its own in the tree's areas ({}): spawned again", what, stub, inTheWay);
            kill(stub.value());
            stub = null;
        }
    }

    /**
     * The restore's bootstrap area, mapped (with its code) above the root's areas and the stub's own:
     * the restore takes it when no VMA of the image is in its way (BootstrapArea#choose), and its
     * adoption then maps none, in the downtime. -1 when the stub has a mapping there.
     */
    private long mapBootstrap(Injector inj, PreCopyLayout l, List<dev.cryo.kernel.proc.MapsEntry> maps) {
        List<long[]> taken = new java.util.ArrayList<>();
        for (int i = 0; i < l.areas(); i++) {
            taken.add(new long[] {l.start(i), l.end(i)});
        }
        maps.forEach(m -> taken.add(new long[] {m.start(), m.end()}));
        long at = BootstrapArea.lowestClearOf(taken);
        long r = inj.raw(SyscallNr.MMAP, at, BootstrapArea.CODE_AND_DATA, PROT_RWX, MAP_PRIVATE_ANON | MAP_FIXED_NOREPLACE, -1, 0);
        if (r != at) {
            return -1;
        }
        Sys.write(stub, at, BootstrapArea.CODE);
        return at;
    }

    /** No placed area overlaps [s, e). */
    private boolean free(long s, long e) {
        Map.Entry<Long, Long> before = placed.lowerEntry(e);
        return before == null || before.getValue() <= s;
    }

    private void add(long s, long e) {
        Map.Entry<Long, Long> before = placed.floorEntry(s);
        if (before != null && before.getValue() == s) { // an extension: one area, as the kernel merged it
            placed.put(before.getKey(), e);
        } else {
            placed.put(s, e);
        }
    }

    /** Whether the chunk's pages went into the stub. */
    private boolean pages(ImageStreamReader.Chunk c) throws dev.cryo.engine.image.ImageCorruptException {
        chunks++;
        IndexEntry e = c.entry();
        long s = e.vaddr(), end = s + e.pageCount() * PAGE;
        Map.Entry<Long, Long> area = placed.floorEntry(s);
        if (area == null || area.getValue() < end) {
            return false; // outside the areas: written by the restore
        }
        if (buffer == null || buffer.capacity() < e.rawLength()) {
            buffer = dev.cryo.engine.image.PageBuffers.allocate(Math.max(e.rawLength(), 1 << 20));
        }
        buffer.clear();
        c.readPages(buffer);
        if (e.fill()) {
            fill.write(s, end - s, buffer.get(0), (address, from, len) -> Sys.writeFrom(stub, address, from, 0, len));
        } else {
            Sys.writeFrom(stub, s, buffer, 0, e.rawLength());
        }
        placedChunks++;
        placedPages += e.pageCount();
        return true;
    }

    /**
     * The image is complete: the stub and what was placed in it, for the restore to adopt, or null
     * when nothing was. From here the stub belongs to the restore (which kills it on failure).
     */
    public synchronized PreparedRoot finish() {
        if (off || stub == null) {
            return null;
        }
        off = true;
        StubKeptWarm held = warm;
        if (held != null) { // still held and touched until the restore takes it, on the thread that holds it
            held.handOver();
            log.debug("{}: the stub ran {} times while the source was frozen", what, held.returns());
            warm = null;
        }
        // handed over, not copied: off, nothing changes the areas again
        PreparedRoot p = new PreparedRoot(stub.value(), sessionLeader, execed, java.util.Collections.unmodifiableMap(placed),
                placedPages, Math.max(bootstrap, 0), held);
        stub = null;
        return p;
    }

    /** The image as it arrived, complete (every chunk seen and verified): no need to read it again. */
    public synchronized ImageContents contents(java.nio.file.Path dir) {
        return ImageContents.arrived(dir, List.copyOf(records), Map.copyOf(latest));
    }

    /** What was placed, for the agent's log line. */
    public synchronized String summary() {
        return placedPages + " pages of " + placedChunks + "/" + chunks + " chunks placed in " + placed.size()
                + " areas from " + layouts + " layouts" + (respawned == 0 ? "" : ", the stub spawned again " + respawned
                + " time(s) for its own mappings in the tree's areas") + (unplaced.isEmpty() ? ""
                : "; not placed: " + String.join(", ", unplaced.values())) + (stopped == null ? "" : "; stopped: " + stopped);
    }

    /**
     * The migration failed or was abandoned before the restore: the stub goes. Also once the restore
     * that took it has begun (its own hold on ns_last_pid keeps the stub's move past the tree's pids).
     */
    public synchronized void discard() {
        off = true;
        pids.close();
        if (stub != null) {
            kill(stub.value());
            stub = null;
        }
        letGo();
    }

    /** The stub no longer kept warm (StubKeptWarm); the times it ran are in the debug log. */
    private void letGo() {
        if (warm != null) {
            warm.close();
            log.debug("{}: the stub ran {} times while the source was frozen", what, warm.returns());
            warm = null;
        }
    }

    @Override
    public void close() {
        discard();
    }

    /** Kills a stub this process spawned and reaps it (it is our child). */
    public static void kill(int pid) {
        try {
            Sys.kill(Pid.of(pid), Signals.SIGKILL);
            Sys.wait4(pid, 0);
        } catch (KernelException gone) {
            // already gone or reaped
        }
    }
}
