package dev.cryo.actors.dump;

import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.config.CryoSettings;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.SocketDumpState;
import dev.cryo.engine.dump.SemaphoresAtKill;
import dev.cryo.engine.dump.BufferPool;
import dev.cryo.engine.dump.DumpStats;
import dev.cryo.engine.dump.FreezePriority;
import dev.cryo.engine.dump.TreeWalker;
import dev.cryo.engine.image.ImageSink;
import dev.cryo.engine.model.DumpInfo;
import dev.cryo.kernel.Pid;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One dump request, in barrier stages: SEIZE every task of the tree (re-scanning until no new
 * child appears) → COLLECT them, at most {@code parallelism.tasks} at a time, each fanning its
 * page copying out → COMMIT the image → FINISH: kill the tree, or release it with leave-running.
 * Any failure before the commit releases every task (they run on as before), aborts the image so
 * nothing that looks complete is left, and reports the cause.
 */
public final class DumpSupervisor {
    public sealed interface Command {}

    private record TaskReply(TaskDumper.Reply reply) implements Command {}

    private record TaskStopped(Pid pid) implements Command {}

    private record WriterReply(ImageWriterActor.Reply reply) implements Command {}

    private record Timeout(String stage) implements Command {}

    private record NetAheadRead() implements Command {}

    public sealed interface Outcome {}

    public record Succeeded(DumpReport report) implements Outcome {}

    public record Failed(String message) implements Outcome {}

    /**
     * The image is committed and the tree is held frozen (two-phase handover): nothing runs until
     * {@link Finish} says whether to kill it (the copy runs elsewhere now) or resume it.
     */
    public record Held(DumpReport report, ActorRef<Command> supervisor) implements Outcome {}

    /**
     * Gives the dump up (cryo was told to stop: SIGINT, SIGTERM, a library caller): before the
     * commit the tree is released and the image aborted, as on any failure, with {@code why} as
     * the reason; once the commit has begun the dump completes as it would have.
     */
    public record Cancel(String why) implements Command {}

    /** Ends a held dump: kill the tree, or resume it exactly as it was. Replies with the outcome. */
    public record Finish(boolean kill, ActorRef<Outcome> replyTo) implements Command {}

    private static final Duration RELEASE_TIMEOUT = Duration.ofSeconds(30);

    /** Polls the held listeners' accept queues before the freeze ({@link #drainAcceptQueues}). */
    private record AcceptCheck() implements Command {}

    private static final Duration ACCEPT_POLL = Duration.ofMillis(2);

    public static Behavior<Command> create(DumpRequest request, CryoSettings settings, ImageWriterFactory images,
                                           ActorRef<Outcome> replyTo) {
        return create(request, settings, images, false, replyTo);
    }

    /** {@code hold}: after the commit, keep the tree frozen and reply {@link Held} instead of finishing. */
    public static Behavior<Command> create(DumpRequest request, CryoSettings settings, ImageWriterFactory images,
                                           boolean hold, ActorRef<Outcome> replyTo) {
        // the supervisor's lines are about the whole tree: they carry its root's pid
        return dev.cryo.actors.PidMdc.of(Command.class, request.pid().value(), Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            dev.cryo.engine.dump.TracerWatch watch = null;
            try {
                TreeWalker.checkRoot(request.pid());
                List<Pid> tree = TreeWalker.walk(request.pid());
                TreeWalker.checkTree(request.pid(), tree);
                TreeWalker.checkNotFrozen(tree);
                // started before the first look: a tree that calls no ptrace after it needs no second look frozen
                watch = dev.cryo.engine.dump.TracerWatch.start(tree);
                dev.cryo.engine.dump.OutsideTracees.check(tree);
                if (!request.keepsTree() && !hold) { // a migration restores elsewhere: its pids are free there
                    TreeWalker.checkOutsiders(tree);
                }
                ImageSink writer = images.create(request.imageDir());
                DumpSupervisor s = new DumpSupervisor(ctx, timers, request, settings, writer, hold, replyTo);
                s.tracerWatch = watch;
                Behavior<Command> started = s.start();
                watch = null; // the supervisor's now
                return Behavior.isAlive(started) ? Behaviors.intercept(() -> new SocketsOnStop(s), started) : started;
            } catch (DumpException | java.io.IOException e) {
                replyTo.tell(new Failed(dev.cryo.actors.Failures.describe(e)));
                return Behaviors.stopped();
            } catch (RuntimeException e) { // a bug, not bad input: the caller hears it now, not at its ask's timeout
                ctx.getLog().debug("dump of pid {} failed before the seize", request.pid(), e);
                replyTo.tell(new Failed("pid " + request.pid() + ": the dump failed before the seize, nothing was frozen: "
                        + dev.cryo.actors.Failures.describe(e)));
                return Behaviors.stopped();
            } finally {
                if (watch != null) {
                    watch.close();
                }
            }
        })));
    }

    /**
     * Every way a dump ends lets its sockets go (connections out of repair mode or closed in it, the network lock
     * lifted or kept for the restore); a supervisor stopped another way — a bug thrown out of a handler — let the
     * lock stay for good, holding the tree's listeners and connections while the tree ran on. Now its stop does.
     */
    private static final class SocketsOnStop extends org.apache.pekko.actor.typed.BehaviorInterceptor<Command, Command> {
        private final DumpSupervisor s;

        SocketsOnStop(DumpSupervisor s) {
            super(Command.class);
            this.s = s;
        }

        @Override
        public Behavior<Command> aroundReceive(org.apache.pekko.actor.typed.TypedActorContext<Command> ctx, Command msg,
                                               ReceiveTarget<Command> target) {
            try {
                return target.apply(ctx, msg);
            } catch (RuntimeException | Error bug) { // the stop's answer names it
                s.crash = bug;
                throw bug;
            }
        }

        @Override
        public Behavior<Command> aroundSignal(org.apache.pekko.actor.typed.TypedActorContext<Command> ctx,
                                              org.apache.pekko.actor.typed.Signal signal, SignalTarget<Command> target) {
            if (signal instanceof org.apache.pekko.actor.typed.PostStop && s.sockets != null && !s.sockets.ended()) {
                List<String> problems = new ArrayList<>();
                s.releaseSockets(false, problems);
                s.ctx.getLog().warn("dump of pid {} stopped before its end: its sockets were let go as after a failure{}",
                        s.request.pid(), problems.isEmpty() ? "" : " (" + String.join("; ", problems) + ")");
            }
            if (signal instanceof org.apache.pekko.actor.typed.PostStop && s.ghostPieces != null) {
                s.ghostPieces.cancel("the dump stopped before its end"); // its writer, a child, stops too
            }
            if (signal instanceof org.apache.pekko.actor.typed.PostStop) {
                // a caller still waiting heard nothing until its ask's timeout (the dump's timeout + the seize's + 60 s)
                s.reply(new Failed("pid " + s.request.pid() + ": the dump stopped before its end"
                        + (s.crash == null ? "" : " on a bug (" + dev.cryo.actors.Failures.describe(s.crash) + ")")
                        + "; its tasks were let go as after any failure"));
            }
            return target.apply(ctx, signal);
        }
    }

    /** Creates the image sink (a file, or a stream to another host); the facade maps settings to image options. */
    public interface ImageWriterFactory {
        ImageSink create(java.nio.file.Path dir) throws java.io.IOException;
    }

    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    private final DumpRequest request;
    private final CryoSettings settings;
    /** When the pre-copy freezes, and the throttle of the rounds that do not shrink (auto-converge). */
    private final dev.cryo.engine.dump.PreCopyConvergence convergence;
    private final ActorRef<Outcome> replyTo;
    /** Who waits for this dump's answer, null once answered: every answer goes through {@link #reply}. */
    private ActorRef<Outcome> awaiting;
    /** What a handler threw, stopping the supervisor (a bug): the stop's answer names it. */
    private Throwable crash;
    private final ActorRef<ImageWriterActor.Command> writer;
    private final ActorRef<TaskDumper.Reply> taskAdapter;
    private final Map<Pid, ActorRef<TaskDumper.Command>> tasks = new LinkedHashMap<>();
    private final Set<Pid> pending = new LinkedHashSet<>();
    private final Set<Pid> released = new LinkedHashSet<>();
    private final Set<Pid> zombies = new LinkedHashSet<>();
    private final long started = System.nanoTime();
    private final boolean hold;
    private final BufferPool pool;
    private final ImageSink.ConcurrentPages direct; // region dumpers write pages into the file themselves
    /**
     * Each running round: pages sent (not the zero ones), what the convergence weighs and the report says, and zero
     * pages (left out or recorded as zero: a record each, no bytes; weighed, a tree zeroing its buffers was throttled
     * for a frozen round of almost nothing).
     */
    private final List<Long> roundSent = new ArrayList<>();
    private final List<Long> roundZero = new ArrayList<>();
    private long frozenAt;
    private long thawedAt; // the last task released (resumed, or sent SIGKILL)
    private long cpuAtFreeze = -1; // this JVM's CPU time when the freeze began, at -vv only
    private SocketDumpState sockets;
    /** The tables the tree's processes share, read once the whole tree is stopped. */
    private dev.cryo.engine.dump.SharedTables tables = dev.cryo.engine.dump.SharedTables.NONE;
    private final dev.cryo.engine.files.TakenTtyBytes ttyBytes = new dev.cryo.engine.files.TakenTtyBytes();
    private int threads;
    private int spawned; // dumper names stay unique when a dropped pid is reused during the seize
    private int xstateSize;
    private long scanned, written, zero, tracked, copyNanos;
    /** Of the frozen round's written pages, those recorded as a byte repeated. */
    private RegionDumper.Fills fills = RegionDumper.Fills.NONE;
    private boolean raised; // cryo's threads run at cryo.dump.freeze-nice (FreezePriority)

    /**
     * A freeze is short work that must not wait for a CPU: cryo's threads go first while it lasts,
     * a plain dump's as a pre-copy's (a cold command's frozen window at load 11-16 was mostly
     * waiting: a sleep frozen 1.2-3 s).
     */
    private void raisePriority() {
        if (!raised) {
            raised = true;
            FreezePriority.raise(settings.dump().freezeNice());
        }
    }

    /** The processes the tasks' Landlock probes compare them with, where cryo cannot be that process. */
    private final dev.cryo.engine.dump.LandlockWitnesses landlock = new dev.cryo.engine.dump.LandlockWitnesses();

    /** Called wherever the frozen window ends (beside lowerPriority): every collect is over. */
    private void lowerPriority() {
        landlock.close();
        if (raised) {
            raised = false;
            FreezePriority.lower();
        }
    }

    private DumpSupervisor(ActorContext<Command> ctx, TimerScheduler<Command> timers, DumpRequest request,
                           CryoSettings settings, ImageSink imageWriter, boolean hold, ActorRef<Outcome> replyTo) {
        this.ctx = ctx;
        this.hold = hold;
        this.pool = new BufferPool(settings.buffers().inFlight(),
                (int) Math.min(settings.buffers().size(), settings.image().chunkSize()));
        this.direct = imageWriter.concurrentPages();
        this.timers = timers;
        this.request = request;
        this.settings = settings;
        this.convergence = new dev.cryo.engine.dump.PreCopyConvergence(settings.preCopy());
        this.replyTo = replyTo;
        this.awaiting = replyTo;
        this.taskAdapter = ctx.messageAdapter(TaskDumper.Reply.class, TaskReply::new);
        this.writer = ctx.spawn(ImageWriterActor.create(imageWriter,
                        ctx.messageAdapter(ImageWriterActor.Reply.class, WriterReply::new)),
                "writer", WRITER_DISPATCHER);
    }

    private static final DispatcherSelector WRITER_DISPATCHER = DispatcherSelector.fromConfig("cryo-dispatchers.writer");

    // ---- SEIZE ---------------------------------------------------------------------------------

    private Behavior<Command> start() {
        frozenAt = Long.MAX_VALUE; // the first task's seize sets it
        List<Pid> tree = TreeWalker.walk(request.pid());
        pool.preallocate(buffersFor(tree));
        tree.forEach(dev.cryo.kernel.ptrace.SigreturnRoute::learn); // a scan of their code, not in the frozen window
        landlock.prepare(tree); // started now, ready by the frozen collect
        dev.cryo.kernel.DirNotifications.warmUp(); // loaded in the background for the frozen collect
        dev.cryo.kernel.SemUndoList.warmUp();
        dev.cryo.kernel.net.ReuseportGroups.warmUp(); // every TCP or UDP socket's first read, frozen
        dev.cryo.kernel.net.UnreadableSockState.warmUp(); // every IPv4 or IPv6 socket's, likewise
        dev.cryo.kernel.EventFdWaiters.warmUp(); // every eventfd's, likewise
        if (request.preCopy() || request.sockets() != null && request.sockets().tcpEstablished()) {
            socketState().armAhead(tree); // a lock's watchdog spawned now, not in the freeze
        }
        if (request.preCopy()) {
            netAhead = dev.cryo.engine.namespaces.NetNamespaceAhead.start(tree); // the rounds run meanwhile
            return startTracking();
        }
        readCgroupsAhead(tree);
        return freeze();
    }

    /**
     * A plain dump: each task's cgroups read before the freeze (TaskDumper.readCgroupsAhead, in
     * parallel), each handed to its dumper with its Seize and only confirmed frozen. Those not handed
     * out (a task gone before its seize) are closed.
     */
    private final java.util.Map<Pid, java.util.concurrent.Future<dev.cryo.engine.cgroups.CgroupsAhead>> cgroupsAhead =
            new java.util.HashMap<>();

    private void readCgroupsAhead(List<Pid> tree) {
        List<Integer> pids = tree.stream().map(Pid::value).toList();
        tree.forEach(p -> cgroupsAhead.put(p, TaskDumper.readCgroupsAhead(p, pids)));
    }

    /** A pre-copy's net namespaces, read while the tree runs (null: a plain dump reads them frozen). */
    private dev.cryo.engine.namespaces.NetNamespaceAhead netAhead;

    private void closeNetAhead() {
        if (netAhead != null) {
            netAhead.close();
            netAhead = null;
        }
    }

    private void closeCgroupsAhead() {
        cgroupsAhead.values().forEach(TaskDumper::closeCgroupsAhead);
        cgroupsAhead.clear();
    }

    /** As many buffers as the tree's resident memory fills (bounded by the pool): allocated before the freeze. */
    private int buffersFor(List<Pid> pids) {
        long rss = 0;
        for (Pid p : pids) {
            try {
                String[] statm = dev.cryo.kernel.proc.ProcFs.text("/proc/" + p + "/statm").trim().split("\\s+");
                rss += Long.parseLong(statm[1]) * 4096;
            } catch (RuntimeException gone) {
                // exited meanwhile: the seize will say
            }
        }
        return (int) Math.min(pool.count(), (rss + pool.bufferSize() - 1) / pool.bufferSize());
    }

    /** The failure when the tree's root is gone (it exited while the tree ran: pre-copy rounds, the accept wait). */
    private String rootGone(RuntimeException e) {
        return "pid " + request.pid() + ", the root of the tree, exited before the freeze: nothing to dump ("
                + dev.cryo.actors.Failures.describe(e) + ")";
    }

    private boolean drained;

    private Behavior<Command> freeze() {
        if (!drained) {
            drained = true;
            return drainAcceptQueues();
        }
        try {
            request.hooks().beforeFreeze(request.pid().value());
        } catch (RuntimeException e) {
            return abort(dev.cryo.actors.Failures.describe(e));
        }
        raisePriority();
        if (ctx.getLog().isDebugEnabled()) {
            cpuAtFreeze = processCpuNanos();
        }
        if (shared != null) {
            try { // the host's process events since the last round, read while the tree still runs
                shared.catchUp();
            } catch (RuntimeException e) {
                return abort("pre-copy of shared memory: " + dev.cryo.actors.Failures.describe(e));
            }
        }
        cgroupsAhead.values().forEach(TaskDumper::awaitQuietly); // read before the freeze, not in it
        List<Pid> tree;
        try {
            tree = TreeWalker.walk(request.pid());
        } catch (RuntimeException e) {
            return abort(rootGone(e));
        }
        if (raised) { // the seize and every injected syscall wait for the tree's own threads to be scheduled
            FreezePriority.raiseGroupsOf(tree.stream().map(Pid::value).toList());
        }
        timers.startSingleTimer(new Timeout("seizing the tree"), settings.dump().seizeTimeout());
        for (Pid p : tasks.keySet()) { // tracked by pre-copy: their dumpers exist already
            pending.add(p);
            tasks.get(p).tell(new TaskDumper.Seize(settings.dump().seizeTimeout(), taskAdapter));
        }
        seizeNew(tree);
        closeCgroupsAhead(); // of tasks gone since: the others' dumpers have theirs
        return seizing();
    }

    /**
     * Right before the freeze, new connections to the tree's TCP listeners are held back (see
     * SocketDumpState.holdPorts) while the running program accepts those already queued, for up
     * to cryo.dump.accept-wait: under load a dump would otherwise find connections queued during the
     * freeze and be refused. One still queued after the wait is refused at collection, as before.
     */
    private Behavior<Command> drainAcceptQueues() {
        Duration wait = settings.dump().acceptWait();
        if (wait.isZero()) {
            return freeze();
        }
        long t0 = System.nanoTime();
        try {
            if (socketState().holdPorts(TreeWalker.walk(request.pid())).isEmpty()) {
                return freeze();
            }
        } catch (RuntimeException e) { // no hold: the dump goes on as it would have without it
            ctx.getLog().warn("new connections to the tree's listeners are not held back during the dump: {}",
                    dev.cryo.actors.Failures.describe(e));
            return freeze();
        }
        long deadline = t0 + wait.toNanos();
        if (notAccepted() == 0) { // most often: no timer's first tick to wait for (a cold JVM's took 0.2 s)
            ctx.getLog().debug("listeners held; accept queues empty after {} ms", (System.nanoTime() - t0) / 1_000_000);
            return freeze();
        }
        timers.startTimerWithFixedDelay("accept", new AcceptCheck(), ACCEPT_POLL);
        return Behaviors.receive(Command.class)
                .onMessage(AcceptCheck.class, m -> {
                    int waiting = notAccepted();
                    if (waiting > 0 && System.nanoTime() < deadline) {
                        return Behaviors.same();
                    }
                    timers.cancel("accept");
                    ctx.getLog().debug("listeners held; accept queues {} after {} ms", waiting == 0 ? "empty" : waiting + " still queued",
                            (System.nanoTime() - t0) / 1_000_000);
                    return freeze();
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> abort("timed out " + m.stage()))
                .build();
    }

    /** Connections still queued at the held listeners; 0 when they cannot be read (the collection reads them again and says). */
    private int notAccepted() {
        try {
            return sockets.notAccepted();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    // ---- PRE-COPY (the tree runs) -----------------------------------------------------------------

    /** What the tree's inotify and fanotify groups held at the freeze (NotificationQueues). */
    private java.util.Map<dev.cryo.engine.files.FdProbe.Ref, Integer> queuedAtFreeze = java.util.Map.of();

    /** The pages tasks share with their parents, found once the tree is frozen (none before). */
    private dev.cryo.engine.memory.ParentSharing.Found parentSharing = dev.cryo.engine.memory.ParentSharing.Found.NONE;

    /** Where the task dumpers' reads of big deleted files go; cancelled when the writer takes no more. */
    private GhostPieceSink ghostPieces;

    /** One for the whole dump: the hold of the listeners, pre-copy rounds and the final collect share it. */
    private SocketDumpState socketState() {
        if (sockets == null) {
            sockets = new SocketDumpState(request.sockets(), request.pid(), tasks.keySet(), hold);
        }
        return sockets;
    }

    private TaskDumper.CollectJob collectJob() {
        SharedFdContext files = new SharedFdContext(request.shellJob(),
                tasks.keySet().stream().map(Pid::value).collect(java.util.stream.Collectors.toSet()), socketState(),
                ttyBytes, settings.dump().ghostLimit(), tables, queuedAtFreeze, landlock);
        if (ghostPieces == null) { // one for the dump, as the writer
            ghostPieces = new GhostPieceSink(writer);
        }
        files.ghostFiles().streamTo(ghostPieces);
        return new TaskDumper.CollectJob(writer, direct, pool, files,
                settings.parallelism().regions(), request.progress(), settings.dump().timeout().toMillis(), parentSharing,
                !hold && request.keepsTree(), // a migration's source is killed once its tree runs elsewhere
                settings.dump().freezeRtPriority());
    }

    /** Pre-copy of the tree's shared memory (one coordinator for all tasks), and each tracked task's tracker. */
    private dev.cryo.engine.dump.SharedPreCopy shared;
    private final java.util.Map<Pid, dev.cryo.engine.dump.PreCopyTracker> trackers = new java.util.concurrent.ConcurrentHashMap<>();

    private void closeShared() {
        if (shared != null) {
            shared.close();
        }
        if (previous != null) { // its pages were carried before the first round
            previous.close();
        }
    }

    private Behavior<Command> startTracking() {
        timers.startSingleTimer(new Timeout("starting pre-copy"), settings.dump().timeout());
        // before the walk: a fork after it is heard (its child's mappings are not tracked)
        shared = dev.cryo.engine.dump.SharedPreCopy.start(n -> ctx.getLog().debug(n));
        List<Pid> tree;
        try {
            tree = TreeWalker.walk(request.pid());
        } catch (RuntimeException e) {
            return abort(rootGone(e));
        }
        java.util.Map<Pid, dev.cryo.kernel.Fd> adopted = takeTracking(tree);
        try { // before any task is registered: a kept tracking's bits are not this dump's
            for (int h : dev.cryo.engine.dump.TrackingHolder.endFor(tree)) {
                notes.add("the tracking a pre-dump kept of this tree (by pid " + h + ") is ended: this dump tracks it afresh");
            }
        } catch (RuntimeException e) {
            adopted.values().forEach(dev.cryo.kernel.Fd::close);
            return abort(dev.cryo.actors.Failures.describe(e));
        }
        for (Pid p : tree) {
            dev.cryo.kernel.Fd uffd = adopted.remove(p);
            if (uffd != null) {
                adoptTrackingOne(p, uffd);
            } else {
                startTrackingOne(p, "task-" + p);
            }
        }
        adopted.values().forEach(dev.cryo.kernel.Fd::close);
        List<TaskDumper.Tracking> carrying = new ArrayList<>();
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (m.reply() instanceof TaskDumper.Gone g) {
                        leaveToFreeze(g.pid()); // exited before its tracking started
                    } else if (m.reply() instanceof TaskDumper.Tracking t) {
                        trackers.put(t.pid(), t.tracker());
                        if (!t.carried().isEmpty()) {
                            carrying.add(t);
                        }
                    } else {
                        return abort(failureOf(m.reply()));
                    }
                    pending.remove(m.reply().pid());
                    if (pending.isEmpty()) { // the rounds read shared pages unpinned; the frozen collect looks again
                        parentSharing = dev.cryo.engine.memory.ParentSharing.scan(liveTasks(), n -> ctx.getLog().debug(n))
                                .unpinnedOnly();
                        return carrying.isEmpty() ? round(collectJob()) : carryPrevious(carrying);
                    }
                    return Behaviors.same();
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> abort("timed out " + m.stage()))
                .build();
    }

    /** The pre-dump's image whose tracking this dump took over (dump --prev-images-dir), or null. */
    private dev.cryo.engine.dump.PreviousImage previous;
    /** What the user is told beside the figures: the tracking kept, taken over or lost (DumpReport#notes). */
    private final List<String> notes = new ArrayList<>();
    /** Pages copied from the previous image while the tree ran. */
    private long carriedPages;

    /**
     * The uffds a pre-dump's holder kept for the tree's tasks (none without --prev-images-dir); the
     * holder is ended either way. Without the previous image, they are of no use: the tasks are tracked afresh.
     */
    private java.util.Map<Pid, dev.cryo.kernel.Fd> takeTracking(List<Pid> tree) {
        java.nio.file.Path dir = request.iteration().previous();
        if (dir == null) {
            return new java.util.HashMap<>();
        }
        try {
            previous = dev.cryo.engine.dump.PreviousImage.open(dir, settings.image().maxChunk());
        } catch (RuntimeException e) {
            notes.add(dev.cryo.actors.Failures.describe(e) + ": every page is copied again");
        }
        dev.cryo.engine.dump.TrackingHolder.Taken taken = dev.cryo.engine.dump.TrackingHolder.take(dir, tree);
        notes.addAll(taken.notes());
        java.util.Map<Pid, dev.cryo.kernel.Fd> out = new java.util.HashMap<>(taken.uffds());
        if (previous == null) {
            out.values().forEach(dev.cryo.kernel.Fd::close);
            out.clear();
        } else {
            for (Pid p : List.copyOf(out.keySet())) {
                if (!previous.holds(p.value())) { // a task the pre-dump tracked is no task of its image
                    out.remove(p).close();
                }
            }
        }
        return out;
    }

    private void adoptTrackingOne(Pid p, dev.cryo.kernel.Fd uffd) {
        ActorRef<TaskDumper.Command> t = ctx.spawn(TaskDumper.create(p), "task-" + p, TaskDumper.DISPATCHER);
        ctx.watchWith(t, new TaskStopped(p));
        tasks.put(p, t);
        pending.add(p);
        t.tell(new TaskDumper.AdoptTracking(settings.dump().seizeTimeout(), uffd, previous, taskAdapter));
    }

    /**
     * The previous image's pages of the adopted tasks go into this image first, while the tree runs: the
     * rounds' copies of pages written since come after them, and win at restore.
     */
    private Behavior<Command> carryPrevious(List<TaskDumper.Tracking> carrying) {
        ActorRef<ImageWriterActor.Reply> replies = ctx.messageAdapter(ImageWriterActor.Reply.class, WriterReply::new);
        for (TaskDumper.Tracking t : carrying) {
            writer.tell(new ImageWriterActor.CarryPages(previous, t.pid().value(), t.carried(), replies));
        }
        int[] left = {carrying.size()};
        stage("copying " + carrying.size() + " tasks' pages from " + previous.dir());
        return Behaviors.receive(Command.class)
                .onMessage(WriterReply.class, m -> {
                    if (!(m.reply() instanceof ImageWriterActor.Carried c)) {
                        return abort(failureOf(m.reply()));
                    }
                    carriedPages += c.pages();
                    if (--left[0] > 0) {
                        return Behaviors.same();
                    }
                    notes.add(String.format(java.util.Locale.ROOT, "%d pages of %d task%s carried from the pre-dump in %s "
                            + "(not written since; copied while the tree ran)", carriedPages, carrying.size(),
                            carrying.size() == 1 ? "" : "s", previous.dir()));
                    return round(collectJob());
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(Timeout.class, m -> abort("timed out " + m.stage()))
                .build();
    }

    /** Processes forked during the rounds that could not be tracked: the freeze takes them whole. */
    private final Set<Pid> untrackable = new java.util.HashSet<>();

    /**
     * A process that could not be tracked, or answered gone: a zombie (a child that exited, not reaped
     * yet) stays in the tree's walk, and tracking it again after each round never got to the next one
     * (a dump of a process with a zombie child hung until it was killed). The freeze's seize finds
     * what is still there.
     */
    private void leaveToFreeze(Pid p) {
        untrackable.add(p);
        drop(p);
    }

    /**
     * The tree's processes forked since the last round (PostgreSQL's autovacuum workers, a backend per
     * connection), found by walking the tree (no process events needed: they serve root in the host's
     * namespaces only): tracked from now on, so that their memory is copied running too, and the freeze
     * sends only what they wrote since, instead of all of it.
     */
    private List<Pid> forkedSinceLastRound() {
        try {
            return TreeWalker.walk(request.pid()).stream()
                    .filter(p -> !tasks.containsKey(p) && !untrackable.contains(p)).toList();
        } catch (RuntimeException rootGone) {
            return List.of(); // the freeze says
        }
    }

    private void startTrackingOne(Pid p, String name) {
        ActorRef<TaskDumper.Command> t = ctx.spawn(TaskDumper.create(p), name, TaskDumper.DISPATCHER);
        ctx.watchWith(t, new TaskStopped(p));
        tasks.put(p, t);
        pending.add(p);
        t.tell(new TaskDumper.StartTracking(settings.dump().seizeTimeout(), taskAdapter));
    }

    private Behavior<Command> trackForked(List<Pid> forked) {
        for (Pid p : forked) {
            startTrackingOne(p, "task-" + p + "-" + (++spawned));
        }
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    Pid p = m.reply().pid();
                    if (m.reply() instanceof TaskDumper.Tracking t) {
                        trackers.put(t.pid(), t.tracker());
                        ctx.getLog().debug("pid {} forked during the rounds: tracked from round {}", p,
                                roundSent.size() + 1);
                    } else {
                        if (m.reply() instanceof TaskDumper.Failed f) {
                            ctx.getLog().debug("pid {} forked during the rounds and is not tracked ({}): the freeze"
                                    + " takes it whole", p, f.message());
                        }
                        leaveToFreeze(p); // gone, or left to the freeze's seize
                    }
                    pending.remove(p);
                    if (!pending.isEmpty()) {
                        return Behaviors.same();
                    }
                    parentSharing = dev.cryo.engine.memory.ParentSharing.scan(liveTasks(), n -> ctx.getLog().debug(n))
                            .unpinnedOnly();
                    return round(collectJob());
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> abort("timed out " + m.stage()))
                .build();
    }

    /**
     * Looks for forks before one round's copies, at most this many: tracking the children a look found
     * takes a while, and a tree that forks nonstop (zdtm's transition/fork2, children living 10 ms) had
     * new ones at every look, so the round never came (the dump hung until its timeout). A child forked
     * after the last look is tracked by the next round, or taken whole by the freeze, as a plain dump
     * takes it: pre-copy only makes the freeze shorter, the freeze is what must be right.
     */
    static final int FORK_LOOKS_PER_ROUND = 2;
    private int forkLooks;
    /** The last round's every look found new children: the tree forks nonstop, no round is added for its forks. */
    private boolean forkingNonstop;

    /** One round over every tracked task; then another, or the freeze when pre-copy stops paying. */
    private Behavior<Command> round(TaskDumper.CollectJob job) {
        List<Pid> forked = forkLooks < FORK_LOOKS_PER_ROUND ? forkedSinceLastRound() : List.of();
        if (!forked.isEmpty()) {
            forkLooks++;
            return trackForked(forked);
        }
        forkingNonstop = forkLooks == FORK_LOOKS_PER_ROUND;
        forkLooks = 0;
        if (!raised && !roundSent.isEmpty() && settings.preCopy().endgame(roundSent.get(roundSent.size() - 1))) {
            raisePriority(); // the tree's own groups stay as they are: it runs and writes meanwhile
            stage("pre-copy round " + (roundSent.size() + 1) + " on: cryo's threads raised");
        }
        pending.addAll(tasks.keySet());
        convergence.started(System.nanoTime());
        int duty = convergence.dutyPercent();
        if (duty > 0) {
            stage("pre-copy round " + (roundSent.size() + 1) + " throttled: the tree stopped " + duty + "% of the time");
        }
        java.util.Map<Integer, List<dev.cryo.engine.dump.PageRun>> sharedRuns;
        try { // every task's mappings of the shared objects scanned before any task copies this round
            sharedRuns = shared.round(trackers);
        } catch (RuntimeException e) {
            return abort("pre-copy of shared memory: " + dev.cryo.actors.Failures.describe(e));
        }
        // a migration (held dump) tells the destination where the root's pages go (PreCopyLayout)
        tasks.forEach((p, t) -> t.tell(new TaskDumper.CopyRound(job, taskAdapter, hold && p.equals(request.pid()),
                settings.preCopy(), sharedRuns.getOrDefault(p.value(), List.of()), duty)));
        long[] pages = {0, 0}; // sent with their bytes; zero or one byte repeated (recorded without them)
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (m.reply() instanceof TaskDumper.Gone g) {
                        leaveToFreeze(g.pid()); // exited while the tree ran (a zombie stays in the walk)
                    } else if (m.reply() instanceof TaskDumper.RoundCopied r) {
                        pages[0] += r.sent();
                        pages[1] += r.zero() + r.fills().pages();
                    } else {
                        return abort(failureOf(m.reply()));
                    }
                    pending.remove(m.reply().pid());
                    if (!pending.isEmpty()) {
                        return Behaviors.same();
                    }
                    roundSent.add(pages[0]);
                    roundZero.add(pages[1]);
                    stage("pre-copy round " + roundSent.size() + ": " + pages[0] + " pages sent, " + pages[1] + " zero or one-byte");
                    // the round after the wait for the read ahead freezes: the rounds had converged before it
                    boolean enough = netAheadAwaited || enough();
                    if (enough && netAhead != null && !netAhead.isRead()) {
                        return awaitNetAheadThenRound(job);
                    }
                    if (hold) {
                        // a stream: the round ends when its pages are on the wire, not when they are
                        // queued for it, so the next round's scan (and the freeze) sees what was
                        // written meanwhile, and the frozen round is not a slow channel's backlog
                        return enough ? syncAndReadLayoutThenFreeze(job) : syncThen(() -> round(job));
                    }
                    return enough ? syncAndReadLayoutThenFreeze(job) : round(job);
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> abort("timed out in pre-copy round " + (roundSent.size() + 1)))
                .build();
    }

    /**
     * The last running round's pages reach the disk (or the destination) while each task's smaps is
     * read (TaskDumper.ReadLayout, a walk of all its page tables), at the same time: every
     * millisecond between the last round's scan and the freeze is a millisecond of writes that
     * the frozen round sends (a migration under load spent hundreds of them on the two in turn).
     */
    private Behavior<Command> syncAndReadLayoutThenFreeze(TaskDumper.CollectJob job) {
        writer.tell(new ImageWriterActor.Sync(ctx.messageAdapter(ImageWriterActor.Reply.class, WriterReply::new)));
        pending.addAll(tasks.keySet());
        tasks.values().forEach(t -> t.tell(new TaskDumper.ReadLayout(taskAdapter, job.files())));
        boolean[] synced = {false};
        int[] ahead = {0};
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (!(m.reply() instanceof TaskDumper.LayoutRead l)) {
                        return abort(failureOf(m.reply()));
                    }
                    ahead[0] += l.ahead() ? 1 : 0;
                    pending.remove(m.reply().pid());
                    if (pending.isEmpty()) {
                        stage("mappings read before the freeze (" + ahead[0] + " of " + tasks.size()
                                + " tasks' beside the last round's copy)");
                    }
                    return pending.isEmpty() && synced[0] ? freezeOrRoundAgain(job) : Behaviors.same();
                })
                .onMessage(WriterReply.class, m -> {
                    if (!(m.reply() instanceof ImageWriterActor.Synced)) {
                        return abort(failureOf(m.reply()));
                    }
                    synced[0] = true;
                    stage("last running round received");
                    return pending.isEmpty() ? freezeOrRoundAgain(job) : Behaviors.same();
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(Timeout.class, m -> abort("timed out writing the pre-copied pages or reading the mappings before the freeze"))
                .build();
    }

    /**
     * A process forked after the last round's walk (a backend for a new connection) would go whole
     * into the frozen round: while rounds are left, one more tracks it and copies it running. Asked
     * right before the freeze, so only a fork in the moment before the seize goes whole.
     */
    private Behavior<Command> freezeOrRoundAgain(TaskDumper.CollectJob job) {
        if (roundSent.size() < settings.preCopy().maxRounds() && !forkingNonstop && !forkedSinceLastRound().isEmpty()) {
            stage("forked since the last round: pre-copy round " + (roundSent.size() + 1));
            return round(job);
        }
        return freeze();
    }

    /** Pre-copied pages reach the disk (or the wire) while the tree still runs, not in the frozen window. */
    private Behavior<Command> syncThen(java.util.function.Supplier<Behavior<Command>> next) {
        writer.tell(new ImageWriterActor.Sync(ctx.messageAdapter(ImageWriterActor.Reply.class, WriterReply::new)));
        return Behaviors.receive(Command.class)
                .onMessage(WriterReply.class, m -> {
                    if (!(m.reply() instanceof ImageWriterActor.Synced)) {
                        return abort(failureOf(m.reply()));
                    }
                    stage("round received");
                    return next.get();
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(Timeout.class, m -> abort("timed out writing the pre-copied pages"))
                .build();
    }

    /**
     * The rounds would freeze now but the net namespaces' read ahead has not ended (ip and nft processes, 1.6-3.8 s
     * at load 19-33): the freeze would wait for it with the tree stopped, so the tree runs on until it ends, then one
     * more round copies what it wrote meanwhile. Downtime traded for total time: a migration of a container whose
     * rounds ended 0.8 s in waited up to 265 ms frozen.
     */
    private Behavior<Command> awaitNetAheadThenRound(TaskDumper.CollectJob job) {
        netAheadAwaited = true;
        stage("pre-copy waits for the net namespaces' read ahead, the tree running");
        ctx.pipeToSelf(netAhead.read(), (v, e) -> new NetAheadRead());
        return Behaviors.receive(Command.class)
                .onMessage(NetAheadRead.class, m -> {
                    stage("net namespaces read ahead: pre-copy round " + (roundSent.size() + 1));
                    return hold ? syncThen(() -> round(job)) : round(job);
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> abort("timed out waiting for the net namespaces' read ahead"))
                .build();
    }

    private boolean netAheadAwaited;

    /** Small enough to send frozen, no longer shrinking (and not throttled further), or out of rounds. */
    private boolean enough() {
        boolean freeze = convergence.freezeAfter(roundSent.get(roundSent.size() - 1));
        if (convergence.estimate() != null) {
            stage("pre-copy round " + roundSent.size() + ": frozen round estimated " + convergence.estimate()
                    + (freeze ? "; freezing" : convergence.dutyPercent() > 0 ? "; next round throttled "
                    + convergence.dutyPercent() + "%" : ""));
        }
        if (freeze) {
            notes.addAll(convergence.notes());
        }
        return freeze;
    }

    /**
     * Tasks holding an inotify or fanotify group, seized once the rest of the tree is stopped: their
     * queues are measured when the last of them stops (NotificationQueues), and no task of the tree
     * can queue events for them in between. Not in a pre-copy, whose dumpers exist already.
     */
    private final List<Pid> watchersLast = new ArrayList<>();

    private void seizeNew(List<Pid> pids) {
        for (Pid p : pids) {
            if (!tasks.containsKey(p) && !watchersLast.contains(p)) {
                if (!request.preCopy() && dev.cryo.engine.files.UnreadQueues.holdsNotificationGroup(p)) {
                    watchersLast.add(p);
                } else {
                    seizeOne(p);
                }
            }
        }
        if (pending.isEmpty()) {
            List.copyOf(watchersLast).forEach(this::seizeOne);
            watchersLast.clear();
        }
    }

    private void seizeOne(Pid p) {
        ActorRef<TaskDumper.Command> t = ctx.spawn(TaskDumper.create(p), "task-" + p + "-" + (++spawned),
                TaskDumper.DISPATCHER);
        ctx.watchWith(t, new TaskStopped(p));
        tasks.put(p, t);
        pending.add(p);
        t.tell(new TaskDumper.Seize(settings.dump().seizeTimeout(), taskAdapter, cgroupsAhead.remove(p)));
    }

    /** cryo's areas mapped before the freeze, by pid (TaskDumper.Seized): the tree observers are told. */
    private final java.util.Map<Integer, long[]> cryoAreas = new java.util.HashMap<>();

    private Behavior<Command> seizing() {
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (m.reply() instanceof TaskDumper.Seized s) {
                        threads += s.threads();
                        xstateSize = Math.max(xstateSize, s.xstateSize());
                        frozenAt = Math.min(frozenAt, s.frozenAtNanos());
                        if (s.cryoArea() != null) {
                            cryoAreas.put(s.pid().value(), s.cryoArea());
                        }
                    } else if (m.reply() instanceof TaskDumper.SeizedZombie z) {
                        zombies.add(z.pid());
                    } else if (m.reply() instanceof TaskDumper.Gone g) {
                        drop(g.pid());
                    } else {
                        return abort(failureOf(m.reply()));
                    }
                    pending.remove(m.reply().pid());
                    if (!pending.isEmpty()) {
                        return Behaviors.same();
                    }
                    if (!watchersLast.isEmpty()) {
                        seizeNew(List.of());
                        return Behaviors.same();
                    }
                    if (!tasks.containsKey(request.pid()) || zombies.contains(request.pid())) {
                        return abort("pid " + request.pid() + " exited while being seized");
                    }
                    // stopped tasks cannot fork, exit or reap any more: a rescan that finds no one new
                    // is final; whoever it no longer finds was a zombie its parent reaped meanwhile
                    List<Pid> now = TreeWalker.walk(request.pid());
                    try {
                        tables = TreeWalker.checkTree(request.pid(), now); // again: children forked meanwhile
                    } catch (DumpException e) {
                        return abort(dev.cryo.actors.Failures.describe(e));
                    }
                    for (Pid p : List.copyOf(tasks.keySet())) {
                        if (!now.contains(p)) {
                            drop(p);
                        }
                    }
                    seizeNew(now);
                    return pending.isEmpty() ? seized() : Behaviors.same();
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> abort("timed out " + m.stage() + " after "
                        + settings.dump().seizeTimeout().toSeconds() + " s (still waiting for pids " + pending + ": "
                        + dev.cryo.engine.dump.SeizeDelay.explain(pending) + ")"))
                .build();
    }

    /** Times the tree was let run again to read its queues (UnreadQueues). */
    private int thaws;

    private record SeizeAgain() implements Command {}

    /**
     * The whole tree is stopped: collect it, or first let it run a moment if it holds netlink
     * messages or inotify/fanotify events it was about to read (UnreadQueues: they cannot be
     * queued again). Not in a pre-copy, whose dumpers track the running tree's writes, nor with a frozen
     * cgroup, which would not let the tree read.
     */
    private Behavior<Command> seized() {
        try { // before anything else is read: a look at a tmpfs of the tree's (the comparator's) queues events
            queuedAtFreeze = dev.cryo.engine.files.NotificationQueues.atFreeze(liveTasks());
        } catch (RuntimeException e) {
            return abort(dev.cryo.actors.Failures.describe(e));
        }
        if (!request.preCopy() && !request.hooks().holdsTree() && thaws < dev.cryo.engine.files.UnreadQueues.PAUSES.size()) {
            List<dev.cryo.engine.files.UnreadQueues.Queue> unread =
                    dev.cryo.engine.files.UnreadQueues.of(liveTasks(), queuedAtFreeze);
            if (!unread.isEmpty()) {
                return thawForUnread(unread);
            }
        }
        return startCollecting();
    }

    private record LookAtQueues() implements Command {}

    /**
     * Releases every task (as a failed dump would) and seizes the tree anew the moment the queues
     * found are read (a seize at a random moment found a busy log's newest event unread most of the
     * time under load), or after the next pause.
     */
    private Behavior<Command> thawForUnread(List<dev.cryo.engine.files.UnreadQueues.Queue> unread) {
        Duration pause = dev.cryo.engine.files.UnreadQueues.PAUSES.get(thaws++);
        ctx.getLog().info("{}: the tree runs again for {} ms at most to read it, then is seized anew (try {} of {})",
                String.join("; ", unread.stream().map(dev.cryo.engine.files.UnreadQueues.Queue::what).toList()),
                pause.toMillis(), thaws, dev.cryo.engine.files.UnreadQueues.PAUSES.size());
        timers.cancelAll();
        Set<Pid> waiting = new LinkedHashSet<>(tasks.keySet());
        List<String> problems = new ArrayList<>();
        String[] cancelled = {null};
        tasks.values().forEach(t -> {
            ctx.unwatch(t); // a released dumper stops: that is no failure here
            t.tell(new TaskDumper.Release(false, taskAdapter));
        });
        timers.startSingleTimer(new Timeout("letting the tree run again"), RELEASE_TIMEOUT);
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (m.reply() instanceof TaskDumper.Failed f) {
                        problems.add(f.message());
                    }
                    waiting.remove(m.reply().pid());
                    if (!waiting.isEmpty()) {
                        return Behaviors.same();
                    }
                    timers.cancelAll();
                    tasks.clear();
                    if (cancelled[0] != null || !problems.isEmpty()) {
                        return failRunning(cancelled[0] != null ? cancelled[0] : String.join("; ", problems));
                    }
                    timers.startSingleTimer(new SeizeAgain(), pause);
                    timers.startTimerWithFixedDelay(new LookAtQueues(), dev.cryo.engine.files.UnreadQueues.LOOK_EVERY);
                    return Behaviors.receive(Command.class)
                            .onMessage(SeizeAgain.class, a -> seizeAgain())
                            .onMessage(LookAtQueues.class, a -> dev.cryo.engine.files.UnreadQueues.anyUnread(unread)
                                    ? Behaviors.same() : seizeAgain())
                            .onMessage(Cancel.class, c -> failRunning(c.why()))
                            .onMessage(WriterReply.class, w -> failRunning(failureOf(w.reply())))
                            .build();
                })
                .onMessage(Cancel.class, m -> {
                    cancelled[0] = m.why();
                    return Behaviors.same();
                })
                .onMessage(WriterReply.class, m -> {
                    problems.add(failureOf(m.reply()));
                    return Behaviors.same();
                })
                .onMessage(Timeout.class, m -> failRunning("timed out letting the tree run again (still waiting for pids "
                        + waiting + ")"))
                .build();
    }

    /** A new seize of the whole tree, as the first one: whoever forked or exited meanwhile is found. */
    private Behavior<Command> seizeAgain() {
        timers.cancelAll();
        zombies.clear();
        pending.clear();
        threads = 0;
        xstateSize = 0;
        frozenAt = Long.MAX_VALUE;
        timers.startSingleTimer(new Timeout("seizing the tree"), settings.dump().seizeTimeout());
        try {
            seizeNew(TreeWalker.walk(request.pid()));
        } catch (RuntimeException e) {
            return failRunning(dev.cryo.actors.Failures.describe(e));
        }
        return seizing();
    }

    /** A failure while the tree runs between two seizes: nothing is held but the sockets' hold and the image. */
    private Behavior<Command> failRunning(String why) {
        List<String> socketProblems = new ArrayList<>();
        releaseSockets(false, socketProblems);
        return failAfterRelease(socketProblems.isEmpty() ? why : why + " (and " + String.join("; ", socketProblems) + ")");
    }

    /** A process that left the tree while it was being seized: its dumper holds nothing of it. */
    private void drop(Pid p) {
        trackers.remove(p);
        ActorRef<TaskDumper.Command> t = tasks.remove(p);
        zombies.remove(p);
        if (t != null) {
            ctx.unwatch(t);
            ctx.stop(t);
        }
        ctx.getLog().debug("pid {} exited (reaped, or a zombie the freeze finds again): not part of the dump", p);
    }

    /** The live tasks, parents before children: the zombies have records of their own. */
    private List<Pid> liveTasks() {
        return tasks.keySet().stream().filter(p -> !zombies.contains(p)).toList();
    }

    // ---- COLLECT -------------------------------------------------------------------------------

    private void stage(String what) {
        ctx.getLog().debug("{} at +{} ms", what, (System.nanoTime() - started) / 1_000_000);
    }

    private Behavior<Command> startCollecting() {
        stage("seized " + tasks.size() + " tasks");
        timers.cancelAll();
        dev.cryo.api.TreeObservers.frozen(request.pid().value(), tasks.keySet().stream().map(Pid::value).toList(),
                cryoAreas, ctx.getLog());
        try {
            request.hooks().frozen(request.pid().value(), treePids());
        } catch (RuntimeException e) {
            return abort(dev.cryo.actors.Failures.describe(e));
        }
        stage("frozen hooks run");
        timers.startSingleTimer(new Timeout("dumping"), settings.dump().timeout());
        String lookAgainWhy = tracerWatch == null ? "no watch" : tracerWatch.whyNotQuiet(tasks.keySet());
        if (lookAgainWhy == null) {
            ctx.getLog().debug("no task of the tree called ptrace since the first look for tracers of outside processes: not looked for again");
            tracersLook = java.util.concurrent.CompletableFuture.completedFuture(null);
        } else {
            ctx.getLog().debug("looking again for tracers of outside processes, frozen: {}", lookAgainWhy);
            tracersLook = dev.cryo.engine.dump.OutsideTracees.lookAgain(List.copyOf(tasks.keySet()));
        }
        tracersLook = tracersLook.whenComplete((r, e) -> lookedAt = System.nanoTime());
        closeTracerWatch();
        List<dev.cryo.engine.namespaces.NamespaceImage> namespaces;
        List<dev.cryo.engine.namespaces.NetNamespaceImage> nets;
        List<dev.cryo.engine.namespaces.UserNsImage> users;
        try { // read frozen, with the tree final: the pids inside its pid namespaces cannot change any more
            List<Pid> tree = TreeWalker.walk(request.pid());
            namespaces = dev.cryo.engine.namespaces.ExternalMounts.name(
                    dev.cryo.engine.namespaces.NamespaceScan.scan(tree), request.pid().value(), request.externalMounts());
            stage("namespaces other than net and user read");
            nets = dev.cryo.engine.namespaces.NetNamespaceScan.scan(namespaces, tree, netAhead, socketState()::unixIn);
            closeNetAhead();
            stage("net namespaces read");
            users = dev.cryo.engine.namespaces.UserNamespaceScan.scan(tree, namespaces);
        } catch (RuntimeException e) {
            return abort(dev.cryo.actors.Failures.describe(e));
        }
        stage("namespaces read");
        // before any page is read: reading a page shared copy-on-write gives the reader its own copy
        parentSharing = dev.cryo.engine.memory.ParentSharing.scan(liveTasks(), n -> ctx.getLog().debug(n));
        stage("pages shared with parents found");
        writer.tell(new ImageWriterActor.WriteRecord(dumpInfo()));
        namespaces.forEach(n -> writer.tell(new ImageWriterActor.WriteRecord(n)));
        this.nets = nets; // written once their conntrack tables are read, with the tree's connections held
        users.forEach(u -> writer.tell(new ImageWriterActor.WriteRecord(u)));
        if (request.preCopy()) { // a migration's destination learns of the freeze now (it raises its priority)
            writer.tell(new ImageWriterActor.Push());
        }
        TaskDumper.CollectJob job = collectJob();
        if (shared != null) { // the frozen round of the shared objects: their carriers send what changed
            try {
                shared.freeze(trackers, liveTasks(), job.files().sharedMemory());
            } catch (RuntimeException e) {
                return abort("pre-copy of shared memory: " + dev.cryo.actors.Failures.describe(e));
            } finally {
                closeShared();
            }
            stage("shared memory's last pages found");
        }
        sockets.boundNetNamespaces(namespaces);
        sockets.netNamespaces(nets); // their sockets are carried, rebuilt in the new namespaces (or those joined again)
        Deque<Pid> queue = new ArrayDeque<>(tasks.keySet());
        pending.addAll(tasks.keySet());
        for (int i = 0; i < settings.parallelism().tasks() && !queue.isEmpty(); i++) {
            tasks.get(queue.poll()).tell(new TaskDumper.Collect(job, taskAdapter));
        }
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (!(m.reply() instanceof TaskDumper.Collected c)) {
                        return abort(failureOf(m.reply()));
                    }
                    scanned += c.scannedPages();
                    written += c.writtenPages();
                    zero += c.zeroPages();
                    fills = fills.plus(c.fills());
                    tracked += c.trackedPages();
                    copyNanos = Math.max(copyNanos, c.copyNanos());
                    pending.remove(c.pid());
                    if (!queue.isEmpty()) {
                        tasks.get(queue.poll()).tell(new TaskDumper.Collect(job, taskAdapter));
                    }
                    if (pending.isEmpty()) {
                        stage("collected every task");
                        // every window of the shared objects is claimed now: what is left of them is no area's
                        ctx.pipeToSelf(java.util.concurrent.CompletableFuture.supplyAsync(() ->
                                        dev.cryo.engine.dump.SharedObjectRest.read(job.files().sharedMemory(), OUTSIDE_AREAS_LIMIT)),
                                (data, e) -> new OutsideAreasRead(data, e == null ? null
                                        : dev.cryo.actors.Failures.describe(e instanceof java.util.concurrent.CompletionException
                                        && e.getCause() != null ? e.getCause() : e)));
                        return Behaviors.same();
                    }
                    return Behaviors.same();
                })
                .onMessage(OutsideAreasRead.class, m -> {
                    if (m.failure() != null) {
                        return abort(m.failure());
                    }
                    m.data().forEach(d -> writer.tell(new ImageWriterActor.WriteRecord(d)));
                    stage("shared memory outside every area read (" + m.data().size() + " pieces)");
                    try { // the tree's connections held now (the network lock): nothing adds entries
                        this.nets = dev.cryo.engine.namespaces.NetConntrack.withTables(this.nets, namespaces);
                    } catch (RuntimeException e) {
                        return abort(dev.cryo.actors.Failures.describe(e));
                    }
                    stage("conntrack tables read");
                    this.nets.forEach(n -> writer.tell(new ImageWriterActor.WriteRecord(n)));
                    String incomplete = sockets.reuseportGroupsIncomplete(); // members in flight count: all dumped now
                    if (incomplete != null) {
                        return abort(incomplete);
                    }
                    return pagesRead();
                })
                .onMessage(Cancel.class, m -> abort(m.why()))
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> abort("timed out " + m.stage() + " after "
                        + settings.dump().timeout().toSeconds() + " s"))
                .build();
    }

    /** Bytes of shared memory objects outside every area of the tree a dump carries at most (SharedObjectData). */
    private static final long OUTSIDE_AREAS_LIMIT = 64L << 20;

    /** The pages of the shared objects outside every area, read once every task was collected (or why not). */
    private record OutsideAreasRead(List<dev.cryo.engine.memory.SharedObjectData> data, String failure)
            implements Command {}

    /** The tree's net namespaces, read frozen; in the image with their conntrack tables once every task is collected. */
    private List<dev.cryo.engine.namespaces.NetNamespaceImage> nets = List.of();

    /** The frozen tree's second look for tracers of outside processes (OutsideTracees): null when clear. */
    private java.util.concurrent.CompletableFuture<String> tracersLook;
    private volatile long lookedAt; // when the look ended (System.nanoTime), for the debug log
    /** Counts the tree's ptrace calls from before the first look to the seize (TracerWatch), or null. */
    private dev.cryo.engine.dump.TracerWatch tracerWatch;

    private void closeTracerWatch() {
        if (tracerWatch != null) {
            tracerWatch.close();
            tracerWatch = null;
        }
    }

    private record TracersLooked(String refusal) implements Command {}

    /**
     * Every task's state is collected and every page read. A tree left running runs again now:
     * the image's last pages, its index and its fsync need no stopped tree (a dump that kills
     * keeps the tree frozen until the image is committed: a failure must still resume it). The
     * image is committed once every page is written.
     */
    private Behavior<Command> pagesRead() {
        boolean early = thawsEarly();
        List<String> problems = new ArrayList<>();
        boolean[] tracersClear = {false}; // the image is committed only once the look is in
        ctx.pipeToSelf(tracersLook, (refusal, e) -> new TracersLooked(e != null ? "looking for tracers of outside processes: "
                + dev.cryo.actors.Failures.describe(e) : refusal));
        // asked first: a dumper with nothing left to write answers before it is let go (and stops)
        tasks.values().forEach(t -> t.tell(new TaskDumper.AwaitWrites(taskAdapter)));
        if (early) {
            releaseSockets(false, problems); // connections leave repair mode before the tree runs again
            if (!hold && request.iteration().keepTracking()) {
                keepTracking(); // before the release, which closes the trackers' uffds
            }
            tasks.forEach((p, t) -> t.tell(new TaskDumper.Release(false, taskAdapter)));
        }
        Set<Pid> written = new LinkedHashSet<>();
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    Pid p = m.reply().pid();
                    if (m.reply() instanceof TaskDumper.WriteFailed f) {
                        return early ? failAfterRelease(f.message()) : abort(f.message());
                    } else if (m.reply() instanceof TaskDumper.Written) {
                        stage("pid " + p + "'s pages written");
                        written.add(p);
                    } else if (early && m.reply() instanceof TaskDumper.Released r) {
                        released.add(p);
                        thawedAt = Math.max(thawedAt, r.atNanos());
                        if (released.size() == tasks.size()) {
                            lowerPriority(); // the tree runs: the image's last pages are not in a hurry
                            logThaw();
                        }
                    } else if (early && m.reply() instanceof TaskDumper.Failed f) {
                        released.add(p); // let go, or left to its dumper's PostStop
                        if (!dev.cryo.engine.dump.TreeDeaths.dead(p.value())) { // killed after its freeze: in the image as it was
                            problems.add(f.message());
                        }
                    } else {
                        return early ? failAfterRelease(failureOf(m.reply())) : abort(failureOf(m.reply()));
                    }
                    return commitWhenDone(written, early, tracersClear[0], problems);
                })
                .onMessage(TracersLooked.class, m -> {
                    if (m.refusal() != null) {
                        return early ? failAfterRelease(m.refusal()) : abort(m.refusal());
                    }
                    tracersClear[0] = true;
                    stage("no outside tracee found again (the look over at +" + (lookedAt - started) / 1_000_000 + " ms)");
                    return commitWhenDone(written, early, true, problems);
                })
                .onMessage(Cancel.class, m -> early ? Behaviors.same() : abort(m.why()))
                .onMessage(TaskStopped.class, m -> early && written.contains(m.pid()) && released.contains(m.pid())
                        ? Behaviors.same()
                        : early ? failAfterRelease("the dumper of pid " + m.pid() + " stopped unexpectedly")
                        : abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(WriterReply.class, m -> early ? failAfterRelease(failureOf(m.reply())) : abort(failureOf(m.reply())))
                .onMessage(Timeout.class, m -> {
                    String why = "timed out " + m.stage() + " after " + settings.dump().timeout().toSeconds() + " s";
                    return early ? failAfterRelease(why) : abort(why);
                })
                .build();
    }

    private Behavior<Command> commitWhenDone(Set<Pid> written, boolean early, boolean tracersClear, List<String> problems) {
        if (written.size() < tasks.size() || (early && released.size() < tasks.size()) || !tracersClear) {
            return Behaviors.same();
        }
        stage("wrote every page");
        writer.tell(new ImageWriterActor.Commit(ctx.messageAdapter(ImageWriterActor.Reply.class, WriterReply::new)));
        return early ? committingReleased(problems) : committing();
    }

    /** A dump that leaves the tree running and hands nothing over: the tree runs again once every page is read. */
    private boolean thawsEarly() {
        return request.leaveRunning() && !hold && !request.hooks().any(); // hooks see the image complete, frozen
    }

    /** The tree's pids, sorted, for hooks. */
    private List<Integer> treePids() {
        return tasks.keySet().stream().map(Pid::value).sorted().toList();
    }

    /** Committing the image of a tree already running again: the dump is over when the image is. */
    private Behavior<Command> committingReleased(List<String> problems) {
        return Behaviors.receive(Command.class)
                .onMessage(WriterReply.class, m -> {
                    if (!(m.reply() instanceof ImageWriterActor.Committed c)) {
                        return failAfterRelease(failureOf(m.reply()));
                    }
                    stage("committed the image");
                    timers.cancelAll();
                    reply(problems.isEmpty() ? new Succeeded(report(c.bytes()))
                            : new Failed("the image is complete, but " + String.join("; ", problems)));
                    return Behaviors.stopped();
                })
                .onMessage(TaskStopped.class, m -> Behaviors.same()) // done with their writes
                .onMessage(TaskReply.class, m -> Behaviors.same())
                .onMessage(Cancel.class, m -> Behaviors.same())
                .onMessage(Timeout.class, m -> failAfterRelease("timed out committing the image"))
                .build();
    }

    /** The tree runs again already (or is being let go); the image is given up. */
    private Behavior<Command> failAfterRelease(String why) {
        closeNetAhead();
        lowerPriority();
        timers.cancelAll();
        ctx.getLog().info("dump of pid {} failed after the tree was let go: {}", request.pid(), why);
        if (holder != null) { // no image to go with the tracking
            dev.cryo.engine.dump.TrackingHolder.kill(Pid.of(holder.holder()));
        }
        pool.cancel(why);
        writer.tell(new ImageWriterActor.Abort(ctx.messageAdapter(ImageWriterActor.Reply.class, WriterReply::new)));
        timers.startSingleTimer(new Timeout("aborting the image"), RELEASE_TIMEOUT);
        return Behaviors.receive(Command.class)
                .onMessage(WriterReply.class, m -> {
                    if (!(m.reply() instanceof ImageWriterActor.Aborted)) {
                        return Behaviors.same();
                    }
                    reply(new Failed(why));
                    return Behaviors.stopped();
                })
                .onMessage(Timeout.class, m -> {
                    reply(new Failed(why + " (and aborting the image timed out)"));
                    return Behaviors.stopped();
                })
                .onAnyMessage(m -> Behaviors.same())
                .build();
    }

    /** Looked up once, when the first dump is asked for: a name lookup may be slow and must not sit in a freeze. */
    private DumpInfo dumpInfo() {
        return new DumpInfo(dev.cryo.engine.CryoVersion.VERSION, System.currentTimeMillis(), dev.cryo.engine.HostName.get(), System.getProperty("os.version"),
                request.pid().value(), liveTasks().stream().map(Pid::value).toList(), xstateSize, request.keepsTree());
    }

    // ---- COMMIT and FINISH -----------------------------------------------------------------------

    private Behavior<Command> committing() {
        return Behaviors.receive(Command.class)
                .onMessage(WriterReply.class, m -> {
                    if (m.reply() instanceof ImageWriterActor.Committed c) {
                        return finish(c.bytes());
                    }
                    return abort(failureOf(m.reply()));
                })
                .onMessage(Cancel.class, m -> Behaviors.same()) // too late: the image is being committed
                .onMessage(TaskStopped.class, m -> abort("the dumper of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(Timeout.class, m -> abort("timed out committing the image"))
                .build();
    }

    /**
     * At -vv: the frozen window's wall time and this JVM's CPU time (all its threads) from the
     * freeze to the thaw, which tells work from waiting for a CPU (under load a cold command's
     * window was mostly waiting).
     */
    private void logThaw() {
        if (cpuAtFreeze >= 0 && thawedAt > 0 && frozenAt != Long.MAX_VALUE) {
            ctx.getLog().debug("the tree was frozen {} ms; cryo's CPU time from the freeze to the thaw {} ms",
                    (thawedAt - frozenAt) / 1_000_000, (processCpuNanos() - cpuAtFreeze) / 1_000_000);
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private DumpReport report(long imageBytes) {
        long now = System.nanoTime();
        long thawed = thawedAt > 0 ? thawedAt : now;
        DumpStats stats = new DumpStats(liveTasks().size(), threads, (thawed - frozenAt) / 1_000_000,
                (now - started) / 1_000_000, scanned, scanned - (written + zero - tracked), written - fills.pages(),
                zero + fills.zero(), fills.other(), imageBytes, copyNanos / 1_000_000);
        List<Long> rounds = new ArrayList<>(roundSent);
        List<Long> zeros = new ArrayList<>(roundZero);
        if (request.preCopy()) { // the frozen round
            rounds.add(stats.pagesWritten());
            zeros.add(stats.zeroPages() + stats.filledPages());
        }
        return new DumpReport(request.imageDir(), tasks.keySet().stream().map(Pid::value).toList(),
                request.keepsTree(), stats, rounds, zeros, notes, !request.iteration().any() ? null
                        : new DumpReport.Iterated(request.iteration().previous(), carriedPages,
                                holder == null ? 0 : holder.holder(), holder == null ? 0 : holder.lifetime().toSeconds()));
    }

    /** Two-phase handover: frozen until told; resumed if nobody says within the dump timeout. */
    private Behavior<Command> holding(long imageBytes) {
        // still raised: the destination's "running" ends the downtime as it is heard here (the receipt
        // thread, the migration's actor), and a woken thread at nice 0 waited tens of ms under load;
        // the threads wait idle meanwhile, so the raise takes no CPU from anyone. finish() lowers
        stage("committed the image; holding the tree frozen");
        timers.cancelAll();
        // the copy takes the tree's file locks again, which it may share with this frozen tree: let go, taken back on a resume
        tasks.values().forEach(t -> t.tell(new TaskDumper.LetGoOfLocks()));
        reply(new Held(report(imageBytes), ctx.getSelf()));
        timers.startSingleTimer(new Timeout("holding the frozen tree"), settings.dump().timeout());
        return Behaviors.receive(Command.class)
                .onMessage(Finish.class, m -> finish(imageBytes, m.kill(), m.replyTo()))
                .onMessage(TaskStopped.class, m -> Behaviors.same())
                .onMessage(TaskReply.class, m -> Behaviors.same())
                .onMessage(Timeout.class, m -> finish(imageBytes, false, replyTo))
                .build();
    }

    private Behavior<Command> finish(long imageBytes) {
        if (hold) {
            return holding(imageBytes);
        }
        return finish(imageBytes, !request.keepsTree(), replyTo);
    }

    private Behavior<Command> finish(long imageBytes, boolean killAsked, ActorRef<Outcome> replyTo) {
        awaiting = replyTo; // a held tree's Finish asks anew (or, at the hold's timeout, the first caller hears again)
        lowerPriority();
        stage("committed the image");
        timers.cancelAll();
        List<String> problems = new ArrayList<>();
        boolean hooked = true;
        if (!hold) {
            try {
                request.hooks().imageComplete(request.pid().value(), treePids());
            } catch (RuntimeException e) { // the tree runs on, as after any failure; the image stays
                problems.add(e.getMessage());
                hooked = false;
            }
        }
        boolean kill = killAsked && hooked;
        if (!kill) {
            // connections leave repair mode before the tree runs again
            releaseSockets(false, problems);
        }
        // tasks under the root are reaped by init once their parents die: the dump returns when their pids are free
        boolean stop = !kill && hooked && request.leaveStopped(); // a failed hook lets the tree run, as CRIU
        // the kill applies the tasks' SEM_UNDO adjustments to the host's semaphores: taken now, put back after
        SemaphoresAtKill semaphores = kill ? SemaphoresAtKill.snapshot(treePids()) : null;
        String unwatched = semaphores == null ? null : semaphores.armAgainstDeath(); // should cryo die before that
        if (unwatched != null) {
            ctx.getLog().warn(unwatched);
        }
        if (kill && sockets != null) {
            try { // connections back in repair mode; should cryo die now, the lock stays once the tree is gone
                sockets.killing();
            } catch (RuntimeException e) {
                problems.add(e.getMessage());
            }
        }
        if (!kill && !hold && request.iteration().keepTracking()) {
            keepTracking(); // before the release, which closes the trackers' uffds
        }
        Duration dieWithin = settings.dump().releaseTimeout(); // each dumper reports a task not dead by then
        tasks.forEach((p, t) -> t.tell(new TaskDumper.Release(kill, kill && !p.equals(request.pid()), stop, dieWithin,
                taskAdapter)));
        timers.startSingleTimer(new Timeout("releasing the tree"), dieWithin.plus(RELEASE_TIMEOUT));
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    released.add(m.reply().pid());
                    if (m.reply() instanceof TaskDumper.Failed f) {
                        problems.add(f.message());
                    } else if (m.reply() instanceof TaskDumper.Released r) {
                        thawedAt = Math.max(thawedAt, r.atNanos());
                    }
                    if (released.size() < tasks.size()) {
                        return Behaviors.same();
                    }
                    logThaw();
                    if (kill) {
                        releaseSockets(true, problems); // closed in repair mode: the peers notice nothing
                        problems.addAll(semaphores.putBackAfter(tasks.keySet())); // a task not dead yet: a watcher's
                    } else if (!hold) {
                        try {
                            request.hooks().resumedAfterDump(request.pid().value(), treePids());
                        } catch (RuntimeException e) {
                            problems.add(e.getMessage());
                        }
                    }
                    stage("released the tree");
                    reply(problems.isEmpty() ? new Succeeded(report(imageBytes))
                            : new Failed("the image is complete, but " + String.join("; ", problems)));
                    return Behaviors.stopped();
                })
                .onMessage(TaskStopped.class, m -> Behaviors.same())
                .onMessage(Timeout.class, m -> {
                    List<Pid> left = tasks.keySet().stream().filter(p -> !released.contains(p)).toList();
                    if (kill) { // meant to die: the sockets go as after any kill, whatever its dumper is stuck in
                        left.forEach(DumpSupervisor::killQuietly);
                        releaseSockets(true, problems);
                        problems.addAll(semaphores.putBackAfter(tasks.keySet())); // skipped before: kept the kill's undo
                    }
                    problems.add(0, "releasing the tree timed out (" + dev.cryo.engine.dump.SeizeDelay.explain(left) + ")");
                    reply(new Failed("the image is complete, but " + String.join("; ", problems)));
                    return Behaviors.stopped();
                })
                .build();
    }

    private static void killQuietly(Pid p) {
        try {
            dev.cryo.kernel.Sys.kill(p, dev.cryo.kernel.Signals.SIGKILL);
        } catch (dev.cryo.kernel.KernelException gone) {
            // died meanwhile
        }
    }

    /** The holder of this pre-dump's tracking, once started. */
    private dev.cryo.engine.dump.TrackingHolder.Handed holder;
    private boolean keepTried;

    /** A pre-dump: the tree's tracking goes to a holder the next dump takes it from (TrackingHolder). */
    private void keepTracking() {
        if (keepTried) {
            return; // tried before the early release
        }
        keepTried = true;
        try {
            dev.cryo.engine.dump.TrackingHolder.Handed h = dev.cryo.engine.dump.TrackingHolder.hand(request.imageDir(),
                    request.pid(), trackers, settings.preCopy().trackingKept());
            holder = h;
            notes.add("the writes of " + h.tasks() + " task" + (h.tasks() == 1 ? "" : "s") + " stay tracked for at most "
                    + h.lifetime().toSeconds() + " s (by pid " + h.holder() + "): `cryo dump --prev-images-dir "
                    + request.imageDir() + "` freezes the tree only for the pages written since");
        } catch (RuntimeException e) {
            notes.add(dev.cryo.actors.Failures.describe(e) + ": the next dump copies every page again");
        }
    }

    // ---- ABORT ---------------------------------------------------------------------------------

    /** Connections out of repair mode and bytes back into the ptys, unless the tree was killed. */
    private void releaseSockets(boolean killed, List<String> problems) {
        problems.addAll(ttyBytes.release(killed));
        if (sockets != null) {
            try {
                sockets.release(killed, !hold); // a held dump is a migration's: restored elsewhere
            } catch (RuntimeException e) {
                problems.add(e.getMessage());
            }
        }
    }

    private Behavior<Command> abort(String failure) {
        // the last seize found every queue read (else the tree would have run again): one full now filled meanwhile
        String why = !request.preCopy() && !request.hooks().holdsTree() && thaws < dev.cryo.engine.files.UnreadQueues.PAUSES.size()
                ? dev.cryo.engine.files.UnreadQueues.cameWhileFrozen(failure) : failure;
        closeShared();
        closeTracerWatch();
        closeCgroupsAhead();
        closeNetAhead();
        lowerPriority();
        timers.cancelAll();
        List<String> socketProblems = new ArrayList<>();
        releaseSockets(false, socketProblems); // connections out of repair mode before the tree runs again
        String reason = socketProblems.isEmpty() ? why : why + " (and " + String.join("; ", socketProblems) + ")";
        ctx.getLog().info("dump of pid {} failed: {}", request.pid(), reason);
        pool.cancel(reason); // copiers waiting for a buffer the aborted writer will not give back
        if (ghostPieces != null) {
            ghostPieces.cancel(reason); // as a deleted file's reader waiting for the writer to take a piece
        }
        tasks.values().forEach(t -> t.tell(new TaskDumper.Release(false, taskAdapter)));
        writer.tell(new ImageWriterActor.Abort(ctx.messageAdapter(ImageWriterActor.Reply.class, WriterReply::new)));
        timers.startSingleTimer(new Timeout("releasing"), RELEASE_TIMEOUT);
        Set<Pid> waiting = new LinkedHashSet<>(tasks.keySet());
        boolean[] writerDone = {false};
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (m.reply() instanceof TaskDumper.Released || m.reply() instanceof TaskDumper.Failed) {
                        waiting.remove(m.reply().pid());
                    }
                    return doneAborting(waiting, writerDone[0], reason);
                })
                .onMessage(TaskStopped.class, m -> {
                    waiting.remove(m.pid()); // a stopped dumper detached in PostStop
                    return doneAborting(waiting, writerDone[0], reason);
                })
                .onMessage(WriterReply.class, m -> {
                    if (m.reply() instanceof ImageWriterActor.Aborted) {
                        writerDone[0] = true;
                    }
                    return doneAborting(waiting, writerDone[0], reason);
                })
                .onMessage(Timeout.class, m -> {
                    reply(new Failed(reason + " (and releasing the tree timed out)"));
                    return Behaviors.stopped();
                })
                .build();
    }

    private Behavior<Command> doneAborting(Set<Pid> waiting, boolean writerDone, String reason) {
        if (!waiting.isEmpty() || !writerDone) {
            return Behaviors.same();
        }
        reply(new Failed(reason));
        return Behaviors.stopped();
    }

    /** Answers whoever waits for this dump, once: a stop without an answer sends one ({@link SocketsOnStop}). */
    private void reply(Outcome o) {
        if (awaiting != null) {
            awaiting.tell(o);
            awaiting = null;
        }
    }

    private static String failureOf(Object reply) {
        if (reply instanceof TaskDumper.Failed f) {
            return f.message();
        }
        if (reply instanceof ImageWriterActor.Failed f) {
            return f.message();
        }
        return "unexpected " + reply;
    }
}
