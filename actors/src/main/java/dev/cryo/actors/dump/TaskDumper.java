package dev.cryo.actors.dump;

import dev.cryo.engine.dump.BufferPool;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.dump.PageCopier;
import dev.cryo.engine.dump.MemoryPlan;
import dev.cryo.engine.dump.PageRun;
import dev.cryo.engine.dump.PreCopyTracker;
import dev.cryo.engine.dump.ExitWrites;
import dev.cryo.engine.dump.TaskCollector;
import dev.cryo.engine.dump.TaskSeizer;
import dev.cryo.engine.dump.ZombieReader;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.RobustList;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;
import dev.cryo.kernel.ptrace.Tracer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.ArrayList;
import java.util.List;

/**
 * Dumps one process of the tree. Runs on a pinned thread, which is the ptrace thread of every
 * thread of the task: it seizes them, collects their state by injection, fans the page copying
 * out to {@link RegionDumper}s, writes the task's record, and finally kills or releases the task.
 * If it stops for any other reason, it detaches whatever it still holds: a failed dump leaves
 * the task running.
 */
public final class TaskDumper {
    public static final DispatcherSelector DISPATCHER = DispatcherSelector.fromConfig("cryo-dispatchers.task");
    static final DispatcherSelector REGIONS = DispatcherSelector.fromConfig("cryo-dispatchers.region");

    public sealed interface Command {}

    /** {@code cgroups}: the task's cgroups read before the freeze (a plain dump's, see DumpSupervisor), or null. */
    public record Seize(java.time.Duration timeout, ActorRef<Reply> replyTo,
                        java.util.concurrent.Future<dev.cryo.engine.cgroups.CgroupsAhead> cgroups) implements Command {
        public Seize(java.time.Duration timeout, ActorRef<Reply> replyTo) {
            this(timeout, replyTo, null);
        }
    }

    public record Collect(CollectJob job, ActorRef<Reply> replyTo) implements Command {}

    /**
     * {@code awaitReap}: after killing, wait (bounded) until the pid is free again: a task whose
     * parent is killed with it is reaped by init a moment later, and a restore right after the dump
     * needs its pid. {@code dieWithin}: how long a killed task may take to die before it is reported
     * {@link Failed}, named with where it sleeps (cryo.dump.release-timeout).
     */
    public record Release(boolean kill, boolean awaitReap, boolean stop, java.time.Duration dieWithin,
                          ActorRef<Reply> replyTo) implements Command {
        public Release(boolean kill, ActorRef<Reply> replyTo) {
            this(kill, false, false, java.time.Duration.ZERO, replyTo);
        }
    }

    /**
     * The tree is held frozen for a migration, its image sent: the task lets go of its file locks for the copy to take
     * them (dev.cryo.engine.dump.HeldLocks); a {@link Release} that resumes it takes them back first.
     */
    public record LetGoOfLocks() implements Command {}

    /**
     * After {@link Collected} (every page read): answers {@link Written} once every page is in
     * the image, or {@link Failed}. A {@link Release} may come in between (a tree left running
     * runs again while the last pages are written).
     */
    public record AwaitWrites(ActorRef<Reply> replyTo) implements Command {}

    /** Pre-copy: start tracking the task's writes (a brief seize to plant the uffd), and let it run on. */
    public record StartTracking(java.time.Duration timeout, ActorRef<Reply> replyTo) implements Command {}

    /**
     * Pre-copy after a pre-dump ({@code dump --prev-images-dir}): take over the task's tracking kept since
     * (its {@code uffd}, owned from now on), no seize; the pages of {@code previous} in its pre-copied
     * mappings count as sent, and the answer lists them for the writer to copy.
     */
    public record AdoptTracking(java.time.Duration timeout, dev.cryo.kernel.Fd uffd,
                                dev.cryo.engine.dump.PreviousImage previous, ActorRef<Reply> replyTo) implements Command {}

    /**
     * Pre-copy: copy the pages written since the last round while the task runs. {@code rounds}: a
     * round whose scan finds what would end the pre-copy had the tree only this task (see
     * PreCopySettings#endsAfter) is likely the last before the freeze, so the task's smaps is read
     * beside its copy for the {@link ReadLayout} that would follow (null: never).
     */
    /**
     * {@code shared}: the pages of the shared objects this task carries, found by SharedPreCopy's scan of the round.
     * {@code throttlePercent}: the share of each period the task is stopped for while the round's pages are
     * copied and sent (PreCopyConvergence), 0: it runs freely.
     */
    public record CopyRound(CollectJob job, ActorRef<Reply> replyTo, boolean layout,
                            dev.cryo.config.PreCopySettings rounds, List<PageRun> shared, int throttlePercent)
            implements Command {
        public CopyRound(CollectJob job, ActorRef<Reply> replyTo) {
            this(job, replyTo, false, null, List.of(), 0);
        }
    }

    /**
     * Pre-copy, right before the freeze: read the task's smaps while it still runs, so the frozen
     * plan needs no page-table walk of its own when the areas have not changed (MemoryPlan#provisional);
     * the read a likely last round started beside its copy (CopyRound#rounds) is taken when there is one.
     */
    public record ReadLayout(ActorRef<Reply> replyTo, FdHandler.DumpContext files) implements Command {}

    private record RegionReply(RegionDumper.Reply reply) implements Command {}

    /** The throttle's next stop or let-go; {@code generation} tells a stale one from the current throttle's. */
    private record ThrottleTick(int generation) implements Command {}

    /** What collecting needs from the supervisor: the writer, the shared buffers, the shared fd context. */
    /** {@code parentSharing}: the pages each task shares with its parent or children (ParentSharing.scan). */
    public record CollectJob(ActorRef<ImageWriterActor.Command> writer, dev.cryo.engine.image.ImageSink.ConcurrentPages direct,
                             BufferPool pool, FdHandler.DumpContext files,
                             int regionWorkers, DumpProgress progress, long bufferWaitMillis,
                             dev.cryo.engine.memory.ParentSharing.Found parentSharing, boolean runsOn,
                             int rtPriority) {}

    public sealed interface Reply {
        Pid pid();
    }

    /**
     * All threads stopped since {@code frozenAtNanos} (System.nanoTime); {@code xstateSize} is this
     * CPU's XSAVE area, recorded in the image.
     */
    /** {@code cryoArea}: the start and end of cryo's area mapped before the freeze, null when none. */
    public record Seized(Pid pid, int threads, int xstateSize, long frozenAtNanos, long[] cryoArea) implements Reply {}

    /** The process has exited but is not reaped: it is dumped as a zombie if it still is one once its parent stops. */
    public record SeizedZombie(Pid pid) implements Reply {}

    /** The process exited and was reaped while the tree was being seized: it is no longer part of it. */
    public record Gone(Pid pid) implements Reply {}

    /** The task's state collected and every page read (not necessarily written yet: {@link AwaitWrites}). */
    /**
     * {@code trackedPages}: of the written and zero pages, those of pre-copied mappings, which the
     * final round's walk found instead of the plan's scan (not among {@code scannedPages}).
     */
    /** {@code fills}: of the written pages, those kept as a byte repeated (no page bytes in the image). */
    public record Collected(Pid pid, int threads, long scannedPages, long writtenPages, long zeroPages,
                            long trackedPages, long copyNanos, RegionDumper.Fills fills) implements Reply {}

    public record Written(Pid pid) implements Reply {}

    /** The answer to {@link AwaitWrites} when a page could not be written. */
    public record WriteFailed(Pid pid, String message) implements Reply {}

    /** {@code atNanos}: when the task ran again or was sent SIGKILL (System.nanoTime): the end of its frozen time. */
    public record Released(Pid pid, boolean killed, long atNanos) implements Reply {}

    /** Its writes are tracked by {@code tracker} (which the shared memory's pre-copy scans too). */
    /** {@code carried}: the previous image's pages the image takes as they are (an adopted tracking), else none. */
    public record Tracking(Pid pid, PreCopyTracker tracker, List<dev.cryo.engine.restore.PageSlice> carried) implements Reply {
        public Tracking(Pid pid, PreCopyTracker tracker) {
            this(pid, tracker, List.of());
        }
    }

    /**
     * A pre-copy round's pages of this task: {@code pages} those it put into the image (what the rounds'
     * convergence weighs), {@code zero} the zero pages found (left out, or recorded as zero), {@code fills}
     * of {@code pages}, those recorded as a byte repeated.
     */
    public record RoundCopied(Pid pid, long pages, long zero, RegionDumper.Fills fills) implements Reply {
        /** Pages sent with their bytes: not those recorded as zero or as one byte repeated (a record of a few bytes). */
        public long sent() {
            return pages - fills.pages();
        }
    }

    /** {@code ahead}: the smaps read was made beside the last round's copy (CopyRound#rounds). */
    public record LayoutRead(Pid pid, boolean ahead) implements Reply {}

    public record Failed(Pid pid, String message) implements Reply {}

    public static Behavior<Command> create(Pid pid) {
        return dev.cryo.actors.PidMdc.of(Command.class, pid.value(), Behaviors.setup(ctx -> new TaskDumper(ctx, pid).idle()));
    }

    private final ActorContext<Command> ctx;
    private final Pid pid;
    private final Tracer tracer = new Tracer(); // created on the pinned thread: the ptrace thread
    private List<Integer> tids = List.of();
    private PreCopyTracker preCopy; // set while the task's writes are tracked
    private Layout early; // smaps read right before the freeze (pre-copy)
    /** smaps read beside the copy of a round likely to be the last (see CopyRound#rounds). */
    private java.util.concurrent.Future<Layout> layoutAhead;

    /** A running task's smaps and the identities of its mapped files (null: none read), for the frozen plan. */
    private record Layout(List<dev.cryo.kernel.proc.SmapsEntry> smaps, dev.cryo.engine.memory.MappedFilesAhead files) {
        /** {@code changes}: the watch to read the files with (null: none), which the layout closes. */
        static Layout read(Pid pid, dev.cryo.kernel.DirectoryChanges changes) {
            try {
                List<dev.cryo.kernel.proc.SmapsEntry> smaps = ProcFs.smaps(pid);
                return new Layout(smaps, dev.cryo.engine.memory.MappedFilesAhead.read(pid, smaps, changes));
            } catch (RuntimeException e) {
                if (changes != null) {
                    changes.close();
                }
                throw e;
            }
        }

        void close() {
            if (files != null) {
                files.close();
            }
        }
    }

    /** Drops the read a likely last round started (its inotify instance closed once the read is over). */
    private void dropLayoutAhead() {
        java.util.concurrent.Future<Layout> f = layoutAhead;
        layoutAhead = null;
        if (f != null) {
            SMAPS.execute(() -> {
                try {
                    f.get().close();
                } catch (java.util.concurrent.ExecutionException ignored) {
                    // nothing to close
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
    }

    private void dropEarly() {
        if (early != null) {
            early.close();
            early = null;
        }
    }
    private long previousRound; // pages the last pre-copy round found
    /** Reads smaps of a frozen task while its dumper goes on with the freeze (daemon threads, made on demand). */
    private static final java.util.concurrent.ExecutorService SMAPS = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "cryo-smaps");
        t.setDaemon(true);
        return t;
    });
    private boolean zombie;
    private TaskImage dumped; // what the collect found, for what the kill would write (ExitWrites)
    /** Its file locks were let go while the tree was held for a migration ({@link LetGoOfLocks}). */
    private boolean locksLetGo;
    /** Region dumpers of the collect whose pages are not all written yet; the first failure among them. */
    private int writesPending;
    private String writeFailure;
    private ActorRef<Reply> awaitingWrites;
    private boolean released;

    private TaskDumper(ActorContext<Command> ctx, Pid pid) {
        this.ctx = ctx;
        this.pid = pid;
    }

    private Behavior<Command> idle() {
        return Behaviors.receive(Command.class)
                .onMessage(Seize.class, this::onSeize)
                .onMessage(Collect.class, this::onCollect)
                .onMessage(Release.class, this::onRelease)
                .onMessage(StartTracking.class, this::onStartTracking)
                .onMessage(AdoptTracking.class, this::onAdoptTracking)
                .onMessage(CopyRound.class, this::onCopyRound)
                .onMessage(ThrottleTick.class, this::onThrottleTick)
                .onMessage(ReadLayout.class, m -> {
                    // the last round's pages are still on their way meanwhile: throttled again after the reads, up to the seize
                    int duty = throttle == null ? 0 : throttle.dutyPercent();
                    endThrottle();
                    // the freeze follows: cryo's young collection now, not in the frozen window
                    dev.cryo.actors.HeapRoom.make();
                    boolean ahead = layoutAhead != null;
                    if (preCopy != null) {
                        readCgroupsAhead(m.files());
                    }
                    dropEarly();
                    if (layoutAhead == null) {
                        premapScratch(); // its watch, if it mapped, covers layoutNow's read too
                    }
                    try {
                        early = preCopy == null ? null : layoutNow();
                    } catch (RuntimeException e) {
                        early = null; // the frozen plan reads it then (and says what is wrong)
                    }
                    awaitQuietly(cgroupsAhead); // read before the freeze, not in it
                    startThrottle(duty);
                    m.replyTo().tell(new LayoutRead(pid, ahead));
                    return Behaviors.same();
                })
                .onMessage(AwaitWrites.class, m -> {
                    awaitingWrites = m.replyTo();
                    return writesSettled();
                })
                .onMessage(LetGoOfLocks.class, m -> {
                    if (dumped != null && !zombie && !released) {
                        locksLetGo = true;
                        dev.cryo.engine.dump.HeldLocks.release(tracer, pid, dumped).forEach(p -> ctx.getLog().warn(
                                "{}; the copy may not take it", p));
                    }
                    return Behaviors.same();
                })
                .onMessage(RegionReply.class, this::onLateRegion)
                .onSignal(PostStop.class, s -> releaseOnStop())
                .build();
    }

    /**
     * smaps for the frozen plan: the read the last round started beside its copy if there is one (a
     * walk of all the page tables, 30-180 ms for a GiB under load, no longer between the last round's
     * scan and the freeze, where the tree's writes pile up for the frozen round), else a read now.
     */
    private Layout layoutNow() {
        java.util.concurrent.Future<Layout> ahead = layoutAhead;
        layoutAhead = null;
        if (ahead != null) {
            try {
                return ahead.get();
            } catch (java.util.concurrent.ExecutionException e) {
                // read again below: that read says what is wrong
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while reading smaps", e);
            }
        }
        watchFlagsUnlessPremapped();
        return Layout.read(pid, sharedChanges());
    }

    /**
     * One inotify instance per task for what is read before the freeze (its cgroups, its mapped
     * files): cryo may hold an eighth of the user's instances, fewer than two per task of a tree
     * like Chromium's. Opened on first need, closed with the tracking.
     */
    private dev.cryo.kernel.DirectoryChanges aheadChanges;

    /** A holder of the task's instance for one read (null when none is to be had), closed by that read. */
    private dev.cryo.kernel.DirectoryChanges sharedChanges() {
        if (aheadChanges == null) {
            aheadChanges = dev.cryo.kernel.DirectoryChanges.tryOpen();
        }
        return aheadChanges == null ? null : aheadChanges.share();
    }

    /**
     * Watches the task for calls that change VmFlags in place from before the smaps read the frozen
     * plan may be made from: if it made none by the freeze, that read's VmFlags are the frozen
     * task's and no smaps is read while it is frozen.
     */
    private dev.cryo.engine.dump.VmFlagsWatch flagsWatch;

    /** The task's CPU time at the end of the last round's scan (which write-protects what it found written). */
    private long cpuWhenArmed = -1;
    private java.time.Duration seizeTimeout;

    /**
     * A task that has not run since a round write-protected its pages (bigmem waits in sigsuspend) pays for
     * them at its first return to user mode, 15 ms of its CPU for a GiB here: the freeze's first injection
     * paid it, frozen (PreCopyBenchmark; a task that wakes every 100 ms paid it while running, 0.3 ms were
     * left). Such a task is made to return once now, while the tree runs and it waits anyway; before the
     * VmFlags watch starts, which cryo's own calls would fail.
     */
    private void returnOnceIfIdle() {
        if (preCopy == null || cpuWhenArmed < 0 || seizeTimeout == null || ProcFs.cpuNanos(pid) != cpuWhenArmed) {
            return;
        }
        long t0 = System.nanoTime();
        try {
            List<Integer> seized = TaskSeizer.seizeLive(tracer, pid, seizeTimeout);
            try {
                // cryo's area mapped through the sigreturn route and unmapped: two returns to user mode
                new dev.cryo.engine.dump.RemoteTask(tracer, pid, ProcFs.maps(pid)).close();
            } finally {
                TaskSeizer.release(tracer, pid, seized);
            }
            ctx.getLog().debug("pid {}: made to return to user mode once before the freeze (idle since its pages were"
                    + " write-protected) in {} µs", pid, (System.nanoTime() - t0) / 1000);
        } catch (RuntimeException e) {
            ctx.getLog().debug("pid {}: not made to return to user mode before the freeze (the freeze pays it): {}",
                    pid, e.getMessage());
        }
        cpuWhenArmed = -1;
    }

    /** cryo's scratch area mapped before the freeze (TaskCollector.Premapped), until the collect takes it. */
    private TaskCollector.Premapped premapped;
    /** The watch begun while the task was stopped for {@link #premapped}: only it covers what that read. */
    private dev.cryo.engine.dump.VmFlagsWatch premappedWatch;

    /**
     * Maps cryo's scratch area while the tree still runs (the task stopped for it, as a round registering
     * a new mapping stops it), before the VmFlags watch starts: the freeze then has no mmap to make. The
     * mmap also makes an idle task return to user mode once (returnOnceIfIdle), so it replaces that.
     */
    private void premapScratch() {
        if (preCopy == null || seizeTimeout == null || premapped != null) {
            return;
        }
        long t0 = System.nanoTime();
        try {
            List<Integer> seized = TaskSeizer.seizeLive(tracer, pid, seizeTimeout);
            try {
                premapped = TaskCollector.premap(tracer, pid);
                // before the task runs again: a brk it moved between its release and a later watch's start
                // went unseen, and the freeze took the break read here (a heap that could not grow after)
                watchFlags();
                premappedWatch = flagsWatch;
            } finally {
                TaskSeizer.release(tracer, pid, seized);
            }
            ctx.getLog().debug("pid {}: scratch area mapped before the freeze in {} µs", pid, (System.nanoTime() - t0) / 1000);
            cpuWhenArmed = -1;
        } catch (RuntimeException e) {
            ctx.getLog().debug("pid {}: scratch area not mapped before the freeze (the freeze maps it): {}", pid,
                    e.getMessage());
            returnOnceIfIdle();
        }
    }

    /**
     * The area mapped before the freeze if the frozen task still has it as cryo mapped it and made no
     * call since that maps, unmaps or locks memory (its VmFlags watch); else null, the area unmapped.
     */
    private TaskCollector.Premapped premappedUsable() {
        TaskCollector.Premapped p = premapped;
        premapped = null;
        if (p == null) {
            return null;
        }
        String why;
        try {
            List<dev.cryo.kernel.proc.MapsEntry> now = ProcFs.maps(pid);
            dev.cryo.engine.dump.VmFlagsWatch watch = flagsWatch;
            why = watch == null || watch != premappedWatch || !watch.unchanged(tids)
                    ? "a call that maps or locks memory was made since"
                    : !p.remote().fits(tids.size()) ? "threads were made since"
                    : !p.remote().mappedAlone(now) ? "no longer mapped as it was" : null;
            if (why == null) {
                return p;
            }
            if (p.remote().mappedWithin(now)) {
                p.remote().close();
            }
        } catch (RuntimeException e) {
            why = e.getMessage();
        }
        ctx.getLog().debug("pid {}: scratch area mapped before the freeze not used ({}): mapped frozen", pid, why);
        return null;
    }

    /** Unmaps the area mapped before the freeze, stopping the task for it if it runs. */
    private void dropPremapped() {
        TaskCollector.Premapped p = premapped;
        premapped = null;
        if (p == null) {
            return;
        }
        try {
            List<Integer> seized = tids.isEmpty() ? TaskSeizer.seizeLive(tracer, pid, seizeTimeout) : List.of();
            try {
                if (p.remote().mappedWithin(ProcFs.maps(pid))) {
                    p.remote().close();
                }
            } finally {
                if (!seized.isEmpty()) {
                    TaskSeizer.release(tracer, pid, seized);
                }
            }
        } catch (RuntimeException e) {
            ctx.getLog().debug("pid {}: scratch area mapped before the freeze not unmapped: {}", pid, e.getMessage());
        }
    }

    private void watchFlags() {
        closeFlagsWatch();
        flagsWatch = dev.cryo.engine.dump.VmFlagsWatch.start(pid);
    }

    /**
     * Begins the watch for an early read, unless the one {@link #premapScratch} began while the task was stopped
     * for its area still runs: that one covers the premap's reads (brk) as well as anything after.
     */
    private void watchFlagsUnlessPremapped() {
        if (premapped == null || flagsWatch != premappedWatch) {
            watchFlags();
        }
    }

    private void closeFlagsWatch() {
        if (flagsWatch != null) {
            flagsWatch.close();
            flagsWatch = null;
        }
    }

    /**
     * The task's cgroups read before the freeze (pre-copy), confirmed once frozen (CgroupsAhead): kept
     * from the first likely last round to the collect, whatever changes meanwhile is seen then.
     */
    private java.util.concurrent.Future<dev.cryo.engine.cgroups.CgroupsAhead> cgroupsAhead;

    private void readCgroupsAhead(FdHandler.DumpContext files) {
        if (cgroupsAhead == null) {
            dev.cryo.kernel.DirectoryChanges changes = sharedChanges();
            java.util.Collection<Integer> tree = files.treePids();
            cgroupsAhead = SMAPS.submit(() -> {
                int ppid;
                try {
                    ppid = ProcFs.stat(pid).ppid();
                } catch (RuntimeException e) {
                    if (changes != null) {
                        changes.close();
                    }
                    throw e;
                }
                return dev.cryo.engine.cgroups.CgroupsAhead.read(pid, ppid, tree, changes);
            });
        }
    }

    /** Reads {@code pid}'s cgroups on a thread of cryo's while it runs, for the tree {@code tree}. */
    static java.util.concurrent.Future<dev.cryo.engine.cgroups.CgroupsAhead> readCgroupsAhead(
            Pid pid, java.util.Collection<Integer> tree) {
        return SMAPS.submit(() -> dev.cryo.engine.cgroups.CgroupsAhead.read(pid, ProcFs.stat(pid).ppid(), tree));
    }

    /** The cgroups read before the freeze, now this dumper's to close; null if none was read (or the read failed). */
    private dev.cryo.engine.cgroups.CgroupsAhead takeCgroupsAhead() {
        java.util.concurrent.Future<dev.cryo.engine.cgroups.CgroupsAhead> f = cgroupsAhead;
        cgroupsAhead = null;
        return cgroupsOf(f);
    }

    private static dev.cryo.engine.cgroups.CgroupsAhead cgroupsOf(java.util.concurrent.Future<dev.cryo.engine.cgroups.CgroupsAhead> f) {
        if (f == null) {
            return null;
        }
        try {
            return f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            return null; // read frozen then, which says what is wrong
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Closes a read no dumper took. */
    static void closeCgroupsAhead(java.util.concurrent.Future<dev.cryo.engine.cgroups.CgroupsAhead> f) {
        dev.cryo.engine.cgroups.CgroupsAhead c = cgroupsOf(f);
        if (c != null) {
            c.close();
        }
    }

    /** A collect's region dumper writing after its reads (a pre-copy round's replies all come in its round). */
    private Behavior<Command> onLateRegion(RegionReply m) {
        if (writesPending > 0 && (m.reply() instanceof RegionDumper.Done || m.reply() instanceof RegionDumper.Failed)) {
            writesPending--;
            if (m.reply() instanceof RegionDumper.Failed f && writeFailure == null) {
                writeFailure = f.message();
            }
            return writesSettled();
        }
        return Behaviors.same();
    }

    /** Answers {@link AwaitWrites} when the writes are over; a task already released stops then. */
    private Behavior<Command> writesSettled() {
        if (writesPending > 0 && writeFailure == null) {
            return Behaviors.same();
        }
        if (awaitingWrites != null) {
            awaitingWrites.tell(writeFailure == null ? new Written(pid) : new WriteFailed(pid, failure(writeFailure)));
            awaitingWrites = null;
        }
        return released ? Behaviors.stopped() : Behaviors.same();
    }

    private Behavior<Command> onStartTracking(StartTracking m) {
        try {
            // probed once (a read of cryo's own smaps), while the task runs: the frozen round asks
            dev.cryo.kernel.WriteTracker.guardsFlagged();
            List<Integer> seized = TaskSeizer.seizeLive(tracer, pid, m.timeout());
            try {
                preCopy = PreCopyTracker.start(tracer, pid);
            } finally {
                TaskSeizer.release(tracer, pid, seized);
            }
            seizeTimeout = m.timeout();
            m.replyTo().tell(new Tracking(pid, preCopy));
        } catch (RuntimeException e) {
            m.replyTo().tell(goneOr(failure(logged(e))));
        }
        return Behaviors.same();
    }

    private Behavior<Command> onAdoptTracking(AdoptTracking m) {
        try {
            dev.cryo.kernel.WriteTracker.guardsFlagged();
            // read while the task runs: a mapping changed since is unregistered, and the rounds send all of it
            List<dev.cryo.engine.restore.PageSlice> carried = m.previous().within(pid.value(),
                    PreCopyTracker.preCopiedRanges(ProcFs.maps(pid)));
            preCopy = PreCopyTracker.adopt(pid, m.uffd(), dev.cryo.engine.dump.PreviousImage.ranges(carried));
            seizeTimeout = m.timeout();
            m.replyTo().tell(new Tracking(pid, preCopy, carried));
        } catch (RuntimeException e) {
            m.uffd().close();
            m.replyTo().tell(goneOr(failure(logged(e))));
        }
        return Behaviors.same();
    }

    /**
     * While pre-copy runs, the tree runs: a task may exit (a server's child for one connection). It is then
     * no part of the dump; if a zombie is left, the freeze finds it again and dumps it as one.
     */
    private Reply goneOr(String failure) {
        return exiting() ? new Gone(pid) : new Failed(pid, failure);
    }

    /** One pre-copy round: the region dumpers copy from the running task; per-VMA counts are not kept. */
    private Behavior<Command> onCopyRound(CopyRound m) {
        List<PageRun> runs;
        long s0 = System.nanoTime();
        endThrottle(); // the last round's, up to this one's scan
        dropPremapped(); // a round after a likely last one: never tracked nor copied as the task's
        try {
            boolean pinnedBefore = preCopy.pinned().any();
            runs = preCopy.round(this::whileStopped);
            cpuWhenArmed = ProcFs.cpuNanos(pid);
            if (!pinnedBefore && preCopy.pinned().any()) {
                dev.cryo.engine.dump.PinnedWrites p = preCopy.pinned();
                ctx.getLog().info("pid {}: the kernel may write {} without a fault that tracking sees ({}): sent whole"
                        + " in the frozen round", pid, p.anywhere() != null ? "any of its pages" : "registered io_uring "
                        + "buffers " + p.buffers(), p.anywhere() != null ? p.anywhere() : "READ_FIXED");
            }
            if (!m.shared().isEmpty()) {
                runs = new java.util.ArrayList<>(runs);
                runs.addAll(m.shared());
            }
        } catch (RuntimeException e) {
            m.replyTo().tell(goneOr(failure("pre-copy round: " + logged(e))));
            return Behaviors.same();
        }
        CollectJob job = m.job();
        runs = dev.cryo.engine.memory.ParentSharing.readUnpinned(runs, job.parentSharing().unpinned().get(pid.value()));
        if (m.layout()) { // before the round's pages: the destination places them as they arrive
            job.writer().tell(new ImageWriterActor.WriteRecord(new dev.cryo.engine.model.PreCopyLayout(pid.value(),
                    sessionLeader(), preCopy.layout(), execed())));
        }
        long found = runs.stream().mapToLong(PageRun::pages).sum();
        job.progress().pagesPlanned(found);
        ctx.getLog().debug("pid {}: pre-copy round {} scanned in {} ms", pid, preCopy.rounds(), (System.nanoTime() - s0) / 1_000_000);
        boolean last = m.rounds() != null && m.rounds().endsAfter(preCopy.rounds(), found, previousRound);
        previousRound = found;
        if (last) {
            premapScratch();
            watchFlagsUnlessPremapped();
            dropLayoutAhead();
            dev.cryo.kernel.DirectoryChanges changes = sharedChanges();
            layoutAhead = SMAPS.submit(() -> Layout.read(pid, changes));
            readCgroupsAhead(job.files());
        } else {
            dropLayoutAhead();
        }
        List<List<PageRun>> shares = PageCopier.partition(runs, job.pool().bufferSize() / 4096, job.regionWorkers());
        startThrottle(m.throttlePercent());
        if (shares.isEmpty()) {
            if (last) {
                armEmpty();
            }
            m.replyTo().tell(new RoundCopied(pid, 0, 0, RegionDumper.Fills.NONE));
            return Behaviors.same();
        }
        ActorRef<RegionDumper.Reply> adapter = ctx.messageAdapter(RegionDumper.Reply.class, RegionReply::new);
        for (int i = 0; i < shares.size(); i++) {
            RegionDumper.Job rj = new RegionDumper.Job(i, pid, 1, shares.get(i), job.pool(), job.writer(), job.direct(),
                    job.progress(), job.bufferWaitMillis(), true);
            ctx.spawn(RegionDumper.create(rj, adapter), "round-" + preCopy.rounds() + "-" + i, REGIONS);
        }
        if (last) {
            armEmpty(); // beside the copy, which runs on the region dumpers' threads
        }
        return roundCopying(shares.size(), new RoundCopied(pid, 0, 0, RegionDumper.Fills.NONE), m.replyTo());
    }

    /** Before a likely last round's freeze: the empty ptes armed, so the frozen round's walk stays quick (PreCopyTracker#armEmpty). */
    private void armEmpty() {
        long t0 = System.nanoTime();
        try {
            long pages = preCopy.armEmpty();
            ctx.getLog().debug("pid {}: {} empty pages write-protected before the freeze in {} µs", pid, pages,
                    (System.nanoTime() - t0) / 1000);
        } catch (RuntimeException e) { // the frozen round then looks at them as before
            ctx.getLog().debug("pid {}: empty pages not write-protected before the freeze: {}", pid, e.getMessage());
        }
    }

    /** Runs {@code r} with every thread of the task seized and stopped (a round registering a new mapping). */
    private void whileStopped(Runnable r) {
        long t0 = System.nanoTime();
        List<Integer> seized = TaskSeizer.seizeLive(tracer, pid, seizeTimeout);
        try {
            r.run();
        } finally {
            TaskSeizer.release(tracer, pid, seized);
            ctx.getLog().debug("pid {}: stopped {} µs to register mappings made since the last round", pid,
                    (System.nanoTime() - t0) / 1000);
        }
    }

    /** PF_FORKNOEXEC clear: it ran a program after its fork (its stub must exec too). */
    private boolean execed() {
        try {
            return (ProcFs.stat(pid).flags() & dev.cryo.kernel.proc.ProcStat.PF_FORKNOEXEC) == 0;
        } catch (KernelException e) {
            return true; // exiting: the round's copy will say
        }
    }

    private boolean sessionLeader() {
        try {
            return ProcFs.stat(pid).session() == pid.value();
        } catch (KernelException e) {
            return false; // exiting: the round's copy will say
        }
    }

    /** The throttle of the round under way (null: none): from its copy to the next command, its receipt included. */
    private dev.cryo.engine.dump.PreCopyThrottle throttle;
    private int throttles;

    private void startThrottle(int percent) {
        if (percent > 0) {
            throttle = new dev.cryo.engine.dump.PreCopyThrottle(tracer, pid, seizeTimeout, percent);
            ctx.getSelf().tell(new ThrottleTick(++throttles));
        }
    }

    private Behavior<Command> onThrottleTick(ThrottleTick m) {
        if (throttle != null && m.generation() == throttles) {
            long next = throttle.tick();
            if (next < 0) {
                endThrottle();
            } else {
                ctx.scheduleOnce(java.time.Duration.ofMillis(next), ctx.getSelf(), new ThrottleTick(throttles));
            }
        }
        return Behaviors.same();
    }

    /** The task runs freely again: before any step of its own, and when the dumper stops. */
    private void endThrottle() {
        if (throttle != null) {
            throttle.end();
            ctx.getLog().debug("pid {}: round {} throttled: {}", pid, preCopy == null ? 0 : preCopy.rounds(), throttle);
            throttle = null;
            throttles++;
        }
    }

    private Behavior<Command> roundCopying(int pending, RoundCopied copied, ActorRef<Reply> replyTo) {
        if (pending == 0) {
            replyTo.tell(copied);
            return idle();
        }
        return Behaviors.receive(Command.class)
                .onMessage(ThrottleTick.class, this::onThrottleTick)
                .onMessage(RegionReply.class, m -> {
                    if (m.reply() instanceof RegionDumper.Failed f) {
                        replyTo.tell(goneOr(failure("pre-copy round: " + f.message())));
                        return idle();
                    }
                    if (m.reply() instanceof RegionDumper.Read) {
                        return Behaviors.same(); // a round ends when its pages are written
                    }
                    RegionDumper.Done d = (RegionDumper.Done) m.reply();
                    preCopy.owe(d.owed());
                    return roundCopying(pending - 1, new RoundCopied(pid, copied.pages() + d.written()[0],
                            copied.zero() + d.zero()[0], copied.fills().plus(d.fills())), replyTo);
                })
                .onMessage(Release.class, this::onRelease)
                .onSignal(PostStop.class, s -> releaseOnStop())
                .build();
    }

    private Behavior<Command> onSeize(Seize m) {
        endThrottle();
        if (m.cgroups() != null) {
            TaskDumper.closeCgroupsAhead(cgroupsAhead); // a seize again (a retried dump) brings a read of its own
            cgroupsAhead = m.cgroups();
        }
        try {
            long t0 = System.nanoTime();
            TaskSeizer.Outcome o = TaskSeizer.seize(tracer, pid, m.timeout());
            if (o instanceof TaskSeizer.Zombie) {
                zombie = true;
                m.replyTo().tell(new SeizedZombie(pid));
                return Behaviors.same();
            }
            if (o instanceof TaskSeizer.Gone) {
                m.replyTo().tell(new Gone(pid));
                return Behaviors.same();
            }
            tids = ((TaskSeizer.Live) o).tids();
            ctx.getLog().debug("pid {}: {} threads seized in {} µs, {} ptrace round trips so far", pid, tids.size(),
                    (System.nanoTime() - t0) / 1000, tracer.roundTrips());
            // before the queues are looked at: an answer caught right after its request is asked for again instead
            int undone = dev.cryo.engine.files.NetlinkRequestUndo.apply(tracer, pid, tids);
            if (undone > 0) {
                ctx.getLog().info("pid {}: {} thread(s) seized right after sending a netlink dump request will send it"
                        + " again (its answer was still queued)", pid, undone);
            }
            TaskCollector.Premapped area = premapped;
            m.replyTo().tell(new Seized(pid, tids.size(), tracer.getXstate(tids.get(0)).length, t0, area == null ? null
                    : new long[] {area.remote().scratch(), area.remote().scratch() + area.remote().length()}));
        } catch (RuntimeException e) {
            m.replyTo().tell(new Failed(pid, failure(logged(e))));
        }
        return Behaviors.same();
    }

    private Behavior<Command> onCollect(Collect m) {
        long t0 = System.nanoTime();
        if (zombie) {
            premapped = null; // went with the task's memory
            try {
                m.job().writer().tell(new ImageWriterActor.WriteRecord(ZombieReader.read(pid)));
                m.replyTo().tell(new Collected(pid, 0, 0, 0, 0, 0, 0, RegionDumper.Fills.NONE));
            } catch (RuntimeException e) {
                m.replyTo().tell(new Failed(pid, logged(e)));
            }
            return Behaviors.same();
        }
        CollectJob job = m.job();
        MemoryPlan plan;
        List<PageRun> runs = null;
        long planned, ran = 0;
        boolean flagsKept;
        long[] finalNanos = {0, 0}; // wall, cpu
        long[] smapsNanos = {0, 0};
        java.util.concurrent.Future<List<dev.cryo.kernel.proc.SmapsEntry>> frozenSmaps = null;
        java.util.concurrent.Future<PreCopyTracker.FinalRound> finalRuns = null;
        TaskCollector.Scratch scratch = null;
        long mapped;
        TaskCollector.Premapped ready = null;
        try {
            try {
                TaskCollector.Premapped mappedEarly = premapped; // in the smaps read before the freeze
                ready = premappedUsable(); // before the plan, which leaves it out
                plan = preCopy == null ? TaskCollector.plan(pid, job.files())
                        : TaskCollector.plan(pid, job.files(), preCopy, early == null ? null : early.smaps(),
                        early == null ? null : early.files(), mappedEarly == null ? null : mappedEarly.remote());
            } finally {
                if (early != null && early.files() != null) {
                    ctx.getLog().debug("pid {}: mapped files: {}", pid, early.files().outcome());
                }
                dropEarly();
            }
            // before cryo's own injections below (its mmap is one of the calls watched)
            dev.cryo.engine.dump.VmFlagsWatch watch = flagsWatch;
            flagsKept = plan.provisional() && watch != null && watch.unchanged(tids);
            // left open until the task is let go (stopTracking): closing it waits for an RCU grace period
            if (plan.provisional()) {
                ctx.getLog().debug("pid {}: {}", pid, flagsKept ? "VmFlags as read before the freeze: none of its "
                        + watch.threads() + " watched thread(s) made a call that changes them since, no smaps read frozen"
                        : "VmFlags confirmed by a frozen smaps read (" + (watch == null ? "not watched"
                        : "a watched call was made since the read before the freeze") + ")");
            }
            planned = System.nanoTime();
            // before the walks below: its mmap would wait for them (the mm's lock), and the collect with it
            long taskCpu = ctx.getLog().isDebugEnabled() ? ProcFs.cpuNanos(pid) : -1;
            scratch = TaskCollector.scratchArea(tracer, pid, tids, plan, ready, job.rtPriority());
            mapped = System.nanoTime();
            if (scratch.remote().liftedThreads() > 0) {
                ctx.getLog().debug("pid {}: {} thread(s) at SCHED_FIFO {} for the injections of the state read",
                        pid, scratch.remote().liftedThreads(), job.rtPriority());
            }
            if (taskCpu >= 0) {
                // the first injected syscall is the task's first return to user mode since it slept: in a VM
                // whose MMU is shadowed (this machine's) that costs the task CPU in proportion to its memory
                ctx.getLog().debug("pid {}: the task itself ran {} µs of CPU while the scratch area was mapped",
                        pid, (ProcFs.cpuNanos(pid) - taskCpu) / 1000);
            }
            if (plan.provisional() && !flagsKept) {
                // VmFlags may have changed in place since smaps was read: read it again, frozen, while
                // this thread finds the last pages and collects the state (the walk is kernel work on
                // the other core, the injections here mostly wait)
                frozenSmaps = SMAPS.submit(() -> {
                    long s0 = System.nanoTime(), c0 = cpuNanos();
                    try {
                        return ProcFs.smaps(pid);
                    } finally {
                        smapsNanos[0] = System.nanoTime() - s0;
                        smapsNanos[1] = cpuNanos() - c0;
                    }
                });
            }
            if (preCopy == null) {
                runs = plan.runs();
                ran = System.nanoTime();
            } else {
                // the final round's page-table walk (all of the tracked memory: tens of ms for a GiB under
                // load) runs beside the state collection, which is ptrace round trips waiting for the
                // target: the freeze holds the longer of the two, not their sum
                PreCopyTracker tracker = preCopy;
                MemoryPlan p = plan;
                finalRuns = SMAPS.submit(() -> {
                    long f0 = System.nanoTime(), c0 = cpuNanos();
                    try {
                        return tracker.finalRuns(p);
                    } finally {
                        finalNanos[0] = System.nanoTime() - f0;
                        finalNanos[1] = cpuNanos() - c0;
                    }
                });
            }
        } catch (RuntimeException e) {
            closeQuietly(scratch);
            if (scratch == null && ready != null) {
                try {
                    ready.remote().close();
                } catch (RuntimeException ignored) {
                    // the first failure is reported
                }
            }
            m.replyTo().tell(new Failed(pid, failure((preCopy == null ? "" : "final pre-copy round: ") + logged(e))));
            return Behaviors.same();
        }
        // the pages are copied while this thread collects the rest of the task's state (syscall
        // injection is ptrace round trips: latency, not work): the frozen window holds the longer
        // of the two, not their sum
        int vmaCount = plan.vmas().size();
        int workers = runs == null ? 0 : copyPages(runs, job, vmaCount, false);
        TaskCollector.Snapshot snap;
        long finalWait = 0, stateNanos, walksWait;
        try {
            long s0 = System.nanoTime();
            dev.cryo.engine.cgroups.CgroupsAhead cgroups = takeCgroupsAhead();
            try {
                snap = TaskCollector.collect(scratch, tids, job.files(), plan, SMAPS, cgroups);
            } catch (RuntimeException e) {
                closeQuietly(scratch);
                throw e;
            } finally {
                if (cgroups != null) {
                    ctx.getLog().debug("pid {}: cgroups {}", pid, cgroups.outcome());
                    cgroups.close();
                }
            }
            stateNanos = System.nanoTime() - s0;
            if (frozenSmaps == null && job.runsOn()) {
                // a task left running loses the area now, beside the final scan (the munmap waits for that
                // walk's mm lock, and the walk is the longer), not at its release after two actor hops
                scratch.close();
            }
            awaitQuietly(finalRuns);
            walksWait = System.nanoTime() - s0 - stateNanos;
            if (frozenSmaps == null && !job.runsOn()) {
                mappedScratch = scratch; // unmapped at the release if the task runs on after all (a failed migration)
            } else if (frozenSmaps != null) {
                // the frozen smaps walk (the freeze's longest CPU work) goes on while the final
                // round's pages are copied: its VmFlags are needed only by the task's record, which
                // follows the pages
                unconfirmed = new Unconfirmed(plan, frozenSmaps, scratch, smapsNanos, snap);
            }
        } catch (RuntimeException e) {
            awaitQuietly(finalRuns); // the tracker is not used by two threads, nor closed under the scan
            m.replyTo().tell(new Failed(pid, failure(logged(e))));
            return Behaviors.same(); // the region dumpers' replies are dropped in idle
        }
        PreCopyTracker.FinalRound last = null;
        if (finalRuns != null) {
            long w0 = System.nanoTime();
            try {
                last = finalRuns.get();
                runs = last.runs();
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable c = e.getCause();
                abandonUnconfirmed();
                m.replyTo().tell(new Failed(pid, failure("final pre-copy round: "
                        + logged(c instanceof RuntimeException r ? r : new IllegalStateException(c)))));
                return Behaviors.same();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                abandonUnconfirmed();
                m.replyTo().tell(new Failed(pid, "pid " + pid + ": interrupted in the final pre-copy round"));
                return Behaviors.same();
            }
            finalWait = System.nanoTime() - w0;
            ran = planned + finalNanos[0];
            workers = copyPages(runs, job, vmaCount, runs.stream().mapToLong(PageRun::pages).sum() <= INLINE_PAGES);
        }
        ctx.getLog().debug("pid {}: state collected in {} ms (memory plan {} ms{}, scratch area mapped in {} ms ({}), state read in {} ms, "
                        + "walks awaited {} ms, {} {} ms{}, {} pages{}), {} ptrace round trips so far",
                pid, (System.nanoTime() - t0) / 1_000_000, (planned - t0) / 1_000_000,
                plan.provisional() ? " from smaps read before the freeze" + (plan.filesAhead() == 0 ? ""
                        : ", with " + plan.filesAhead() + " mapped files' identities") : "", (mapped - planned) / 1_000_000,
                scratch.steps(), stateNanos / 1_000_000, walksWait / 1_000_000,
                preCopy == null ? "runs" : "final pre-copy runs", (ran - planned) / 1_000_000,
                finalRuns == null ? "" : " (cpu " + finalNanos[1] / 1_000_000 + " ms, categories of " + preCopy.categorized() + " pages) beside the state, "
                        + finalWait / 1_000_000 + " ms waited for",
                runs.stream().mapToLong(PageRun::pages).sum(), frozenSmaps == null ? "" : ", smaps read beside the copy",
                tracer.roundTrips());
        PreCopyTracker.FinalRound found = last;
        java.util.function.UnaryOperator<TaskCollector.Snapshot> completed = s -> withParentSharing(found == null ? s
                : new TaskCollector.Snapshot(s.task().withVmas(found.withGuards(s.task().vmas())), s.memory()), job);
        if (unconfirmed != null) {
            unconfirmed.completed = completed;
        }
        snap = completed.apply(snap);
        dumped = snap.task();
        Copying copying = new Copying(snap, vmaCount, workers, m);
        return copying.check();
    }

    /**
     * A pre-copy's final round of at most this many pages (16 MiB: what pre-copy leaves when it
     * stops, below cryo.pre-copy.stop-below or no longer shrinking) is copied by this thread: no
     * region dumpers to start and wait for while the tree is frozen. Spawning them and hearing
     * back cost 20-30 ms of a loaded 2-core freeze for the ~800 pages a tree writing 10 MiB/s leaves,
     * where one thread copies 16 MiB in a few ms (the sink takes the pages one chunk at a time anyway).
     */
    private static final long INLINE_PAGES = 4096;

    /**
     * The pages this task shares copy-on-write with its parent of the tree, as the supervisor found
     * them before any page was read (ParentSharing.scan), recorded in its mappings.
     */
    private TaskCollector.Snapshot withParentSharing(TaskCollector.Snapshot snap, CollectJob job) {
        long[] runs = job.parentSharing().inherited().get(pid.value());
        if (runs == null) {
            return snap;
        }
        return new TaskCollector.Snapshot(snap.task().withVmas(
                dev.cryo.engine.memory.ParentSharing.assign(snap.task().vmas(), runs)), snap.memory());
    }

    /** This thread's CPU time (user and system), to tell work from waiting for a CPU in the debug log. */
    private static long cpuNanos() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    /** Region dumpers for {@code runs}; returns how many (each answers once its pages are written). */
    private int copyPages(List<PageRun> runs, CollectJob job, int vmaCount, boolean here) {
        // pages shared copy-on-write are read without a pin, which would give this task its own copy
        runs = dev.cryo.engine.memory.ParentSharing.readUnpinned(runs, job.parentSharing().unpinned().get(pid.value()));
        List<List<PageRun>> shares = PageCopier.partition(runs, job.pool().bufferSize() / 4096, here ? 1 : job.regionWorkers());
        job.progress().pagesPlanned(runs.stream().mapToLong(PageRun::pages).sum());
        ActorRef<RegionDumper.Reply> adapter = ctx.messageAdapter(RegionDumper.Reply.class, RegionReply::new);
        writesPending = shares.size();
        writeFailure = null;
        if (here && shares.size() == 1) { // its replies wait in this actor's mailbox, as a region dumper's would
            RegionDumper.copyHere(new RegionDumper.Job(0, pid, vmaCount, shares.get(0), job.pool(), job.writer(), job.direct(),
                    job.progress(), job.bufferWaitMillis(), false), adapter);
            return 1;
        }
        for (int i = 0; i < shares.size(); i++) {
            RegionDumper.Job rj = new RegionDumper.Job(i, pid, vmaCount, shares.get(i), job.pool(), job.writer(), job.direct(),
                    job.progress(), job.bufferWaitMillis(), false);
            ctx.spawn(RegionDumper.create(rj, adapter), "region-" + i, REGIONS);
        }
        return shares.size();
    }

    /** After a failure, which is the one reported. */
    private static void closeQuietly(TaskCollector.Scratch scratch) {
        if (scratch == null) {
            return;
        }
        try {
            scratch.close();
        } catch (RuntimeException ignored) {
            // the first failure is reported
        }
    }

    static void awaitQuietly(java.util.concurrent.Future<?> f) {
        if (f == null) {
            return;
        }
        try {
            f.get();
        } catch (java.util.concurrent.ExecutionException ignored) {
            // the collect failed already: that is the failure reported
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A provisional plan's frozen smaps read, still walking while the final round's pages are copied,
     * and cryo's scratch area, still mapped in the task until that walk is over (see onCollect).
     */
    private Unconfirmed unconfirmed;

    private final class Unconfirmed {
        private final MemoryPlan plan;
        private final java.util.concurrent.Future<List<dev.cryo.kernel.proc.SmapsEntry>> frozenSmaps;
        private final TaskCollector.Scratch scratch;
        private final long[] smapsNanos; // wall, cpu: set by the walk's thread
        private final TaskCollector.Snapshot collected;
        /** What follows the collect: the final round's guard pages, the pages shared with the parent. */
        private java.util.function.UnaryOperator<TaskCollector.Snapshot> completed = s -> s;

        Unconfirmed(MemoryPlan plan, java.util.concurrent.Future<List<dev.cryo.kernel.proc.SmapsEntry>> frozenSmaps,
                    TaskCollector.Scratch scratch, long[] smapsNanos, TaskCollector.Snapshot collected) {
            this.plan = plan;
            this.frozenSmaps = frozenSmaps;
            this.scratch = scratch;
            this.smapsNanos = smapsNanos;
            this.collected = collected;
        }

        /**
         * The task's snapshot with the frozen VmFlags. The scratch area stays mapped for the release
         * ({@link #mappedScratch}) unless that smaps read saw it merged with an area of the task.
         */
        TaskCollector.Snapshot confirm() {
            long w0 = System.nanoTime();
            awaitQuietly(frozenSmaps);
            long u0 = System.nanoTime();
            mappedScratch = scratch;
            TaskCollector.Snapshot s = completed.apply(confirmed(collected, plan, frozenSmaps));
            ctx.getLog().debug("pid {}: after the copy, {} ms waiting for the frozen smaps (read in {} ms, cpu {} ms), "
                    + "VmFlags confirmed in {} ms", pid, (u0 - w0) / 1_000_000,
                    smapsNanos[0] / 1_000_000, smapsNanos[1] / 1_000_000, (System.nanoTime() - u0) / 1_000_000);
            return s;
        }

        void abandon() {
            awaitQuietly(frozenSmaps);
            closeQuietly(scratch);
        }
    }

    /**
     * cryo's scratch area, still mapped in the frozen task after its collect: unmapping it (two
     * ptrace round trips, and the mm lock behind any walk of the task's page tables) took 1-20 ms of
     * a migration's frozen window (11-20 ms for the busy GiB at load 13-28), for nothing when the
     * task is killed once the tree runs elsewhere. So it is unmapped at the release, only if the
     * task runs on (resumed, left running). A cryo killed while it holds the tree frozen now leaves
     * the area (20 KiB, never used by the task) in it, as one killed during the collect always did.
     * A dump that keeps the tree (--leave-running, --leave-stopped) unmaps it at the end of the
     * state read instead, beside the final pre-copy scan: not after the supervisor's round trip.
     */
    private TaskCollector.Scratch mappedScratch;

    private void unmapScratch() {
        TaskCollector.Scratch s = mappedScratch;
        mappedScratch = null;
        if (s != null) {
            s.close();
        }
    }

    /** A failed or released collect: the frozen smaps walk is let finish, then the scratch area goes. */
    private void abandonUnconfirmed() {
        if (unconfirmed != null) {
            Unconfirmed u = unconfirmed;
            unconfirmed = null;
            u.abandon();
        }
    }

    /**
     * The snapshot with the VmFlags of smaps read while frozen (a provisional plan's were read
     * before the freeze). Read once more if that read saw cryo's scratch area merged with an area
     * of the task (it is unmapped now); the areas must then be the plan's.
     */
    private TaskCollector.Snapshot confirmed(TaskCollector.Snapshot snap, MemoryPlan plan,
                                             java.util.concurrent.Future<List<dev.cryo.kernel.proc.SmapsEntry>> frozenSmaps) {
        List<dev.cryo.kernel.proc.SmapsEntry> frozen;
        try {
            frozen = frozenSmaps.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading smaps", e);
        }
        List<VmaImage> vmas = plan.confirm(pid, frozen);
        if (vmas == null) {
            unmapScratch(); // it may have merged with a neighbour: gone, the areas are the task's own again
            vmas = plan.confirm(pid, ProcFs.smaps(pid));
        }
        if (vmas == null) {
            throw new dev.cryo.engine.DumpException("pid " + pid + ": its mappings changed while it was frozen");
        }
        return new TaskCollector.Snapshot(snap.task().withVmas(vmas), snap.memory());
    }

    /** Waiting for the region dumpers of this task to read every page; merges their per-VMA page counts. */
    private final class Copying {
        private TaskCollector.Snapshot snap;
        private final long[] written;
        private final long[] zero;
        private RegionDumper.Fills fills = RegionDumper.Fills.NONE;
        private final Collect request;
        private int pending;
        private long nanos;

        Copying(TaskCollector.Snapshot snap, int vmaCount, int workers, Collect request) {
            this.snap = snap;
            this.written = new long[vmaCount];
            this.zero = new long[vmaCount];
            this.pending = workers;
            this.request = request;
        }

        Behavior<Command> check() {
            if (pending > 0) {
                return Behaviors.receive(Command.class)
                        .onMessage(RegionReply.class, this::onRegion)
                        .onMessage(Release.class, TaskDumper.this::onRelease)
                        .onMessage(AwaitWrites.class, m -> {
                            m.replyTo().tell(new WriteFailed(pid, "pages awaited before they were read")); // a bug
                            return Behaviors.same();
                        })
                        .onSignal(PostStop.class, s -> releaseOnStop())
                        .build();
            }
            if (unconfirmed != null) {
                Unconfirmed u = unconfirmed;
                unconfirmed = null;
                try {
                    snap = u.confirm();
                } catch (RuntimeException e) {
                    request.replyTo().tell(new Failed(pid, failure(logged(e))));
                    return idle();
                }
                dumped = snap.task();
            }
            TaskImage t = snap.task();
            List<VmaImage> vmas = new ArrayList<>();
            for (int i = 0; i < t.vmas().size(); i++) {
                vmas.add(t.vmas().get(i).withPages(written[i], zero[i]));
            }
            TaskImage done = t.withVmas(vmas);
            for (dev.cryo.engine.model.GhostFile g : done.ghostFiles()) { // a big deleted file's contents, a chunk each
                if (g.apart()) {
                    request.job().files().ghostFiles().takePieces(g)
                            .forEach(d -> request.job().writer().tell(new ImageWriterActor.WriteRecord(d)));
                }
            }
            request.job().writer().tell(new ImageWriterActor.WriteRecord(done));
            long w = 0, z = 0, tracked = 0;
            for (int i = 0; i < written.length; i++) {
                w += written[i];
                z += zero[i];
                if (preCopy != null && PreCopyTracker.preCopied(t.vmas().get(i).kind(), snap.memory().maps().get(i))) {
                    tracked += written[i] + zero[i];
                }
            }
            request.replyTo().tell(new Collected(pid, t.threads().size(), snap.memory().scannedPages(), w, z, tracked,
                    nanos, fills));
            return idle();
        }

        private Behavior<Command> onRegion(RegionReply m) {
            if (m.reply() instanceof RegionDumper.Failed f) {
                writesPending--;
                writeFailure = f.message();
                abandonUnconfirmed();
                request.replyTo().tell(new Failed(pid, failure(f.message())));
                return idle(); // the dump is aborted; later region replies only settle the count
            }
            if (m.reply() instanceof RegionDumper.Done) {
                writesPending--;
                return Behaviors.same();
            }
            RegionDumper.Read d = (RegionDumper.Read) m.reply();
            for (int i = 0; i < written.length; i++) {
                written[i] += d.written()[i];
                zero[i] += d.zero()[i];
            }
            fills = fills.plus(d.fills());
            nanos = Math.max(nanos, d.nanos());
            pending--;
            return check();
        }
    }

    private void stopTracking() {
        dropEarly();
        dropLayoutAhead();
        if (aheadChanges != null) {
            aheadChanges.close(); // this dumper's hold; the reads close theirs
            aheadChanges = null;
        }
        dev.cryo.engine.cgroups.CgroupsAhead cgroups = takeCgroupsAhead();
        if (cgroups != null) {
            cgroups.close();
        }
        if (flagsWatch != null) {
            ctx.getLog().debug("pid {}: its syscall counters closed", pid);
        }
        closeFlagsWatch();
        if (preCopy != null) {
            preCopy.close();
            preCopy = null;
        }
    }

    /** How long a resumed task waits for its file locks, held by the copy its migration is killing. */
    private static final java.time.Duration LOCKS_BACK_WITHIN = java.time.Duration.ofSeconds(10);

    private Behavior<Command> onRelease(Release m) {
        endThrottle();
        abandonUnconfirmed(); // never left mapped in a task that runs on
        boolean killed = false;
        String undead = null;
        long at;
        try {
            if (m.kill() && !zombie) { // a zombie goes with its parent; its pid may be reused after that
                mappedScratch = null; // goes with the task
                premapped = null;
                at = kill();
                undead = waitGone(m.dieWithin());
                killed = true;
                if (undead == null && m.awaitReap()) {
                    awaitPidFree();
                }
            } else {
                dropPremapped(); // a tree let go before its freeze, or frozen and failed before the collect
                unmapScratch(); // before anything is pending that the injection would meet
                if (locksLetGo) { // before it runs: the copy, killed meanwhile, may still hold them a moment
                    List<String> lost = dev.cryo.engine.dump.HeldLocks.retake(tracer, pid, dumped, LOCKS_BACK_WITHIN);
                    undead = lost.isEmpty() ? null : "it runs on without some of its file locks, taken by another"
                            + " process while it was held: " + String.join("; ", lost);
                }
                if (m.stop() && !zombie) {
                    // pending before the detach: the threads stop before running a single instruction
                    Sys.kill(pid, Signals.SIGSTOP);
                }
                TaskSeizer.release(tracer, pid, tids);
                at = System.nanoTime();
            }
        } catch (RuntimeException e) {
            m.replyTo().tell(new Failed(pid, "releasing pid " + pid + ": " + logged(e)));
            released = true;
            return writesPending > 0 && writeFailure == null ? idle() : Behaviors.stopped();
        }
        tids = List.of();
        released = true;
        ctx.getLog().debug("pid {}: {} after {} ptrace round trips", pid, killed ? "killed" : "let go", tracer.roundTrips());
        // closing the uffd write-unprotects every tracked page (a page-table walk: 0.2 s for 1 GiB),
        // so the task is let go (or killed) first; its writes never wait on the uffd (async mode)
        stopTracking();
        m.replyTo().tell(undead != null ? new Failed(pid, undead) : new Released(pid, killed, at));
        // a tree left running runs again while its last pages are written: this dumper answers for them
        return writesPending > 0 && writeFailure == null ? idle() : Behaviors.stopped();
    }

    /**
     * SIGKILL, then reap the non-leader threads before the leader, or the wait for the leader hangs.
     * Returns when the signal went: the task never runs again after it (the reaping that follows
     * waits for the kernel to free its memory, which is not frozen time).
     */
    private long kill() {
        // found here rather than in the collect: robust lists are walked in the task's memory, and only a kill needs it
        List<ExitWrites.Disarm> exitWrites = dumped == null ? List.of()
                : ExitWrites.intoSharedFiles(dumped, RobustList.memoryOf(pid));
        if (!exitWrites.isEmpty()) {
            ExitWrites.disarm(tracer, pid, exitWrites).forEach(p -> ctx.getLog().warn(
                    "{}: what its exit writes (clear-child-tid word, robust mutexes) could not be cleared; the kill writes "
                    + "it into its file", p));
        }
        Sys.kill(pid, Signals.SIGKILL);
        return System.nanoTime();
    }

    private void awaitPidFree() {
        long until = System.nanoTime() + 2_000_000_000L;
        while (Sys.exists(pid) && System.nanoTime() < until) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Waits for the killed task's threads to be gone, the leader last, polling each with WNOHANG in turn: one
     * in uninterruptible sleep dies only when the sleep ends, and a blocking wait4 would hold this thread for as
     * long. Not one thread after the other: the last thread of a pid namespace's init to exit waits in the kernel
     * (zap_pid_ns_processes) until every other thread's pid is freed, and a traced thread's zombie is freed only
     * when this tracer reaps it (a multi-threaded container init such as Redis held the kill 30 s that way, and
     * the migration reported its source's kill failed). Past {@code within} the rest is left to the
     * kernel, and the returned clause says which thread has not died and why (null when all have).
     */
    private String waitGone(java.time.Duration within) {
        List<Integer> left = new ArrayList<>();
        tids.stream().filter(t -> t != pid.value()).forEach(left::add);
        left.add(pid.value()); // the leader can be reaped only once its threads are
        long until = System.nanoTime() + within.toNanos();
        long pause = 20_000;
        while (!left.isEmpty()) {
            for (java.util.Iterator<Integer> i = left.iterator(); i.hasNext(); ) {
                int tid = i.next();
                if (tid == pid.value() && left.size() > 1) {
                    break;
                }
                if (reaped(tid)) {
                    i.remove();
                    tracer.forget(tid);
                }
            }
            if (left.isEmpty()) {
                return null;
            }
            if (System.nanoTime() > until) {
                left.forEach(tracer::forget);
                Pid tid = Pid.of(left.get(0)); // a thread the leader waits for, else the leader
                return "pid " + pid + " was sent SIGKILL and has not died within " + within.toSeconds() + " s ("
                        + (tid.equals(pid) ? "" : "its thread " + tid + " ")
                        + dev.cryo.engine.dump.SeizeDelay.stateOf(pid, tid) + ")";
            }
            java.util.concurrent.locks.LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, 5_000_000);
        }
        return null;
    }

    /** Reaps thread {@code tid} if it is dead (true), or learns it was reaped already (ECHILD: true). */
    private static boolean reaped(int tid) {
        try {
            var st = Sys.wait4(tid, Sys.WNOHANG);
            return st != null && st.gone();
        } catch (KernelException e) {
            return true; // ECHILD: already reaped
        }
    }

    private Behavior<Command> releaseOnStop() {
        endThrottle();
        abandonUnconfirmed();
        dropPremapped();
        if (mappedScratch != null) {
            closeQuietly(mappedScratch);
            mappedScratch = null;
        }
        stopTracking();
        if (!tids.isEmpty()) {
            TaskSeizer.release(tracer, pid, tids);
            tids = List.of();
        }
        dev.cryo.kernel.ExitedLeaders.forget(pid); // read through its stand-in thread while this dumper lived
        return Behaviors.same();
    }

    /** Names the task in every failure, and says so plainly when the cause is that it died. */
    private String failure(String message) {
        if (exiting() || (message.contains("ESRCH") && exitsWithin(java.time.Duration.ofSeconds(2)))) {
            return "pid " + pid + " exited while being dumped (" + message + ")";
        }
        return message.startsWith("pid " + pid) ? message : "pid " + pid + ": " + message;
    }

    /**
     * Dead, or on its way: a task whose memory is already gone (vsize 0) is exiting, and so is one with SIGKILL
     * pending: killed while stopped under ptrace, it leaves the stop (a ptrace request then fails with ESRCH) and
     * still shows R or D with its memory until its exit gets that far.
     */
    private boolean exiting() {
        try {
            ProcStat st = ProcFs.stat(pid);
            return st.state() == 'Z' || st.state() == 'X' || st.vsize() == 0 || ProcFs.status(pid).pending(Signals.SIGKILL);
        } catch (KernelException e) {
            return true;
        }
    }

    /** A ptrace request's ESRCH on a task this dumper holds stopped: only its death takes it out of the stop. */
    private boolean exitsWithin(java.time.Duration d) {
        long until = System.nanoTime() + d.toNanos();
        while (System.nanoTime() < until) {
            java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
            if (exiting()) {
                return true;
            }
        }
        return false;
    }

    /** The failure's text for the reply; its stack trace goes to the log at debug (the reply carries only text). */
    private String logged(Throwable e) {
        ctx.getLog().debug("pid {}: {}", pid, dev.cryo.actors.Failures.describe(e), e);
        return dev.cryo.actors.Failures.describe(e);
    }

}
