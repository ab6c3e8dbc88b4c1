package dev.cryo.actors.restore;

import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoSettings;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.ZombieImage;
import dev.cryo.engine.restore.StubParent;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.ImageContents;
import dev.cryo.engine.restore.PipeHub;
import dev.cryo.engine.restore.PtyHub;
import dev.cryo.engine.restore.stage.FileRestore;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.RestoreValidator;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * One restore request. VALIDATE the image before touching anything (checksums, files unchanged,
 * pids free), then barrier stages over one {@link TaskRestorerActor} per task: ADOPT/FORK (the
 * root stub is spawned with its exact pid, every child is forked by its parent with its own, zombies
 * too) → MEMORY → FILES → SESSIONS → GROUPS → ZOMBIES (they die with their status) → STATE →
 * RESUME, all tasks released at the same moment. Any failure kills
 * every task created so far and reports the cause; the image is only ever read.
 */
public final class RestoreSupervisor {
    public sealed interface Command {}

    private record TaskReply(TaskRestorerActor.Reply reply) implements Command {}

    private record TaskStopped(int pid) implements Command {}

    private record Timeout() implements Command {}

    /** Polls pids held by zombies: the wait is driven by a timer, never by a sleeping thread. */
    private record PidCheck() implements Command {}

    /** Looks again whether the root's session leader outside the tree, a zombie, was reaped. */
    private record LeaderCheck() implements Command {}

    /** Tries the root's spawn again: its pid was taken for a moment ({@link dev.cryo.engine.restore.RootPidRetry}). */
    private record RootRetry() implements Command {}

    /** Polls for the killed root to be reaped after an abort. */
    private record Reap() implements Command {}

    /** How long an abort waits for its killed root to die (one in uninterruptible sleep may not). */
    private static final Duration REAP_WAIT = Duration.ofSeconds(10);

    public sealed interface Outcome {}

    public record Succeeded(RestoreReport report) implements Outcome {}

    public record Failed(String message) implements Outcome {}

    public static Behavior<Command> create(RestoreRequest request, CryoSettings settings, ActorRef<Outcome> replyTo) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            ImageContents image;
            List<Integer> held;
            try {
                long t0 = System.nanoTime();
                image = request.contents() != null ? request.contents()
                        : ImageContents.read(request.imageDir(), settings.image().maxChunk(), request.verified());
                ctx.getLog().debug("image read in {} ms", (System.nanoTime() - t0) / 1_000_000);
                if (request.detached()) {
                    image = dev.cryo.engine.restore.DetachedRoot.withoutParentDeathSignal(image, n -> ctx.getLog().warn(n));
                }
                image = request.externals().apply(image, n -> ctx.getLog().warn(n));
                if (!request.joinNs().isEmpty()) {
                    image = dev.cryo.engine.restore.JoinedNamespaces.apply(image, request.joinNs());
                }
                held = RestoreValidator.pidsHeldByZombies(image, stubPid(request));
            } catch (Exception e) {
                killPrepared(request);
                ctx.getLog().debug("restore of {} refused", request.imageDir(), e);
                replyTo.tell(new Failed(dev.cryo.actors.Failures.describe(e)));
                return Behaviors.stopped();
            }
            RestoreSupervisor s = new RestoreSupervisor(ctx, timers, request, settings, image, replyTo,
                    dev.cryo.kernel.NsLastPid.hold());
            return Behaviors.intercept(() -> new LowerOnStop(s), held.isEmpty() ? s.validated() : s.awaitPids(held));
        }));
    }

    /** Whatever ends the supervisor (a reply, a bug) ends its raised priority and its hold on ns_last_pid too. */
    private static final class LowerOnStop extends org.apache.pekko.actor.typed.BehaviorSignalInterceptor<Command> {
        private final RestoreSupervisor s;

        LowerOnStop(RestoreSupervisor s) {
            this.s = s;
        }

        @Override
        public Behavior<Command> aroundSignal(org.apache.pekko.actor.typed.TypedActorContext<Command> ctx,
                                              org.apache.pekko.actor.typed.Signal signal, SignalTarget<Command> target) {
            if (signal instanceof org.apache.pekko.actor.typed.PostStop) {
                s.lowerPriority();
                s.pids.close(); // the tree runs or is gone: its pids need no reserving
            }
            return target.apply(ctx, signal);
        }
    }

    private boolean raised; // cryo's threads run at cryo.dump.freeze-nice (FreezePriority) while it makes the tree

    /**
     * The tree is down until it runs again, as a dump's is while frozen: cryo's threads go first
     * meanwhile (cryo.dump.freeze-nice), not only a migration's. On a busy host the memory stage's
     * writers waited for a CPU far longer than they ran: a JVM's 220 MiB took 10-13 s at load 16-22
     * for about 1 s of their CPU (0.7-0.9 s raised). Every task's nice is set from the image by its Scheduling stage (its stub was
     * spawned raised), and a zombie's by its own restore.
     */
    private void raisePriority() {
        if (!raised) {
            raised = true;
            dev.cryo.engine.dump.FreezePriority.raise(settings.dump().freezeNice());
        }
    }

    private void lowerPriority() {
        if (raised) {
            raised = false;
            dev.cryo.engine.dump.FreezePriority.lower();
        }
    }

    /**
     * Pids held by zombies are free once their reaper collects them: polled on a timer (the
     * supervisor's thread stays free for other restores and dumps), up to the configured wait.
     */
    private Behavior<Command> awaitPids(List<Integer> held) {
        Duration wait = settings.restore().pidWait();
        if (wait.isZero()) {
            return refused(RestoreValidator.stillHeld(held.get(0)));
        }
        ctx.getLog().warn(RestoreValidator.waitingNotice(held.get(0), wait));
        long deadline = System.nanoTime() + wait.toNanos();
        timers.startTimerWithFixedDelay("pids", new PidCheck(), Duration.ofMillis(20));
        return Behaviors.receive(Command.class)
                .onMessage(PidCheck.class, m -> {
                    List<Integer> still;
                    try {
                        still = RestoreValidator.pidsHeldByZombies(image, stubPid(request));
                    } catch (RuntimeException e) {
                        timers.cancel("pids");
                        return refused(e);
                    }
                    if (still.isEmpty()) {
                        timers.cancel("pids");
                        return validated();
                    }
                    if (System.nanoTime() > deadline) {
                        timers.cancel("pids");
                        return refused(RestoreValidator.stillHeld(still.get(0)));
                    }
                    return Behaviors.same();
                })
                .build();
    }

    /** Pids free: the files are checked, then the tree is made. */
    private Behavior<Command> validated() {
        try {
            long v0 = System.nanoTime();
            List<String> grown = RestoreValidator.validateFiles(image, request.inherited());
            request.inherited().unused(image.tasks()).forEach(n -> ctx.getLog().warn(
                    "--inherit-fd " + n + ": no fd of the image is that object; the fd is not used"));
            var earlier = dev.cryo.engine.restore.RestoredImages.earlier(image.info());
            long v1 = System.nanoTime();
            // the connections' lock, before anything of theirs is made: checked, or installed here for a moved tree
            locksMadeHere = dev.cryo.engine.restore.HeldConnections.take(image, request.tcpClose(),
                    request.tcpLockElsewhere(), earlier, n -> ctx.getLog().warn(n));
            ctx.getLog().debug("files checked in {} µs, the connections' lock taken in {} µs", (v1 - v0) / 1000,
                    (System.nanoTime() - v1) / 1000); // both before the root's stub is adopted
            earlier.ifPresent(e -> ctx.getLog().warn(e.warning()));
            String appended = dev.cryo.engine.restore.RestoredImages.grownWarning(grown, earlier.isPresent(), image.info());
            if (appended != null) {
                ctx.getLog().warn(appended);
            }
        } catch (RuntimeException e) {
            return refused(e);
        }
        return start();
    }

    private Behavior<Command> refused(RuntimeException e) {
        if (e == null) {
            return validated(); // freed in the meantime
        }
        killPrepared(request);
        ctx.getLog().debug("restore of {} refused", request.imageDir(), e);
        replyTo.tell(new Failed(withHeldLocks(dev.cryo.actors.Failures.describe(e))));
        return Behaviors.stopped();
    }

    /** A failure's reason with the image's network locks still held here (a user would not guess them). */
    private String withHeldLocks(String reason) {
        for (String held : dev.cryo.engine.restore.HeldConnections.stillHeld(image)) {
            reason = reason + "; " + held;
        }
        return reason;
    }

    /** The pid of the stub a migration prepared for the root (it holds the root's pid), or 0. */
    private static int stubPid(RestoreRequest request) {
        return request.prepared() == null ? 0 : request.prepared().pid();
    }

    /** Refused before anything was created: the prepared stub goes too. */
    private static void killPrepared(RestoreRequest request) {
        if (request.prepared() != null) {
            dev.cryo.engine.restore.ArrivingMemory.kill(request.prepared().pid());
        }
    }

    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    /** Keeps the moves of ns_last_pid past the tree's pids until this restore ends. */
    private final dev.cryo.kernel.NsLastPid.Hold pids;
    private final RestoreRequest request;
    private final CryoSettings settings;
    private final ImageContents image;
    /** The tree's namespaces, one for every task: mount namespaces made again record their peer groups there. */
    private dev.cryo.engine.namespaces.TreeNamespaces namespaces;
    private final ActorRef<Outcome> replyTo;
    /** The actor's logger, for the steps a lone task's thread runs for this supervisor (its context is this thread's only). */
    private final org.slf4j.Logger log;
    private final BootstrapArea boot;
    private final Set<Integer> treePids;
    private final ActorRef<TaskRestorerActor.Reply> adapter;
    private final Map<Integer, ActorRef<TaskRestorerActor.Command>> tasks = new LinkedHashMap<>();
    private final Set<Integer> created = new LinkedHashSet<>();
    private final long started = System.nanoTime();
    private PipeHub pipes;
    private SocketHub sockets;
    private SharedMemoryHub sharedMemory;
    private PtyHub ptys;
    private dev.cryo.engine.files.DeadTaskHub deadTasks;
    private long pages;
    private long memoryNanos;

    private RestoreSupervisor(ActorContext<Command> ctx, TimerScheduler<Command> timers, RestoreRequest request,
                              CryoSettings settings, ImageContents image, ActorRef<Outcome> replyTo,
                              dev.cryo.kernel.NsLastPid.Hold pids) {
        this.pids = pids;
        this.ctx = ctx;
        this.timers = timers;
        this.request = request;
        this.settings = settings;
        this.image = image;
        this.replyTo = replyTo;
        this.log = ctx.getLog();
        this.treePids = Set.copyOf(image.allPids());
        this.adapter = ctx.messageAdapter(TaskRestorerActor.Reply.class, TaskReply::new);
        TaskImage root = image.task(image.root());
        var p = request.prepared();
        if (p != null && (p.pid() != root.pid() || p.sessionLeader() != (root.ids().sid() == root.pid())
                || p.execed() != root.execed()
                // the stub was exec'd with randomization (the layout hint does not say): only a stub
                // exec'd under ADDR_NO_RANDOMIZE has no PF_RANDOMIZE and the mmap base the task had
                || (root.personality() & dev.cryo.kernel.Prctl.ADDR_NO_RANDOMIZE) != 0
                || image.namespaces().flagsOf(root.pid()) != 0 // it must be forked into its namespaces
                || dev.cryo.engine.restore.DeadSessionLeader.makesSessionOf(root, Set.copyOf(image.allPids())))) {
            dev.cryo.engine.restore.ArrivingMemory.kill(p.pid()); // not the stub this root needs: a plain restore
            p = null;
        }
        this.prepared = p;
        dev.cryo.engine.ipc.SemUndo.forget(image.allPids()); // what an earlier restore of these pids gave is not ours
        this.boot = BootstrapArea.choose(image.tasks(), p == null ? 0 : p.bootstrap());
        this.cgroups = new dev.cryo.engine.cgroups.CgroupPlacement(n -> ctx.getLog().warn(n),
                dev.cryo.engine.cgroups.CgroupPlacement.Mode.of(settings.restore().manageCgroups()));
        this.inherits = dev.cryo.engine.memory.ParentSharing.plan(image.tasks());
        // a task its parent does not fork gets the memory of the task that does: it keeps nothing of its parent's
        inherits.keySet().removeIf(c -> forkedBySibling(image.task(c)) || adoptedFromALiveSession(image.task(c)));
        this.forksAfterMemory = new java.util.HashSet<>();
        inherits.keySet().forEach(c -> forksAfterMemory.add(image.task(c).ids().ppid()));
    }

    private final dev.cryo.engine.restore.PreparedRoot prepared;
    /** Network locks this restore installed itself (a tree whose connections moved here): a failure removes them. */
    private List<String> locksMadeHere = List.of();
    private final dev.cryo.engine.cgroups.CgroupPlacement cgroups;
    /**
     * Children that keep areas as their parent's fork gives them (pages shared copy-on-write),
     * with those areas; their parents ({@link #forksAfterMemory}) restore their memory before they
     * fork, and are in {@link #memoryFirst} once they have. Every other task's memory is restored
     * in parallel, once the whole tree is forked.
     */
    private final Map<Integer, List<dev.cryo.engine.model.VmaImage>> inherits;
    private final Set<Integer> forksAfterMemory;
    private final Set<Integer> memoryFirst = new java.util.HashSet<>();

    // ---- ADOPT and FORK ------------------------------------------------------------------------

    private Behavior<Command> start() {
        timers.startSingleTimer(new Timeout(), settings.restore().timeout());
        raisePriority();
        try {
            pipes = PipeHub.of(image.tasks(), image.info(), request.inherited(), n -> ctx.getLog().warn(n));
            long s0 = System.nanoTime();
            long[] calls = dev.cryo.kernel.OwnSyscalls.now();
            sockets = SocketHub.of(image.tasks(), request.tcpClose(), image.netNamespaces());
            if (sockets.size() > 0) {
                ctx.getLog().debug("sockets rebuilt: {} in {} ms, cryo's syscalls meanwhile: {}", sockets.size(),
                        (System.nanoTime() - s0) / 1_000_000, dev.cryo.kernel.OwnSyscalls.since(calls));
            }
            sharedMemory = SharedMemoryHub.of(image.tasks(), image.sharedObjectData());
            ptys = PtyHub.of(image.tasks(), n -> ctx.getLog().warn(n));
            deadTasks = new dev.cryo.engine.files.DeadTaskHub(image.tasks());
        } catch (RuntimeException e) {
            return abort("cannot start the root task " + image.root() + ": " + dev.cryo.actors.Failures.describe(e));
        }
        return afterSessionLeader(image.task(image.root()), System.nanoTime() + settings.restore().pidWait().toNanos());
    }

    /**
     * A root whose session was led from outside the tree: a leader that ended with the tree (its parent
     * has not reaped it yet) is waited for on a timer, up to {@code restore.pid-wait}, so a helper can
     * make the session again; one still there is warned about (the tree joins the restorer's session).
     */
    private Behavior<Command> afterSessionLeader(TaskImage root, long deadline) {
        var leader = dev.cryo.engine.restore.DeadSessionLeader.ledFromOutside(root, treePids)
                ? dev.cryo.engine.restore.DeadSessionLeader.leaderNow(root) : null;
        if (leader != null && dev.cryo.engine.restore.DeadSessionLeader.exiting(leader) && System.nanoTime() < deadline) {
            timers.startSingleTimer(new LeaderCheck(), Duration.ofMillis(20));
            return Behaviors.receive(Command.class)
                    .onMessage(LeaderCheck.class, m -> afterSessionLeader(root, deadline))
                    .onMessage(Timeout.class, m -> abort("timed out after " + settings.restore().timeout().toMillis()
                            + " ms waiting for session leader " + root.ids().sid() + " to be reaped"))
                    .build();
        }
        if (leader != null) {
            ctx.getLog().warn(dev.cryo.engine.restore.DeadSessionLeader.stillThere(root, leader));
        }
        return startRoot(new dev.cryo.engine.restore.RootPidRetry(root.pid(), settings.restore().pidWait()));
    }

    /** Spawns the root's stub; a pid taken for a moment is tried again after a pause on a timer ({@code retry}). */
    private Behavior<Command> startRoot(dev.cryo.engine.restore.RootPidRetry retry) {
        TaskImage root = image.task(image.root());
        try {
            Pid got;
            if (prepared != null) {
                got = Pid.of(prepared.pid()); // spawned with the root's pid while the pre-copy arrived
                created.add(got.value());
            } else {
                try {
                    got = spawnRoot(root);
                } catch (ExactPidSpawner.PidTakenException e) {
                    java.util.Optional<Duration> pause = retry.next();
                    if (pause.isEmpty()) {
                        throw retry.gaveUp();
                    }
                    timers.startSingleTimer(new RootRetry(), pause.get());
                    return Behaviors.receive(Command.class)
                            .onMessage(RootRetry.class, m -> startRoot(retry))
                            .onMessage(Timeout.class, m -> abort("timed out after " + settings.restore().timeout().toMillis()
                                    + " ms waiting for pid " + root.pid() + " to be free"))
                            .build();
                }
                created.add(got.value());
            }
            // a migration's stub held by the thread that kept it warm is the task's restorer's to take there
            // (StubKeptWarm#take; one it let go is seized once it sleeps again, untraced)
            long s0 = System.nanoTime();
            if ((prepared == null || prepared.held() == null) && !Spawner.awaitSleeping(got, "sleep", 5000)) {
                throw new RestoreException("the stub for pid " + got + " did not start within 5 s");
            }
            long s1 = System.nanoTime();
            placeEarly(root.pid());
            ctx.getLog().debug("pid {}: its stub asleep in {} µs, placed early in {} µs, adopting at +{} ms", root.pid(),
                    (s1 - s0) / 1000, (System.nanoTime() - s1) / 1000, (System.nanoTime() - started) / 1_000_000);
        } catch (RuntimeException e) {
            return abort("cannot start the root task " + root.pid() + ": " + dev.cryo.actors.Failures.describe(e));
        }
        if (alone() && image.netNamespaces().isEmpty() && sockets.nothingToBuildInNamespaces()) {
            return inOneMessage(root);
        }
        spawnTask(root).tell(new TaskRestorerActor.Adopt(true, ptys, adapter));
        return forking(new LinkedHashSet<>(List.of(root.pid())));
    }

    /**
     * A tree of one task whose sockets need no task of its own to be built (no net namespace of the
     * tree's, no unix socket built after the fork): adopt, memory, files to state, this supervisor's
     * last steps and the resume are one message to the task's thread, each step sending itself the
     * next; only the replies come back. Each hop from this thread to the task's and back waited for
     * a CPU on a loaded host (3-17 ms each in a migration's downtime at load 10-16).
     */
    private Behavior<Command> inOneMessage(TaskImage root) {
        long c0 = System.nanoTime();
        try { // before the memory stage, so the pages are charged to the task's own cgroups
            cgroups.place(root.pid(), root.cgroups());
        } catch (RuntimeException e) {
            return abort(dev.cryo.actors.Failures.describe(e));
        }
        long p0 = System.nanoTime();
        request.progress().pagesPlanned(pagesToWrite(root.pid()).stream().mapToLong(s -> s.pages()).sum());
        ctx.getLog().debug("pid {}: adopt to resume in one message at +{} ms (cgroups {} µs, listing {} µs)", root.pid(),
                (System.nanoTime() - started) / 1_000_000, (p0 - c0) / 1000, (System.nanoTime() - p0) / 1000);
        var resume = new TaskRestorerActor.Resume(request.leaveStopped(), adapter, this::beforeResume, this::afterResume);
        var alone = new TaskRestorerActor.RestoreAlone(hubs(), this::finishHubs, adapter, resume);
        spawnTask(root).tell(new TaskRestorerActor.Adopt(true, ptys, adapter, false, restoreMemory(root.pid(), alone)));
        long t0 = System.nanoTime();
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (!(m.reply() instanceof TaskRestorerActor.StageDone d)) {
                        return abort(failureOf(m.reply()));
                    }
                    ctx.getLog().debug("pid {}: {} done at +{} ms", d.pid(), d.stage(), (System.nanoTime() - started) / 1_000_000);
                    if (d.stage().equals("memory")) {
                        pages += d.pages();
                        memoryNanos += System.nanoTime() - t0;
                    }
                    return d.stage().equals("resume") ? done() : Behaviors.same();
                })
                .onMessage(TaskStopped.class, m -> abort("the restorer of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(Timeout.class, m -> abort("timed out after " + settings.restore().timeout().toMillis() + " ms"))
                .build();
    }

    /**
     * Spawns the root stub with the root's pid (atomically: clone3 set_tid); a pid taken is the
     * caller's to wait for ({@link dev.cryo.engine.restore.RootPidRetry}).
     */
    private Pid spawnRoot(TaskImage root) {
        int highest = Math.max(image.tasks().stream().flatMap(t -> t.threads().stream()).mapToInt(th -> th.tid()).max()
                .orElse(root.pid()), image.zombies().stream().mapToInt(ZombieImage::pid).max().orElse(0));
        // from a thread that lives as long as cryo: the root's parent-death signal is per thread
        boolean deadLeader = dev.cryo.engine.restore.DeadSessionLeader.makesSessionOf(root, treePids);
        int nsFlags = image.namespaces().flagsOf(root.pid());
        if (nsFlags != 0) { // the init of its own pid namespace (unshare --fork's child): made in new ones
            int[] setTid = image.namespaces().setTid(root.pid());
            var user = image.namespaces().userNamespaceMadeBy(root.pid()); // its maps as soon as it is born
            return StubParent.spawn(() -> ExactPidSpawner.spawnInNamespaces(root.pid(), setTid, nsFlags,
                    highest, "/bin/sleep", List.of("sleep", "1000000"), root.ids().sid() == root.pid(),
                    root.execed(), (nsFlags & dev.cryo.kernel.Clone.NEWPID) != 0
                            ? image.namespaces().cryoFd() : 0, deadLeader ? root.ids().sid() : 0,
                    user.isEmpty() ? null : (stub, stubPid) -> {
                        // the helper forks nothing else: it keeps the groups the root is born with
                        image.namespaces().groupsAtBirth(root.pid()).ifPresent(g -> dev.cryo.engine.namespaces
                                .UserNamespaceRestore.setGroups(g, stubPid, stub));
                        dev.cryo.engine.namespaces.UserNamespaceRestore.becomeOwner(user.get(), stubPid, stub);
                    },
                    user.isEmpty() ? null : child -> dev.cryo.engine.namespaces.UserNamespaceRestore.born(
                            root.pid(), user.get(), child)), root.pid());
        }
        if (!root.execed()) { // PF_FORKNOEXEC: a fork that never ran a program, as a daemon's root
            return StubParent.spawn(() -> ExactPidSpawner.spawnForked(root.pid(), highest, root.ids().sid(),
                    deadLeader, false), root.pid());
        }
        if (deadLeader) {
            return StubParent.spawn(() -> ExactPidSpawner.spawnInSessionOf(root.ids().sid(), root.pid(), highest,
                    "/bin/sleep", List.of("sleep", "1000000"), false), root.pid());
        }
        return StubParent.spawn(() -> ExactPidSpawner.spawn(root.pid(), highest, "/bin/sleep",
                List.of("sleep", "1000000"), root.ids().sid() == root.pid()), root.pid());
    }

    /**
     * A task that made a cgroup namespace goes into its cgroups before it is adopted: the namespace
     * it unshares then is rooted there, as the dumped one was.
     */
    private void placeEarly(int pid) {
        if (image.namespaces().makesCgroupNamespace(pid)) {
            cgroups.place(pid, image.task(pid).cgroups());
        }
    }

    private dev.cryo.engine.namespaces.TreeNamespaces namespaces() {
        if (namespaces == null) {
            namespaces = image.namespaces();
        }
        return namespaces;
    }

    private ActorRef<TaskRestorerActor.Command> spawnTask(TaskImage t) {
        var p = prepared != null && t.pid() == prepared.pid() ? prepared : null;
        var taken = TaskRestorerActor.take(p); // the stub still held by the thread that kept it warm
        ActorRef<TaskRestorerActor.Command> ref = ctx.spawn(TaskRestorerActor.create(t, boot, treePids, p, namespaces(), taken,
                        settings.restore().rtPriority()),
                "task-" + t.pid(), TaskRestorerActor.dispatcher(taken));
        ctx.watchWith(ref, new TaskStopped(t.pid()));
        tasks.put(t.pid(), ref);
        return ref;
    }

    private ActorRef<TaskRestorerActor.Command> spawnZombie(ZombieImage z) {
        ActorRef<TaskRestorerActor.Command> ref = ctx.spawn(ZombieRestorerActor.create(z, boot, treePids),
                "zombie-" + z.pid(), TaskRestorerActor.DISPATCHER);
        ctx.watchWith(ref, new TaskStopped(z.pid()));
        tasks.put(z.pid(), ref);
        return ref;
    }

    /**
     * Live children and zombies alike: a zombie is forked by its parent like any child. Not those a
     * sibling forks for it ({@link #siblingsInSessionOf}).
     */
    private List<Integer> childrenOf(int pid) {
        List<Integer> out = new java.util.ArrayList<>(image.tasks().stream()
                .filter(t -> t.ids().ppid() == pid && t.pid() != pid && !forkedBySibling(t) && !adoptedFromAZombiesSession(t)
                        && !adoptedFromALiveSession(t))
                .map(TaskImage::pid).toList());
        image.zombies().stream().filter(z -> z.ids().ppid() == pid).forEach(z -> out.add(z.pid()));
        return out;
    }

    /**
     * The tasks {@code pid} forks: its children, the siblings in the session it leads, the orphans in
     * it that a task further up reaped ({@link #orphansInSessionOf}), and the orphans
     * left in the session of a zombie child of its that led it, which come to their init when it dies.
     */
    private List<Integer> forkedBy(int pid) {
        List<Integer> out = new java.util.ArrayList<>(childrenOf(pid));
        out.addAll(siblingsInSessionOf(pid));
        orphansInSessionOf(pid).forEach(o -> out.add(o.pid()));
        zombieSessionsOf(pid).values().forEach(cs -> cs.stream().filter(c -> !out.contains(c)).forEach(out::add));
        return out;
    }

    /**
     * Whether live task {@code c} is an orphan its pid namespace's init adopted from the session of a
     * zombie further down that led it (zdtm's zombie_leader, ns flavor): forked by that zombie-to-be
     * ({@link #zombieSessionsOf} of its parent), it comes to the init when the zombie dies (the dump
     * let only those through, TreeWalker.adoptedFromAZombiesSession).
     */
    private boolean adoptedFromAZombiesSession(TaskImage c) {
        int sid = c.ids().sid();
        return sid != c.pid() && image.zombies().stream().anyMatch(z -> z.pid() == sid && z.ids().sid() == sid
                && z.ids().ppid() != c.ids().ppid());
    }

    /**
     * The live siblings of {@code pid} in the session it leads, not leading one, their parent in
     * another (zdtm's session01 in a container: an orphan the namespace's init adopted, in the session
     * of the init's child): forked by {@code pid} once it made its session, for their parent (the dump
     * let only those through, TreeWalker.checkSessions).
     */
    private List<Integer> siblingsInSessionOf(int pid) {
        TaskImage l = image.tasks().stream().filter(x -> x.pid() == pid).findFirst().orElse(null);
        if (l == null || l.ids().sid() != pid) {
            return List.of();
        }
        return image.tasks().stream().filter(c -> c.pid() != pid && c.ids().sid() == pid && forkedBySibling(c))
                .filter(c -> c.ids().ppid() == l.ids().ppid()).map(TaskImage::pid).toList();
    }

    /**
     * The orphans in the session {@code pid} leads that a task further up reaped ({@link
     * #adoptedFromALiveSession}), each with the pid its helper takes: forked by a helper of {@code
     * pid} that exits, so the kernel gives them to their parent (StubAdoption.forkOrphan). Each
     * helper's pid is above every pid of the image, a block of its own, so no task of the tree nor
     * another helper needs it meanwhile.
     */
    private List<TaskRestorerActor.Orphan> orphansInSessionOf(int pid) {
        List<TaskRestorerActor.Orphan> out = new java.util.ArrayList<>();
        List<TaskImage> orphans = image.tasks().stream().filter(c -> c.ids().sid() == pid && adoptedFromALiveSession(c)).toList();
        if (orphans.isEmpty()) {
            return out;
        }
        int highest = 0;
        for (TaskImage t : image.tasks()) {
            highest = Math.max(highest, Math.max(t.ids().sid(), t.ids().pgid()));
            for (var th : t.threads()) {
                for (int level : namespaces().setTid(th.tid())) {
                    highest = Math.max(highest, level);
                }
            }
        }
        for (ZombieImage z : image.zombies()) {
            for (int level : namespaces().setTid(z.pid())) {
                highest = Math.max(highest, level);
            }
        }
        for (TaskImage c : orphans) { // a block per orphan of the whole tree: helpers of other leaders fork meanwhile
            int index = image.tasks().stream().filter(this::adoptedFromALiveSession).map(TaskImage::pid).toList().indexOf(c.pid());
            out.add(new TaskRestorerActor.Orphan(c.pid(), highest + 1 + 64 * index, c.ids().ppid()));
        }
        return out;
    }

    /**
     * Whether live task {@code c} is an orphan its parent (a subreaper, or its pid namespace's init)
     * reaped, in the session of a live task further down that leads it, not its parent's child (the
     * dump let only those through, TreeWalker.adoptedFromALiveSession).
     */
    private boolean adoptedFromALiveSession(TaskImage c) {
        int sid = c.ids().sid();
        if (sid == c.pid() || image.zombies().stream().anyMatch(z -> z.pid() == c.pid())) {
            return false;
        }
        TaskImage leader = image.tasks().stream().filter(x -> x.pid() == sid).findFirst().orElse(null);
        if (leader == null || leader.ids().sid() != sid || leader.ids().ppid() == c.ids().ppid()) {
            return false;
        }
        Set<Integer> seen = new java.util.HashSet<>();
        for (TaskImage at = leader; at != null && seen.add(at.pid()); ) {
            int up = at.ids().ppid();
            if (up == c.ids().ppid()) {
                return true;
            }
            at = image.tasks().stream().filter(x -> x.pid() == up).findFirst().orElse(null);
        }
        return false;
    }

    /**
     * Whether {@code pid} is the parent of such orphans and no init of its pid namespace: a subreaper
     * from the end of its FORK on, so they come to it when their helpers exit (STATE sets its own
     * setting back).
     */
    private boolean reapsOrphans(int pid) {
        int[] levels = namespaces().setTid(pid);
        return !(levels.length > 1 && levels[0] == 1)
                && image.tasks().stream().anyMatch(c -> c.ids().ppid() == pid && adoptedFromALiveSession(c));
    }

    /** Whether live task {@code c} is in the session of a live sibling that leads it, its parent in another. */
    private boolean forkedBySibling(TaskImage c) {
        int sid = c.ids().sid();
        if (sid == c.pid() || sid == c.ids().ppid()) {
            return false;
        }
        TaskImage leader = image.tasks().stream().filter(x -> x.pid() == sid).findFirst().orElse(null);
        TaskImage parent = image.tasks().stream().filter(x -> x.pid() == c.ids().ppid()).findFirst().orElse(null);
        return leader != null && parent != null && leader.ids().sid() == sid && leader.ids().ppid() == c.ids().ppid()
                && parent.ids().sid() != sid && leader.pid() != c.pid();
    }

    /**
     * The live children {@code pid} forked before it made its own session: they are in the session
     * it had then, or lead one and forked children in it before (BirthSessions; the dump let only
     * those through, TreeWalker.checkSessions).
     */
    private Set<Integer> earlyOf(int pid) {
        TaskImage t = image.tasks().stream().filter(x -> x.pid() == pid).findFirst().orElse(null);
        if (t == null || t.ids().sid() != pid || image.tasks().stream().noneMatch(x -> x.pid() == t.ids().ppid()
                && x.pid() != pid)) {
            return Set.of();
        }
        Set<Integer> out = new java.util.HashSet<>();
        for (TaskImage c : image.tasks()) {
            if (c.ids().ppid() == pid && c.pid() != pid && births().early(pid, t.ids().sid(), c.pid())) {
                out.add(c.pid());
            }
        }
        return out;
    }

    private dev.cryo.engine.dump.BirthSessions births;

    private dev.cryo.engine.dump.BirthSessions births() {
        if (births == null) {
            births = dev.cryo.engine.dump.BirthSessions.of(image.tasks().stream().map(x -> new dev.cryo.engine.dump
                    .BirthSessions.Task(x.pid(), x.ids().ppid(), x.ids().sid())).toList(), Map.of(),
                    sid -> !treePids.contains(sid));
        }
        return births;
    }

    /**
     * The live children of {@code pid} in a session whose leader had exited, by session: not its
     * session, not one they lead, led by no task of the tree, and not the session it had before
     * making its own (those are {@link #earlyOf}); and the children that lead their own session but
     * were born in such a one, its helper's, and forked children in it before making theirs
     * (BirthSessions.deadBirth). The dump let only those through (TreeWalker.checkSessions).
     */
    private Map<Integer, List<Integer>> deadSessionsOf(int pid) {
        Map<Integer, List<Integer>> out = new java.util.TreeMap<>(childrenLedByTheDead(pid, TaskIds::sid, false));
        for (TaskImage c : image.tasks()) {
            Integer born = c.ids().ppid() == pid && c.pid() != pid ? births().deadBirth(c.pid()) : null;
            if (born != null) {
                out.computeIfAbsent(born, k -> new java.util.ArrayList<>()).add(c.pid());
            }
        }
        return withZombies(pid, out, true);
    }

    /**
     * The children of {@link #deadSessionsOf} in a group of that session, not theirs to lead, whose
     * leader had exited too (the dump let only those through, TreeWalker.checkSessions), with its id.
     */
    private Map<Integer, Integer> deadSessionGroupsOf(int pid) {
        Map<Integer, Integer> out = new java.util.HashMap<>();
        deadSessionsOf(pid).forEach((sid, cs) -> {
            for (int c : cs) {
                if (zombie(c).isPresent()) {
                    continue; // in the session's own group (TreeWalker.sessionLeaderGone)
                }
                int pgid = image.task(c).ids().pgid();
                if (pgid != sid && pgid != c && !treePids.contains(pgid)) {
                    out.put(c, pgid);
                }
            }
        });
        return out;
    }

    /**
     * The children of {@code pid} in its session but in a process group whose leader had exited, by
     * group: not its group, not one they lead, led by no task of the tree (the dump let only those
     * through, TreeWalker.checkSessions). Zombies too (zdtm's zombie01): the group's helper forks
     * them, and they die in it later, as any zombie.
     */
    private Map<Integer, List<Integer>> deadGroupsOf(int pid) {
        return withZombies(pid, childrenLedByTheDead(pid, TaskIds::pgid, true), false);
    }

    /**
     * {@code out} (live children by the dead leader of their {@code session}, or else group) with the
     * zombie children of {@code pid} whose session or group a dead leader led, in {@code pid}'s session
     * for a group (zdtm's zombie01), in that session's group for a session (helper_zombie_child): the
     * helper forks them too.
     */
    private Map<Integer, List<Integer>> withZombies(int pid, Map<Integer, List<Integer>> out, boolean session) {
        java.util.function.ToIntFunction<TaskIds> led = session ? TaskIds::sid : TaskIds::pgid;
        TaskImage t = image.tasks().stream().filter(x -> x.pid() == pid).findFirst().orElse(null);
        if (t == null) {
            return out;
        }
        for (ZombieImage z : image.zombies()) {
            int id = led.applyAsInt(z.ids());
            if (z.ids().ppid() == pid && id != z.pid() && id != led.applyAsInt(t.ids()) && !treePids.contains(id)
                    && (session ? z.ids().pgid() == id : z.ids().sid() == t.ids().sid())) {
                out = new java.util.TreeMap<>(out);
                out.computeIfAbsent(id, k -> new java.util.ArrayList<>()).add(z.pid());
            }
        }
        return out;
    }

    /**
     * {@code pid}'s live children in a session that a zombie child of {@code pid} led, by that zombie,
     * and the orphans an init adopted from it ({@link #adoptedFromAZombiesSession}) (the dump let only
     * those through, TreeWalker.checkSessions).
     */
    private Map<Integer, List<Integer>> zombieSessionsOf(int pid) {
        Map<Integer, List<Integer>> out = new java.util.TreeMap<>();
        for (ZombieImage z : image.zombies()) {
            if (z.ids().ppid() != pid || z.ids().sid() != z.pid()) {
                continue;
            }
            List<Integer> in = image.tasks().stream().filter(c -> (c.ids().ppid() == pid || adoptedFromAZombiesSession(c))
                    && c.pid() != pid && c.ids().sid() == z.pid()).map(TaskImage::pid).toList();
            if (!in.isEmpty()) {
                out.put(z.pid(), in);
            }
        }
        return out;
    }

    /** {@code pid}'s children whose session or group ({@code led}) is led by no task of the tree, by that id. */
    private Map<Integer, List<Integer>> childrenLedByTheDead(int pid, java.util.function.ToIntFunction<TaskIds> led,
                                                             boolean inItsSession) {
        TaskImage t = image.tasks().stream().filter(x -> x.pid() == pid).findFirst().orElse(null);
        if (t == null) {
            return Map.of();
        }
        Set<Integer> early = earlyOf(pid);
        Map<Integer, List<Integer>> out = new java.util.TreeMap<>();
        for (TaskImage c : image.tasks()) {
            int id = led.applyAsInt(c.ids());
            if (c.ids().ppid() == pid && c.pid() != pid && id != c.pid() && id != led.applyAsInt(t.ids())
                    && (!inItsSession || c.ids().sid() == t.ids().sid()) && !treePids.contains(id)
                    && !early.contains(c.pid())) {
                out.computeIfAbsent(id, k -> new java.util.ArrayList<>()).add(c.pid());
            }
        }
        return out;
    }

    private java.util.Optional<ZombieImage> zombie(int pid) {
        return image.zombies().stream().filter(z -> z.pid() == pid).findFirst();
    }

    private Map<Integer, Integer> exitSignalsOf(List<Integer> children) {
        Map<Integer, Integer> out = new java.util.HashMap<>();
        for (int c : children) {
            zombie(c).ifPresent(z -> out.put(c, z.exitSignal()));
        }
        return out;
    }

    /** The tables each live child shares with its parent: it is forked sharing them (clone flags). */
    private Map<Integer, Integer> sharedTablesOf(List<Integer> children) {
        Map<Integer, Integer> out = new java.util.HashMap<>();
        for (int c : children) {
            if (zombie(c).isEmpty() && image.task(c).ids().sharedWithParent() != 0) {
                out.put(c, image.task(c).ids().sharedWithParent());
            }
        }
        return out;
    }

    /** Each adopted task forks its children; each child is adopted by a task actor of its own. */
    private Behavior<Command> forking(Set<Integer> pending) {
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (!(m.reply() instanceof TaskRestorerActor.StageDone d)) {
                        return abort(failureOf(m.reply()));
                    }
                    ctx.getLog().debug("pid {}: {} done at +{} ms", d.pid(), d.stage(), (System.nanoTime() - started) / 1_000_000);
                    if (d.stage().equals("adopt") && forksAfterMemory.contains(d.pid())) {
                        try { // its pages are charged to its cgroups, and shared with its children from there
                            cgroups.place(d.pid(), image.task(d.pid()).cgroups());
                        } catch (RuntimeException e) {
                            return abort(dev.cryo.actors.Failures.describe(e));
                        }
                        tasks.get(d.pid()).tell(restoreMemory(d.pid()));
                    } else if (d.stage().equals("adopt") || d.stage().equals("memory")) {
                        if (d.stage().equals("memory")) {
                            memoryFirst.add(d.pid());
                            pages += d.pages();
                            memoryNanos += d.nanos();
                        }
                        if (alone()) {
                            // nothing to fork: no message to its thread and back (a migration's downtime
                            // waited a few ms for each hop on a loaded host)
                            pending.remove(d.pid());
                        } else {
                            List<Integer> children = childrenOf(d.pid());
                            tasks.get(d.pid()).tell(new TaskRestorerActor.ForkChildren(children, exitSignalsOf(children),
                                    sharedTablesOf(children), adapter, earlyOf(d.pid()), deadSessionsOf(d.pid()),
                                    deadGroupsOf(d.pid()), zombieSessionsOf(d.pid()), deadSessionGroupsOf(d.pid()),
                                    siblingsInSessionOf(d.pid()), orphansInSessionOf(d.pid()), reapsOrphans(d.pid())));
                        }
                    } else if (d.stage().equals("fork")) {
                        pending.remove(d.pid());
                        for (int child : forkedBy(d.pid())) {
                            created.add(child);
                            pending.add(child);
                            if (zombie(child).isEmpty()) {
                                try {
                                    placeEarly(child);
                                } catch (RuntimeException e) {
                                    return abort(dev.cryo.actors.Failures.describe(e));
                                }
                            }
                            var ref = zombie(child).isPresent() ? spawnZombie(zombie(child).get())
                                    : spawnTask(image.task(child));
                            ref.tell(new TaskRestorerActor.Adopt(false, ptys, adapter, !earlyOf(child).isEmpty()));
                        }
                    }
                    if (pending.isEmpty()) {
                        long n0 = System.nanoTime();
                        try { // the tree's net namespaces exist now: their state, then their sockets
                            dev.cryo.engine.namespaces.NetNamespaceRestore.configure(image.netNamespaces());
                            sockets.buildInNamespaces(taskCalls());
                        } catch (RuntimeException e) {
                            return abort(dev.cryo.actors.Failures.describe(e));
                        }
                        long c0 = System.nanoTime();
                        try { // before the memory stage, so the pages are charged to the task's own cgroups
                            image.tasks().stream().filter(t -> !memoryFirst.contains(t.pid()))
                                    .forEach(t -> cgroups.place(t.pid(), t.cgroups()));
                        } catch (RuntimeException e) {
                            return abort(dev.cryo.actors.Failures.describe(e));
                        }
                        long p0 = System.nanoTime();
                        image.tasks().forEach(t -> request.progress().pagesPlanned(
                                pagesToWrite(t.pid()).stream().mapToLong(s -> s.pages()).sum()));
                        ctx.getLog().debug("cgroups placed and pages listed at +{} ms (net namespaces {} µs, cgroups {} µs,"
                                + " listing {} µs)", (System.nanoTime() - started) / 1_000_000, (c0 - n0) / 1000,
                                (p0 - c0) / 1000, (System.nanoTime() - p0) / 1000);
                        if (alone()) { // one message for the rest up to the resume: files to state follow its memory
                            ctx.getLog().debug("pid {}: memory, then files to state in one message", image.root());
                            return allTasks("memory", memoryFirst, pid -> restoreMemory(pid, new TaskRestorerActor.RestoreAlone(
                                    hubs(), this::finishHubs, adapter)), () -> awaitTasks("files to state", this::resume));
                        }
                        return allTasks("memory", memoryFirst, this::restoreMemory, this::files);
                    }
                    return Behaviors.same();
                })
                .onMessage(TaskStopped.class, m -> abort("the restorer of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(Timeout.class, m -> abort("timed out after " + settings.restore().timeout().toMillis() + " ms"))
                .build();
    }

    /**
     * The forked tasks for the socket build: a call runs on the task's own tracer thread (its actor,
     * idle between FORK and MEMORY) while this thread waits for it.
     */
    private SocketHub.TaskCalls taskCalls() {
        long timeoutMs = settings.restore().timeout().toMillis();
        return new SocketHub.TaskCalls() {
            @Override
            public boolean has(int pid) {
                return tasks.containsKey(pid);
            }

            @Override
            public <T> T inTask(int pid, java.util.function.Function<SocketHub.Remote, T> op) {
                java.util.concurrent.CompletableFuture<Object> done = new java.util.concurrent.CompletableFuture<>();
                tasks.get(pid).tell(new TaskRestorerActor.InTask(r -> op.apply(r), done));
                try {
                    @SuppressWarnings("unchecked")
                    T got = (T) done.get(timeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS);
                    return got;
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : new RestoreException("pid " + pid + ": "
                            + e.getCause(), e.getCause());
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new RestoreException("pid " + pid + " did not make its unix socket call within " + timeoutMs + " ms");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new RestoreException("interrupted while pid " + pid + " made a unix socket call");
                }
            }
        };
    }

    private TaskRestorerActor.RestoreMemory restoreMemory(int pid) {
        return restoreMemory(pid, null);
    }

    private TaskRestorerActor.RestoreMemory restoreMemory(int pid, TaskRestorerActor.Command then) {
        List<dev.cryo.engine.restore.PageSlice> slices = pagesToWrite(pid);
        TaskRestorerActor.Lazy lazy = null;
        List<long[]> areas = lazyAreas(pid);
        if (!areas.isEmpty()) {
            List<dev.cryo.engine.restore.PageSlice> eager = new java.util.ArrayList<>(), later = new java.util.ArrayList<>();
            slices.forEach(s -> (dev.cryo.engine.restore.LazyPages.within(s, areas) ? later : eager).add(s));
            slices = eager;
            lazy = later.isEmpty() ? null : new TaskRestorerActor.Lazy(request.lazy(), areas, later);
        }
        return new TaskRestorerActor.RestoreMemory(request.imageDir(), settings.image().maxChunk(), slices,
                image.pagesVerified(), settings.parallelism().regions(), sharedMemory, request.progress(),
                inherits.getOrDefault(pid, List.of()), adapter, then, lazy);
    }

    /**
     * A lazy restore's areas of task {@code pid} ({@link dev.cryo.engine.restore.LazyPages#servesLazily}); none
     * without one. Not an area a fork shares (a child forked after its parent's memory is in keeps it, with the
     * parent's frames): it is in before that fork, in the parent and so in the child.
     */
    private List<long[]> lazyAreas(int pid) {
        var task = image.tasks().stream().filter(t -> t.pid() == pid).findFirst(); // none for a zombie
        if (request.lazy() == null || prepared != null || task.isEmpty()) {
            return List.of();
        }
        List<dev.cryo.engine.model.VmaImage> shared = new java.util.ArrayList<>(inherits.getOrDefault(pid, List.of()));
        inherits.forEach((child, kept) -> {
            if (image.task(child).ids().ppid() == pid) {
                shared.addAll(kept);
            }
        });
        List<long[]> areas = new java.util.ArrayList<>(dev.cryo.engine.restore.LazyPages.lazyAreas(task.get().vmas()));
        areas.removeIf(a -> shared.stream().anyMatch(v -> v.start() < a[1] && a[0] < v.end()));
        return areas;
    }

    private final Map<Integer, List<dev.cryo.engine.restore.PageSlice>> toWrite = new java.util.HashMap<>();

    /** The task's pages, less those a prepared root holds already (listed once). */
    private List<dev.cryo.engine.restore.PageSlice> pagesToWrite(int pid) {
        return toWrite.computeIfAbsent(pid, this::listPagesToWrite);
    }

    private List<dev.cryo.engine.restore.PageSlice> listPagesToWrite(int pid) {
        if (inherits.containsKey(pid)) { // pages it shares with its parent come with its fork
            return dev.cryo.engine.restore.PageSlice.outside(image.pagesOf(pid),
                    dev.cryo.engine.memory.ParentSharing.sharedRanges(inherits.get(pid)));
        }
        if (prepared == null || pid != prepared.pid()) {
            return image.pagesOf(pid);
        }
        var todo = image.pagesNotPlaced(pid, prepared::keeps);
        if (todo.isPresent()) { // the placed slices are never listed
            ctx.getLog().debug("pid {}: {} page slices to write ({} pages placed before the freeze)", pid,
                    todo.get().size(), prepared.placedPages());
            return todo.get();
        }
        // placement not tracked (an image that did not arrive through ArrivingMemory): every latest copy is written again
        return image.pagesOf(pid);
    }

    // ---- barrier stages ------------------------------------------------------------------------

    private interface PerTask {
        TaskRestorerActor.Command message(int pid);
    }

    /** Sends a stage to every task and goes {@code next} once all have done it. */
    private Behavior<Command> allTasks(String stage, PerTask message, Supplier<Behavior<Command>> next) {
        return allTasks(stage, Set.of(), message, next);
    }

    /** As above, but for the tasks in {@code done} (which did it before their children were forked). */
    private Behavior<Command> allTasks(String stage, Set<Integer> done, PerTask message, Supplier<Behavior<Command>> next) {
        Set<Integer> pending = new LinkedHashSet<>(tasks.keySet());
        pending.removeAll(done);
        if (pending.isEmpty()) {
            return next.get();
        }
        pending.forEach(pid -> tasks.get(pid).tell(message.message(pid)));
        return awaiting(stage, pending, next);
    }

    /** Goes {@code next} once every task has done a stage they were told of with the stage before. */
    private Behavior<Command> awaitTasks(String stage, Supplier<Behavior<Command>> next) {
        return awaiting(stage, new LinkedHashSet<>(tasks.keySet()), next);
    }

    private Behavior<Command> awaiting(String stage, Set<Integer> pending, Supplier<Behavior<Command>> next) {
        long t0 = System.nanoTime();
        return Behaviors.receive(Command.class)
                .onMessage(TaskReply.class, m -> {
                    if (!(m.reply() instanceof TaskRestorerActor.StageDone d)) {
                        return abort(failureOf(m.reply()));
                    }
                    pages += d.pages();
                    pending.remove(d.pid());
                    if (!pending.isEmpty()) {
                        return Behaviors.same();
                    }
                    ctx.getLog().debug("{} done at +{} ms", stage, (System.nanoTime() - started) / 1_000_000);
                    if (stage.equals("memory")) {
                        memoryNanos += System.nanoTime() - t0;
                    }
                    return next.get();
                })
                .onMessage(TaskStopped.class, m -> stage.equals("resume") ? Behaviors.same()
                        : abort("the restorer of pid " + m.pid() + " stopped unexpectedly"))
                .onMessage(Timeout.class, m -> abort("timed out in the " + stage + " stage"))
                .build();
    }

    /** A tree of one task and no zombie: it forks nothing, and no barrier has anyone to wait for. */
    private boolean alone() {
        return image.tasks().size() == 1 && image.zombies().isEmpty();
    }

    private Behavior<Command> files() {
        // passes with a barrier in between: an fd sharing another task's open file finds it there
        return allTasks("files", pid -> new TaskRestorerActor.RestoreFiles(hubs(), FileRestore.Pass.OWN, adapter),
                () -> allTasks("shared files", pid -> new TaskRestorerActor.RestoreFiles(hubs(), FileRestore.Pass.SHARED, adapter),
                () -> allTasks("late shared files", pid -> new TaskRestorerActor.RestoreFiles(hubs(), FileRestore.Pass.LATE, adapter),
                        this::afterFiles)));
    }

    private dev.cryo.engine.keyrings.KeyringHub keyrings;

    private dev.cryo.engine.restore.FileHubs hubs() {
        if (keyrings == null) { // one for the three passes: the session keyrings made in the first are joined in the second
            keyrings = dev.cryo.engine.keyrings.KeyringHub.of(image.tasks());
        }
        return new dev.cryo.engine.restore.FileHubs(pipes, sockets, sharedMemory, ptys, request.inherited(), deadTasks,
                keyrings);
    }

    /** Once every fd of every task is open (any thread: no ptrace); throws with the reason. */
    private void finishHubs() {
        pipes.close(); // every end is open in its task now
        try {
            ptys.finish(); // locks and exclusive modes, which refuse new opens, now that every end is open
        } catch (RuntimeException e) {
            throw new RestoreException("cannot restore the pseudo-terminals' locks: " + dev.cryo.actors.Failures.describe(e), e);
        }
        sharedMemory.seal(); // memfd seals, now that nothing more is written
        sharedMemory.close(); // mapped and opened everywhere: the mappings and fds keep it alive
        deadTasks.close(); // every pidfd of a reaped task is open: its stand-in ends as the task had
        releaseKeptMounts();
    }

    /** Every task's mount namespace is made (or the restore is given up): the copies of cryo's kept for them go. */
    private void releaseKeptMounts() {
        if (namespaces != null) {
            namespaces.releaseKept();
        }
    }

    private Behavior<Command> afterFiles() {
        try {
            finishHubs();
        } catch (RuntimeException e) {
            return abort(e.getMessage());
        }
        endSessionHelper();
        // leaders before members; zombies die once they are in their groups and before their
        // parents' state (which takes back the death notices) and resume
        return allTasks("sessions", pid -> new TaskRestorerActor.RestoreSessions(adapter),
                () -> allTasks("groups", pid -> new TaskRestorerActor.RestoreGroups(adapter),
                () -> allTasks("zombies", pid -> new TaskRestorerActor.Zombify(adapter),
                () -> allTasks("state", pid -> new TaskRestorerActor.RestoreState(adapter), this::resume))));
    }

    /**
     * The helper that made the root's session in its dead leader's place is gone once every socket
     * is made (one whose peer credentials name that leader is made in it), as the leader was.
     */
    private void endSessionHelper() {
        dev.cryo.kernel.ExactPidSpawner.endLeader(image.task(image.root()).ids().sid());
    }

    /** Every task's state is in: the connections leave repair mode and all tasks run at once. */
    private Behavior<Command> resume() {
        try {
            beforeResume();
        } catch (RuntimeException e) {
            return abort(e.getMessage());
        }
        return allTasks("resume", pid -> new TaskRestorerActor.Resume(request.leaveStopped(), adapter), this::done);
    }

    /** The last steps before any task runs; throws with the reason (on a lone task's thread, see inOneMessage). */
    private void beforeResume() {
        endSessionHelper();
        try { // its threads were made in the process's cgroups
            image.tasks().forEach(t -> cgroups.placeThreads(t.pid(), t.cgroups()));
        } catch (RuntimeException e) {
            throw new RestoreException(dev.cryo.actors.Failures.describe(e), e);
        }
        try {
            long s0 = System.nanoTime();
            long[] calls = dev.cryo.kernel.OwnSyscalls.now();
            int resumed = sockets.resumeConnections(); // before any task runs: repair mode refuses reads
            if (resumed > 0) {
                log.debug("connections resumed: {} in {} µs, cryo's syscalls meanwhile: {}", resumed,
                        (System.nanoTime() - s0) / 1000, dev.cryo.kernel.OwnSyscalls.since(calls));
            }
        } catch (RuntimeException e) {
            throw new RestoreException("cannot resume the TCP connections: " + dev.cryo.actors.Failures.describe(e), e);
        }
        dev.cryo.engine.restore.ShellJobForeground.give(image.task(image.root()), treePids, n -> log.warn(n));
        dev.cryo.api.TreeObservers.restored(image.root(), List.copyOf(tasks.keySet()), log);
        try {
            request.hooks().beforeResume(image.root(), tasks.keySet().stream().sorted().toList());
        } catch (RuntimeException e) {
            throw new RestoreException(e.getMessage(), e);
        }
        if (request.lazy() != null) { // should cryo die before every page is in, the tree goes with it
            try {
                request.lazy().guard(image.tasks().stream().map(TaskImage::pid).toList());
            } catch (RuntimeException e) {
                throw new RestoreException("cannot start the lazy pages' watcher: " + e.getMessage(), e);
            }
        }
        // last: nothing of cryo's touches the tree's files after this
        dev.cryo.engine.files.RestoredNotificationQueues.empty(image.tasks(), s -> log.debug("{}", s));
    }

    /**
     * The first steps once the tree runs, on a lone task's thread right after its resume ({@link #inOneMessage}),
     * before its reply: the resumed hook (a migration's "running" to the source) no longer waits for that reply to
     * reach this actor's thread, a wake-up on a loaded host. What went wrong is {@link #done}'s to log.
     */
    private void afterResume() {
        afterResume = runningSteps();
    }

    /** Set by {@link #afterResume} before the task's resume reply is sent (null: not run); warnings, or "". */
    private volatile String afterResume;

    /** The network the restored tasks' own again, then the resumed hook; what went wrong, or "". */
    private String runningSteps() {
        if (request.lazy() != null) {
            request.lazy().prefetch(); // the tree runs: its pages are copied ahead of its faults
        }
        String unlock = "";
        try {
            sockets.unlockNetwork(); // the restored tasks own their connections again
        } catch (RuntimeException e) {
            unlock = e.getMessage();
        }
        try {
            sockets.restored();
        } catch (RuntimeException e) {
            unlock = unlock.isEmpty() ? e.getMessage() : unlock + "; " + e.getMessage();
        }
        sockets.close();
        try {
            request.hooks().resumed(image.root(), tasks.keySet().stream().sorted().toList());
        } catch (RuntimeException e) {
            unlock = unlock.isEmpty() ? e.getMessage() : unlock + "; " + e.getMessage();
        }
        return unlock;
    }

    private Behavior<Command> done() {
        timers.cancelAll();
        lowerPriority(); // the tree runs
        String unlock = afterResume != null ? afterResume : runningSteps();
        if (!unlock.isEmpty()) {
            ctx.getLog().warn("restored, but {}", unlock);
        }
        dev.cryo.engine.restore.RestoredImages.record(image.info(), image.root());
        dev.cryo.engine.ipc.SemUndo.forget(image.allPids()); // the restored tasks hold their adjustments
        int threads = image.tasks().stream().mapToInt(t -> t.threads().size()).sum();
        replyTo.tell(new Succeeded(new RestoreReport(request.imageDir(), image.root(),
                image.tasks().stream().map(TaskImage::pid).toList(), threads, pages,
                (System.nanoTime() - started) / 1_000_000, memoryNanos / 1_000_000)));
        dev.cryo.engine.restore.RestoredImages.prune(); // after the report: none of it in a migration's downtime
        return Behaviors.stopped();
    }

    // ---- ABORT ---------------------------------------------------------------------------------

    /** Kills every task created so far (their actors kill their own, we make sure by pid) and reaps the root. */
    private Behavior<Command> abort(String reason) {
        timers.cancelAll();
        if (request.lazy() != null) {
            request.lazy().close(); // the tasks it served are killed
        }
        endSessionHelper();
        if (pipes != null) {
            pipes.close();
        }
        if (sockets != null) {
            sockets.close(); // connections still in repair mode vanish silently; the network lock stays
        }
        if (sharedMemory != null) {
            sharedMemory.removeMadeForGood();
            sharedMemory.close();
        }
        if (ptys != null) {
            ptys.close();
        }
        releaseKeptMounts();
        try {
            if (deadTasks != null) {
                deadTasks.close();
            }
        } catch (RuntimeException e) {
            ctx.getLog().debug("a stand-in of a reaped task: {}", e.getMessage()); // the restore fails anyway
        }
        tasks.values().forEach(ctx::stop);
        for (int pid : created) {
            try {
                Sys.kill(Pid.of(pid), Signals.SIGKILL);
            } catch (KernelException ignored) {
                // already gone
            }
        }
        cgroups.removeMade(); // once the killed tasks have left them
        for (String p : dev.cryo.engine.restore.HeldConnections.release(locksMadeHere)) {
            reason = reason + " (and " + p + ")";
        }
        reason = withHeldLocks(reason);
        int root = image.root();
        if (!created.isEmpty()) {
            int first = created.iterator().next();
            if (first != root) {
                reason = reason + " (pid " + first + " was spawned instead of " + root + ")";
            }
            return reaping(first, reason);
        }
        replyTo.tell(new Failed(reason));
        return Behaviors.stopped();
    }

    /**
     * Our own child, killed: reaped so no zombie is left, with WNOHANG on a timer — a task in
     * uninterruptible sleep dies only when the sleep ends, and a blocking wait4 would hold the
     * supervisor's thread until then. Past {@link #REAP_WAIT} the failure is reported anyway.
     */
    private Behavior<Command> reaping(int pid, String reason) {
        if (reaped(pid) && dev.cryo.engine.ipc.SemUndo.exited(image.allPids())) {
            replyTo.tell(new Failed(withSemaphoresTakenBack(reason)));
            return Behaviors.stopped();
        }
        long deadline = System.nanoTime() + REAP_WAIT.toNanos();
        timers.startTimerWithFixedDelay("reap", new Reap(), Duration.ofMillis(5));
        return Behaviors.receive(Command.class)
                .onMessage(Reap.class, m -> {
                    if (reaped(pid) && dev.cryo.engine.ipc.SemUndo.exited(image.allPids())) {
                        replyTo.tell(new Failed(withSemaphoresTakenBack(reason)));
                        return Behaviors.stopped();
                    }
                    if (System.nanoTime() > deadline) {
                        dev.cryo.engine.ipc.SemUndo.forget(image.allPids());
                        replyTo.tell(new Failed(reason + " (pid " + pid + " was sent SIGKILL but has not died yet: "
                                + state(pid) + ")"));
                        return Behaviors.stopped();
                    }
                    return Behaviors.same();
                })
                .onAnyMessage(m -> Behaviors.same()) // the task actors' last words: the abort is under way
                .build();
    }

    /**
     * The killed tasks' exits gave back to the host's semaphores the SEM_UNDO adjustments the restore had
     * made again in them, which the image still holds: taken back, or named in {@code reason}.
     */
    private String withSemaphoresTakenBack(String reason) {
        List<String> left = dev.cryo.engine.ipc.SemUndo.takeBack(image.allPids());
        return left.isEmpty() ? reason : reason + " (and " + String.join("; ", left) + ")";
    }

    private static boolean reaped(int pid) {
        try {
            var st = Sys.wait4(pid, Sys.WNOHANG);
            return st != null && st.gone();
        } catch (KernelException e) {
            return true; // ECHILD: reaped already
        }
    }

    private static String state(int pid) {
        try {
            char c = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(pid)).state();
            return c == 'D' ? "it is in uninterruptible sleep" : "state " + c;
        } catch (KernelException e) {
            return "gone";
        }
    }

    private static String failureOf(TaskRestorerActor.Reply r) {
        return r instanceof TaskRestorerActor.Failed f ? f.message() : "unexpected " + r;
    }
}
