package dev.cryo.actors.restore;

import dev.cryo.engine.restore.PageSlice;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.PipeHub;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.TaskRestorer;
import dev.cryo.engine.restore.stage.FileRestore;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.ptrace.Tracer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Restores one task. Runs on a pinned thread, the ptrace thread of all the task's threads, and
 * follows the supervisor's stages: ADOPT the stub, FORK its children, MEMORY (page writing fanned
 * out to {@link RegionRestorer}s), FILES, SESSIONS, GROUPS, ZOMBIES (the zombies of the tree die, see
 * {@link ZombieRestorerActor}), STATE (process, threads, registers), RESUME. On KILL, or
 * if it stops any other way before RESUME, the task is killed: nothing half-restored survives.
 */
public final class TaskRestorerActor {
    static final DispatcherSelector DISPATCHER = DispatcherSelector.fromConfig("cryo-dispatchers.task");
    static final DispatcherSelector REGIONS = DispatcherSelector.fromConfig("cryo-dispatchers.region");

    public sealed interface Command {}

    /** {@code ptys}: the reopened pseudo-terminals, for a session leader to take its controlling terminal back. */
    /**
     * {@code deferLead}: the task has children it forked before making its own session (they stay in
     * the session it had then): it makes its session only once those are forked (ForkChildren.early).
     */
    /** {@code then}: run next once adopted (null: none), as {@link RestoreMemory#then}. */
    public record Adopt(boolean mapBootstrap, dev.cryo.engine.restore.PtyHub ptys, ActorRef<Reply> replyTo,
                        boolean deferLead, Command then) implements Command {
        public Adopt(boolean mapBootstrap, dev.cryo.engine.restore.PtyHub ptys, ActorRef<Reply> replyTo, boolean deferLead) {
            this(mapBootstrap, ptys, replyTo, deferLead, null);
        }

        public Adopt(boolean mapBootstrap, dev.cryo.engine.restore.PtyHub ptys, ActorRef<Reply> replyTo) {
            this(mapBootstrap, ptys, replyTo, false);
        }

        public Adopt(boolean mapBootstrap, ActorRef<Reply> replyTo) {
            this(mapBootstrap, null, replyTo);
        }
    }

    /**
     * {@code exitSignals}: the signal a child's death sends, when it is not SIGCHLD (zombies may have others);
     * {@code sharedTables}: the clone flags of the tables a child shares with this task (CLONE_FILES, CLONE_FS).
     */
    /**
     * {@code deadSessions}: children in a session whose leader had exited, by session id: a helper
     * with that pid makes the session and forks them (TaskRestorer.forkInDeadSession); {@code deadGroups}:
     * children in this task's session in a group whose leader had exited, by group id, forked the same way;
     * {@code zombieSessions}: children in a session a zombie child led, by that zombie, forked by it
     * (TaskRestorer.forkInZombieSession); {@code deadSessionGroups}: the children of {@code deadSessions}
     * in a group of that session whose leader had exited too, with its id; {@code siblings}: siblings in the
     * session this task leads, forked by it for their parent (TaskRestorer.forkSibling); {@code orphans}:
     * orphans in the session this task leads that a task further up reaped, with the pid each one's
     * helper takes (TaskRestorer.forkOrphan); {@code reapsOrphans}: this task is such a parent and no
     * init, a subreaper from the end of its FORK.
     */
    /** An orphan a task forks through a helper at pid {@code helper} that exits, for {@code parent} (ForkChildren#orphans). */
    public record Orphan(int pid, int helper, int parent) {}

    public record ForkChildren(List<Integer> children, java.util.Map<Integer, Integer> exitSignals,
                               java.util.Map<Integer, Integer> sharedTables, ActorRef<Reply> replyTo,
                               java.util.Set<Integer> early, java.util.Map<Integer, List<Integer>> deadSessions,
                               java.util.Map<Integer, List<Integer>> deadGroups,
                               java.util.Map<Integer, List<Integer>> zombieSessions,
                               java.util.Map<Integer, Integer> deadSessionGroups, List<Integer> siblings,
                               List<Orphan> orphans, boolean reapsOrphans)
            implements Command {
        public ForkChildren(List<Integer> children, java.util.Map<Integer, Integer> exitSignals,
                            java.util.Map<Integer, Integer> sharedTables, ActorRef<Reply> replyTo) {
            this(children, exitSignals, sharedTables, replyTo, java.util.Set.of(), java.util.Map.of(), java.util.Map.of(),
                    java.util.Map.of(), java.util.Map.of(), List.of(), List.of(), false);
        }

        public ForkChildren(List<Integer> children, java.util.Map<Integer, Integer> exitSignals,
                            ActorRef<Reply> replyTo) {
            this(children, exitSignals, java.util.Map.of(), replyTo);
        }

        public ForkChildren(List<Integer> children, ActorRef<Reply> replyTo) {
            this(children, java.util.Map.of(), replyTo);
        }
    }

    /**
     * {@code inherited}: the areas this task keeps as its parent's fork gave them (ParentSharing.plan).
     * {@code then}: run next once the memory is done, when it is (null: none), without the supervisor's
     * message in between (a lone task's {@link RestoreAlone}: no barrier has another task to wait for).
     */
    public record RestoreMemory(Path imageDir, long maxChunk, List<PageSlice> chunks, boolean verified, int workers,
                                SharedMemoryHub sharedMemory, dev.cryo.engine.dump.DumpProgress progress,
                                List<dev.cryo.engine.model.VmaImage> inherited, ActorRef<Reply> replyTo, Command then,
                                Lazy lazy) implements Command {}

    /** A lazy restore's share of the task: {@code areas} registered with {@code server}, which serves {@code slices}. */
    public record Lazy(dev.cryo.engine.restore.LazyPages server, List<long[]> areas, List<PageSlice> slices) {}

    /** One pass of the FILES stage (own objects, fds shared with other tasks, late ones). */
    public record RestoreFiles(dev.cryo.engine.restore.FileHubs hubs, FileRestore.Pass pass, ActorRef<Reply> replyTo)
            implements Command {}

    /**
     * A tree of one live task: every FILES pass, then {@code afterFiles} (the hubs' finish, which the
     * supervisor does between the barriers of a bigger tree), SESSIONS, GROUPS and STATE in one go:
     * no barrier in between has another task to wait for, and each was a message hop each way.
     * {@code then}: run next once done (null: none), as {@link RestoreMemory#then}.
     */
    public record RestoreAlone(dev.cryo.engine.restore.FileHubs hubs, Runnable afterFiles, ActorRef<Reply> replyTo,
                               Command then) implements Command {
        public RestoreAlone(dev.cryo.engine.restore.FileHubs hubs, Runnable afterFiles, ActorRef<Reply> replyTo) {
            this(hubs, afterFiles, replyTo, null);
        }
    }

    /** Session and group leaders make theirs (live tasks and zombies alike). */
    public record RestoreSessions(ActorRef<Reply> replyTo) implements Command {}

    /** Group members join their groups, every leader's being made. */
    public record RestoreGroups(ActorRef<Reply> replyTo) implements Command {}

    /** Zombies die with their status; live tasks have nothing to do. */
    public record Zombify(ActorRef<Reply> replyTo) implements Command {}

    public record RestoreState(ActorRef<Reply> replyTo) implements Command {}

    /**
     * {@code stopped}: left stopped (SIGSTOP), not running. {@code before}: the supervisor's last steps before
     * any task runs (null: none), run here first when this task is the whole tree; a throw fails the stage.
     * {@code after}: its first steps once the task runs (null: none), here, before the reply; it never throws.
     */
    public record Resume(boolean stopped, ActorRef<Reply> replyTo, Runnable before, Runnable after) implements Command {
        public Resume(boolean stopped, ActorRef<Reply> replyTo) {
            this(stopped, replyTo, null, null);
        }
    }

    public record Kill(ActorRef<Reply> replyTo) implements Command {}

    /** Runs {@code op} with the task as its socket hub sees it, on this (its tracer's) thread: the socket build's calls. */
    public record InTask(java.util.function.Function<dev.cryo.engine.restore.SocketHub.Remote, Object> op,
                         java.util.concurrent.CompletableFuture<Object> done) implements Command {
        void run(dev.cryo.engine.restore.SocketHub.Remote r) {
            try {
                done.complete(op.apply(r));
            } catch (RuntimeException | Error e) {
                done.completeExceptionally(e);
            }
        }
    }

    private record RegionReply(RegionRestorer.Reply reply) implements Command {}

    public sealed interface Reply {
        int pid();
    }

    /** A stage finished; {@code pages} is set by the memory stage. */
    public record StageDone(int pid, String stage, long pages, long nanos) implements Reply {}

    public record Failed(int pid, String message) implements Reply {}

    public record Killed(int pid) implements Reply {}

    public static Behavior<Command> create(TaskImage task, BootstrapArea boot, java.util.Set<Integer> treePids) {
        return create(task, boot, treePids, null);
    }

    /** {@code prepared}: the stub of this task was made while a migration's pre-copy arrived (or null). */
    public static Behavior<Command> create(TaskImage task, BootstrapArea boot, java.util.Set<Integer> treePids,
                                           dev.cryo.engine.restore.PreparedRoot prepared) {
        return create(task, boot, treePids, prepared, dev.cryo.engine.namespaces.TreeNamespaces.NONE);
    }

    /** {@code namespaces}: those the tree made, which tasks are forked into. */
    public static Behavior<Command> create(TaskImage task, BootstrapArea boot, java.util.Set<Integer> treePids,
                                           dev.cryo.engine.restore.PreparedRoot prepared,
                                           dev.cryo.engine.namespaces.TreeNamespaces namespaces) {
        return create(task, boot, treePids, prepared, namespaces, null);
    }

    /**
     * {@code taken}: the tracer of the thread that holds the prepared stub, which the caller took
     * ({@link #take}; null: none, and then a prepared stub that was kept warm is seized once it sleeps
     * again). Spawned with it, this actor needs no pinned thread of its own ({@link #dispatcher}).
     */
    public static Behavior<Command> create(TaskImage task, BootstrapArea boot, java.util.Set<Integer> treePids,
                                           dev.cryo.engine.restore.PreparedRoot prepared,
                                           dev.cryo.engine.namespaces.TreeNamespaces namespaces, Tracer taken) {
        return create(task, boot, treePids, prepared, namespaces, taken, 0);
    }

    /** {@code rtPriority}: the stub's SCHED_FIFO priority from ADOPT to the end of STATE (cryo.restore.rt-priority; 0: none). */
    public static Behavior<Command> create(TaskImage task, BootstrapArea boot, java.util.Set<Integer> treePids,
                                           dev.cryo.engine.restore.PreparedRoot prepared,
                                           dev.cryo.engine.namespaces.TreeNamespaces namespaces, Tracer taken,
                                           int rtPriority) {
        return dev.cryo.actors.PidMdc.of(Command.class, task.pid(), Behaviors.setup(ctx -> {
            TaskRestorerActor a = new TaskRestorerActor(ctx, task, boot, treePids, namespaces, prepared, taken);
            a.restorer.rtPriority(rtPriority);
            return a.held == null ? a.running() : a.onHeldThread();
        }));
    }

    /**
     * The prepared stub's holder's tracer, taken for this task's restore (StubKeptWarm#take), or null
     * when there is none or it no longer holds the stub.
     */
    public static Tracer take(dev.cryo.engine.restore.PreparedRoot prepared) {
        return prepared == null || prepared.held() == null ? null : prepared.held().take();
    }

    /**
     * Where the actor runs: with a taken stub it only passes messages to the stub's holder, so on its
     * parent's threads (a pinned dispatcher starts a thread per actor: 8-38 ms from the supervisor's
     * message to the adoption's start at load 12-25, mig41); else on a pinned thread, its ptrace thread.
     */
    public static DispatcherSelector dispatcher(Tracer taken) {
        return taken != null ? DispatcherSelector.sameAsParent() : DISPATCHER;
    }

    private final ActorContext<Command> ctx;
    private final int pid;
    private final Tracer tracer; // created on (or taken from) the thread that makes every ptrace request of this task
    private final TaskRestorer restorer;
    private volatile boolean resumed;
    /**
     * Non-null: the thread that kept a migration's stub warm holds it still, seized and stopped, and
     * every step of this task runs there ({@link #onHeldThread}); this actor's own thread only passes
     * the messages on. Null: every step runs on this actor's pinned thread.
     */
    private final dev.cryo.engine.restore.StubKeptWarm held;
    /** A held stub that its thread let go instead (StubKeptWarm#take gave none): seized once asleep again. */
    private final boolean awaitStub;
    /** The actor's logger, for the steps that run on the held stub's thread (the context is this thread's only). */
    private final org.slf4j.Logger log;
    private final ActorRef<Command> self;
    /** The page writers' threads, for the held stub's thread (it spawns no actors). */
    private final java.util.concurrent.Executor regions;
    /** On the held stub's thread: the task was resumed or killed, nothing is left to kill. */
    private boolean finished;
    /** The tracer's round trips before this restore's (a held stub's tracer counts its warm-keeping too; -1: not yet read). */
    private long tripsBefore;

    private TaskRestorerActor(ActorContext<Command> ctx, TaskImage task, BootstrapArea boot,
                              java.util.Set<Integer> treePids, dev.cryo.engine.namespaces.TreeNamespaces namespaces,
                              dev.cryo.engine.restore.PreparedRoot prepared, Tracer taken) {
        this.ctx = ctx;
        this.pid = task.pid();
        this.log = ctx.getLog();
        this.self = ctx.getSelf();
        var keptWarm = prepared == null ? null : prepared.held();
        this.held = taken == null ? null : keptWarm;
        this.awaitStub = keptWarm != null && taken == null;
        if (awaitStub) {
            keptWarm.stop(); // not taken: let go, if its thread holds it still
        }
        this.tracer = taken != null ? taken : new Tracer(); // created on the pinned thread: the ptrace thread
        this.regions = taken == null ? null : ctx.getSystem().dispatchers().lookup(REGIONS);
        this.restorer = new TaskRestorer(tracer, task, boot, treePids, namespaces);
        if (prepared != null) {
            restorer.prepared(prepared);
        }
        this.tripsBefore = taken != null ? -1 : 0;
        if (taken != null) {
            restorer.seizedAlready();
            restorer.liftedAlready(keptWarm.lift());
        }
        if (keptWarm != null) {
            log.debug("pid {}: its stub {}", pid, taken != null ? "taken as the thread that kept it warm holds it, seized since the "
                    + "source froze" : "was let go by the thread that kept it warm: seized once it sleeps again");
        }
    }

    private interface Step {
        long run() throws Exception;
    }

    /** The context's logger on this actor's thread (with its MDC), the captured one on the held stub's thread. */
    private org.slf4j.Logger log() {
        return held == null ? ctx.getLog() : log;
    }

    /** Runs one stage on this thread and replies with its outcome; whether it succeeded. */
    private boolean ran(String name, ActorRef<Reply> replyTo, Step step) {
        long t0 = System.nanoTime();
        // the task's own CPU tells its work from waiting for it (an adopted stub's first return to user
        // mode rebuilds its page tables' shadow in a VM like this machine's: ms per GiB)
        org.slf4j.Logger log = log();
        long cpu0 = log.isDebugEnabled() ? dev.cryo.kernel.proc.ProcFs.cpuNanos(dev.cryo.kernel.Pid.of(pid)) : -1;
        try {
            long pages = step.run();
            log.debug("pid {}: {} done in {} µs (the task's own CPU {} µs), {} ptrace round trips so far", pid, name,
                    (System.nanoTime() - t0) / 1000, cpu0 < 0 ? -1 : (dev.cryo.kernel.proc.ProcFs.cpuNanos(dev.cryo.kernel.Pid.of(pid)) - cpu0) / 1000,
                    tracer.roundTrips() - tripsBefore);
            replyTo.tell(new StageDone(pid, name, pages, System.nanoTime() - t0));
            return true;
        } catch (Exception e) {
            log.debug("pid {} ({}) failed", pid, name, e);
            String m = e.getMessage() == null ? e.toString() : e.getMessage();
            replyTo.tell(new Failed(pid, m.contains("pid " + pid) ? m : "pid " + pid + " (" + name + "): " + m));
            return false;
        }
    }

    /**
     * The work of every command but the memory's and a kill, on the thread that makes this task's
     * ptrace requests: the command to run next (a chained {@code then}) once it succeeded, or null.
     */
    private Command perform(Command c) {
        if (c instanceof Adopt m) {
            return ran("adopt", m.replyTo(), () -> {
                if (awaitStub && !dev.cryo.kernel.Spawner.awaitSleeping(dev.cryo.kernel.Pid.of(pid), "sleep", 5000)) {
                    throw new dev.cryo.engine.restore.RestoreException("the stub for pid " + pid + " did not sleep again within 5 s");
                }
                restorer.adopt(m.mapBootstrap(), m.ptys(), m.deferLead());
                return 0;
            }) ? m.then() : null;
        } else if (c instanceof ForkChildren m) {
            ran("fork", m.replyTo(), () -> {
                fork(m);
                return 0;
            });
        } else if (c instanceof InTask m) {
            m.run(restorer.remote());
        } else if (c instanceof RestoreFiles m) {
            ran("files", m.replyTo(), () -> {
                restorer.restoreFiles(m.hubs(), m.pass());
                return 0;
            });
        } else if (c instanceof RestoreAlone m) {
            return ran("files to state", m.replyTo(), () -> {
                for (FileRestore.Pass pass : FileRestore.Pass.values()) { // OWN's calls run with SHARED's
                    restorer.restoreFiles(m.hubs(), pass, pass == FileRestore.Pass.OWN);
                }
                m.afterFiles().run();
                restorer.leadSessionAndGroup();
                restorer.joinGroup();
                restorer.restoreState();
                return 0;
            }) ? m.then() : null;
        } else if (c instanceof RestoreSessions m) {
            ran("sessions", m.replyTo(), () -> {
                restorer.leadSessionAndGroup();
                return 0;
            });
        } else if (c instanceof RestoreGroups m) {
            ran("groups", m.replyTo(), () -> {
                restorer.joinGroup();
                return 0;
            });
        } else if (c instanceof Zombify m) {
            ran("zombies", m.replyTo(), () -> 0);
        } else if (c instanceof RestoreState m) {
            ran("state", m.replyTo(), () -> {
                restorer.restoreState();
                return 0;
            });
        } else if (c instanceof Resume m) {
            if (m.before() != null) {
                try {
                    m.before().run();
                } catch (RuntimeException e) { // the supervisor's own failure, as it would say it
                    m.replyTo().tell(new Failed(pid, dev.cryo.actors.Failures.describe(e)));
                    return null;
                }
            }
            ran("resume", m.replyTo(), () -> {
                restorer.resume(m.stopped());
                resumed = true;
                if (m.after() != null) {
                    m.after().run();
                }
                return 0;
            });
        }
        return null;
    }

    private void fork(ForkChildren m) {
        // children forked before this task made its session first, then the session, then the rest
        java.util.Set<Integer> helped = new java.util.HashSet<>();
        m.deadSessions().values().forEach(helped::addAll);
        m.deadGroups().values().forEach(helped::addAll);
        m.zombieSessions().values().forEach(helped::addAll);
        helped.addAll(m.zombieSessions().keySet());
        for (boolean early : new boolean[] {true, false}) {
            for (int child : m.children()) {
                if (m.early().contains(child) == early && !helped.contains(child)) {
                    restorer.forkChild(child, m.exitSignals().getOrDefault(child,
                            dev.cryo.kernel.Signals.SIGCHLD), m.sharedTables().getOrDefault(child, 0));
                }
            }
            if (early && !m.early().isEmpty()) {
                restorer.leadDeferred();
            }
        }
        m.siblings().forEach(restorer::forkSibling); // in the session this task has made by now
        m.orphans().forEach(o -> restorer.forkOrphan(o.pid(), o.helper(), o.parent()));
        m.deadSessions().forEach((sid, cs) -> restorer.forkInDeadSession(sid, cs, m.deadSessionGroups()));
        m.deadGroups().forEach((g, cs) -> restorer.forkInDeadGroup(g, cs, m.exitSignals()));
        // last: the helpers above end this task's subreaper instant, which these need until ZOMBIES
        m.zombieSessions().forEach((z, cs) -> restorer.forkInZombieSession(z,
                m.exitSignals().getOrDefault(z, dev.cryo.kernel.Signals.SIGCHLD), cs,
                cs.stream().anyMatch(m.children()::contains)));
        if (m.reapsOrphans()) { // before any of its tasks forks: their orphans' helpers exit then
            restorer.reapOrphans();
        }
    }

    private Behavior<Command> running() {
        return Behaviors.receive(Command.class)
                .onMessage(RestoreMemory.class, this::onMemory)
                .onMessage(Kill.class, m -> {
                    restorer.kill();
                    m.replyTo().tell(new Killed(pid));
                    return Behaviors.stopped();
                })
                .onMessage(RegionReply.class, m -> Behaviors.same())
                .onMessage(Command.class, m -> {
                    then(perform(m));
                    return resumed ? Behaviors.stopped() : Behaviors.same();
                })
                .onSignal(PostStop.class, s -> {
                    if (!resumed) {
                        restorer.kill();
                    }
                    return Behaviors.same();
                })
                .build();
    }

    /** The next command (if any) is this thread's next message: no other thread to wake. */
    private void then(Command next) {
        if (next != null) {
            self.tell(next);
        }
    }

    /** The held stub's thread is done with the task (resumed): this actor stops. */
    private record HeldDone() implements Command {}

    /**
     * Every command goes to the thread that holds the stub, in order; a chained {@code then} runs
     * there next, without coming back here (each hop between two threads waits for a CPU under load).
     */
    private Behavior<Command> onHeldThread() {
        return Behaviors.receive(Command.class)
                .onMessage(HeldDone.class, m -> Behaviors.stopped())
                .onMessage(Kill.class, m -> {
                    held.run(() -> {
                        killOnHeldThread();
                        m.replyTo().tell(new Killed(pid));
                    });
                    return Behaviors.stopped();
                })
                .onMessage(Command.class, m -> {
                    held.run(() -> onHeldThread(m));
                    return Behaviors.same();
                })
                .onSignal(PostStop.class, s -> {
                    held.run(this::killOnHeldThread); // nothing half-restored survives
                    held.end();
                    return Behaviors.same();
                })
                .build();
    }

    private void onHeldThread(Command c) {
        if (finished) {
            return; // killed meanwhile
        }
        if (tripsBefore < 0) { // the touches are over once this thread runs a step
            tripsBefore = tracer.roundTrips();
            org.slf4j.MDC.put(dev.cryo.actors.PidMdc.KEY, Integer.toString(pid)); // the task's, as on its actor's thread
            log.debug("pid {}: its stub's thread: {}", pid, held.handOverTimes());
        }
        Command next = c instanceof RestoreMemory m ? memoryOnHeldThread(m) : perform(c);
        if (resumed) {
            finished = true;
            self.tell(new HeldDone());
        } else if (next != null) {
            onHeldThread(next);
        }
    }

    private void killOnHeldThread() {
        if (!finished && !resumed) {
            finished = true;
            restorer.kill();
        }
    }

    /** MEMORY's first step: every area mapped; a lazy restore's areas registered, before any page is written. */
    private void mapMemory(RestoreMemory m) throws java.io.IOException {
        restorer.mapMemory(m.sharedMemory(), m.inherited());
        if (m.lazy() != null) { // before the writers: cryo's own writes may fault there
            dev.cryo.engine.restore.LazyPages.verify(m.imageDir(), m.maxChunk(), m.lazy().slices());
            restorer.lazyPages(m.lazy().server(), m.lazy().areas(), m.lazy().slices());
        }
    }

    /** At most this many pages are written by the task's own thread, not by region restorers. */
    private static final long INLINE_PAGES = 512;

    /** The memory stage on the held stub's thread: as {@link #onMemory}, its page writers plain tasks on their threads. */
    private Command memoryOnHeldThread(RestoreMemory m) {
        long t0 = System.nanoTime();
        try {
            mapMemory(m);
        } catch (Exception e) {
            log.debug("pid {} (memory) failed", pid, e);
            m.replyTo().tell(new Failed(pid, "pid " + pid + " (memory): " + dev.cryo.actors.Failures.describe(e)));
            return null;
        }
        log.debug("pid {}: memory mapped in {} ms, {} page slices to write", pid,
                (System.nanoTime() - t0) / 1_000_000, m.chunks().size());
        List<List<PageSlice>> shares = m.chunks().stream().mapToLong(PageSlice::pages).sum() <= INLINE_PAGES
                ? List.of(m.chunks()) : split(m.chunks(), m.workers());
        List<java.util.concurrent.CompletableFuture<RegionRestorer.Reply>> writes = new ArrayList<>();
        for (int i = 1; i < shares.size(); i++) {
            RegionRestorer.Job job = job(m, shares.get(i));
            writes.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> RegionRestorer.write(job), regions));
        }
        List<RegionRestorer.Reply> replies = new ArrayList<>();
        replies.add(RegionRestorer.write(job(m, shares.get(0)))); // this thread writes a share too
        writes.forEach(w -> replies.add(w.join()));
        long pages = 0;
        for (RegionRestorer.Reply r : replies) {
            if (r instanceof RegionRestorer.Failed f) {
                m.replyTo().tell(new Failed(pid, f.message()));
                return null;
            }
            pages += ((RegionRestorer.Done) r).pages();
        }
        long written = System.nanoTime(), total = pages;
        return ran("memory", m.replyTo(), () -> {
            restorer.protectMemory();
            log.debug("pid {}: pages written at +{} ms, protected at +{} ms", pid,
                    (written - t0) / 1_000_000, (System.nanoTime() - t0) / 1_000_000);
            return total;
        }) ? m.then() : null;
    }

    private RegionRestorer.Job job(RestoreMemory m, List<PageSlice> share) {
        return new RegionRestorer.Job(Pid.of(pid), m.imageDir(), m.maxChunk(), share, m.verified(), m.progress());
    }

    private Behavior<Command> onMemory(RestoreMemory m) {
        long t0 = System.nanoTime();
        try {
            mapMemory(m);
        } catch (Exception e) {
            ctx.getLog().debug("pid {} (memory) failed", pid, e);
            m.replyTo().tell(new Failed(pid, "pid " + pid + " (memory): " + dev.cryo.actors.Failures.describe(e)));
            return Behaviors.same();
        }
        ctx.getLog().debug("pid {}: memory mapped in {} ms, {} page slices to write", pid,
                (System.nanoTime() - t0) / 1_000_000, m.chunks().size());
        if (m.chunks().stream().mapToLong(PageSlice::pages).sum() <= INLINE_PAGES) {
            // a migration's last pages (the rest was placed before the freeze): written here, with no
            // actors to spawn and no messages to wait for in the downtime
            RegionRestorer.Reply r = RegionRestorer.write(job(m, m.chunks()));
            if (r instanceof RegionRestorer.Failed f) {
                m.replyTo().tell(new Failed(pid, f.message()));
                return running();
            }
            return awaitRegions(0, ((RegionRestorer.Done) r).pages(), t0, m);
        }
        List<List<PageSlice>> shares = split(m.chunks(), m.workers());
        ActorRef<RegionRestorer.Reply> adapter = ctx.messageAdapter(RegionRestorer.Reply.class, RegionReply::new);
        for (int i = 0; i < shares.size(); i++) {
            ctx.spawn(RegionRestorer.create(job(m, shares.get(i)), adapter), "region-" + i, REGIONS);
        }
        return awaitRegions(shares.size(), 0, t0, m);
    }

    private Behavior<Command> awaitRegions(int pending, long pages, long t0, RestoreMemory memory) {
        ActorRef<Reply> replyTo = memory.replyTo();
        if (pending == 0) {
            long written = System.nanoTime();
            boolean done = ran("memory", replyTo, () -> {
                restorer.protectMemory();
                ctx.getLog().debug("pid {}: pages written at +{} ms, protected at +{} ms", pid,
                        (written - t0) / 1_000_000, (System.nanoTime() - t0) / 1_000_000);
                return pages;
            });
            if (done) {
                then(memory.then()); // next in this thread's mailbox: no other thread to wake
            }
            return running();
        }
        return Behaviors.receive(Command.class)
                .onMessage(RegionReply.class, m -> {
                    if (m.reply() instanceof RegionRestorer.Failed f) {
                        replyTo.tell(new Failed(pid, f.message()));
                        return running();
                    }
                    return awaitRegions(pending - 1, pages + ((RegionRestorer.Done) m.reply()).pages(), t0, memory);
                })
                .onMessage(Kill.class, m -> {
                    restorer.kill();
                    m.replyTo().tell(new Killed(pid));
                    return Behaviors.stopped();
                })
                .onSignal(PostStop.class, s -> {
                    restorer.kill();
                    return Behaviors.same();
                })
                .build();
    }

    /** Contiguous shares of similar byte size, so each writer walks memory in order. */
    static List<List<PageSlice>> split(List<PageSlice> chunks, int workers) {
        long total = chunks.stream().mapToLong(PageSlice::pages).sum();
        int n = Math.max(1, Math.min(workers, chunks.size()));
        long per = Math.max(1, (total + n - 1) / n);
        List<List<PageSlice>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new ArrayList<>());
        }
        long acc = 0;
        for (PageSlice e : chunks) {
            out.get((int) Math.min(n - 1, acc / per)).add(e);
            acc += e.pages();
        }
        out.removeIf(List::isEmpty);
        return out;
    }
}
