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
     * session this task leads, forked by it for their parent (TaskRestorer.forkSibling).
     */
    public record ForkChildren(List<Integer> children, java.util.Map<Integer, Integer> exitSignals,
                               java.util.Map<Integer, Integer> sharedTables, ActorRef<Reply> replyTo,
                               java.util.Set<Integer> early, java.util.Map<Integer, List<Integer>> deadSessions,
                               java.util.Map<Integer, List<Integer>> deadGroups,
                               java.util.Map<Integer, List<Integer>> zombieSessions,
                               java.util.Map<Integer, Integer> deadSessionGroups, List<Integer> siblings)
            implements Command {
        public ForkChildren(List<Integer> children, java.util.Map<Integer, Integer> exitSignals,
                            java.util.Map<Integer, Integer> sharedTables, ActorRef<Reply> replyTo) {
            this(children, exitSignals, sharedTables, replyTo, java.util.Set.of(), java.util.Map.of(), java.util.Map.of(),
                    java.util.Map.of(), java.util.Map.of(), List.of());
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
                                List<dev.cryo.engine.model.VmaImage> inherited, ActorRef<Reply> replyTo, Command then)
            implements Command {}

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
     */
    public record Resume(boolean stopped, ActorRef<Reply> replyTo, Runnable before) implements Command {
        public Resume(boolean stopped, ActorRef<Reply> replyTo) {
            this(stopped, replyTo, null);
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
        return dev.cryo.actors.PidMdc.of(Command.class, task.pid(), Behaviors.setup(ctx -> {
            TaskRestorerActor a = new TaskRestorerActor(ctx, task, boot, treePids, namespaces);
            if (prepared != null) {
                a.restorer.prepared(prepared);
            }
            return a.running();
        }));
    }

    private final ActorContext<Command> ctx;
    private final int pid;
    private final Tracer tracer = new Tracer(); // created on the pinned thread: the ptrace thread
    private final TaskRestorer restorer;
    private boolean resumed;

    private TaskRestorerActor(ActorContext<Command> ctx, TaskImage task, BootstrapArea boot,
                              java.util.Set<Integer> treePids, dev.cryo.engine.namespaces.TreeNamespaces namespaces) {
        this.ctx = ctx;
        this.pid = task.pid();
        this.restorer = new TaskRestorer(tracer, task, boot, treePids, namespaces);
    }

    private interface Step {
        long run() throws Exception;
    }

    /** Runs one stage on this thread and replies with its outcome. */
    private Behavior<Command> stage(String name, ActorRef<Reply> replyTo, Step step) {
        ran(name, replyTo, step);
        return Behaviors.same();
    }

    /** As {@link #stage}; whether it succeeded. */
    private boolean ran(String name, ActorRef<Reply> replyTo, Step step) {
        long t0 = System.nanoTime();
        // the task's own CPU tells its work from waiting for it (an adopted stub's first return to user
        // mode rebuilds its page tables' shadow in a VM like this machine's: ms per GiB)
        long cpu0 = ctx.getLog().isDebugEnabled() ? dev.cryo.kernel.proc.ProcFs.cpuNanos(dev.cryo.kernel.Pid.of(pid)) : -1;
        try {
            long pages = step.run();
            ctx.getLog().debug("pid {}: {} done in {} µs (the task's own CPU {} µs), {} ptrace round trips so far", pid, name,
                    (System.nanoTime() - t0) / 1000, cpu0 < 0 ? -1 : (dev.cryo.kernel.proc.ProcFs.cpuNanos(dev.cryo.kernel.Pid.of(pid)) - cpu0) / 1000,
                    tracer.roundTrips());
            replyTo.tell(new StageDone(pid, name, pages, System.nanoTime() - t0));
            return true;
        } catch (Exception e) {
            ctx.getLog().debug("pid {} ({}) failed", pid, name, e);
            String m = e.getMessage() == null ? e.toString() : e.getMessage();
            replyTo.tell(new Failed(pid, m.contains("pid " + pid) ? m : "pid " + pid + " (" + name + "): " + m));
            return false;
        }
    }

    private Behavior<Command> running() {
        return Behaviors.receive(Command.class)
                .onMessage(Adopt.class, m -> then(ran("adopt", m.replyTo(), () -> {
                    restorer.adopt(m.mapBootstrap(), m.ptys(), m.deferLead());
                    return 0;
                }), m.then()))
                .onMessage(ForkChildren.class, m -> stage("fork", m.replyTo(), () -> {
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
                    m.deadSessions().forEach((sid, cs) -> restorer.forkInDeadSession(sid, cs, m.deadSessionGroups()));
                    m.deadGroups().forEach((g, cs) -> restorer.forkInDeadGroup(g, cs, m.exitSignals()));
                    // last: the helpers above end this task's subreaper instant, which these need until ZOMBIES
                    m.zombieSessions().forEach((z, cs) -> restorer.forkInZombieSession(z,
                            m.exitSignals().getOrDefault(z, dev.cryo.kernel.Signals.SIGCHLD), cs,
                            cs.stream().anyMatch(m.children()::contains)));
                    return 0;
                }))
                .onMessage(RestoreMemory.class, this::onMemory)
                .onMessage(InTask.class, m -> {
                    m.run(restorer.remote());
                    return Behaviors.same();
                })
                .onMessage(RestoreFiles.class, m -> stage("files", m.replyTo(), () -> {
                    restorer.restoreFiles(m.hubs(), m.pass());
                    return 0;
                }))
                .onMessage(RestoreAlone.class, m -> then(ran("files to state", m.replyTo(), () -> {
                    for (FileRestore.Pass pass : FileRestore.Pass.values()) {
                        restorer.restoreFiles(m.hubs(), pass);
                    }
                    m.afterFiles().run();
                    restorer.leadSessionAndGroup();
                    restorer.joinGroup();
                    restorer.restoreState();
                    return 0;
                }), m.then()))
                .onMessage(RestoreSessions.class, m -> stage("sessions", m.replyTo(), () -> {
                    restorer.leadSessionAndGroup();
                    return 0;
                }))
                .onMessage(RestoreGroups.class, m -> stage("groups", m.replyTo(), () -> {
                    restorer.joinGroup();
                    return 0;
                }))
                .onMessage(Zombify.class, m -> stage("zombies", m.replyTo(), () -> 0))
                .onMessage(RestoreState.class, m -> stage("state", m.replyTo(), () -> {
                    restorer.restoreState();
                    return 0;
                }))
                .onMessage(Resume.class, m -> {
                    if (m.before() != null) {
                        try {
                            m.before().run();
                        } catch (RuntimeException e) { // the supervisor's own failure, as it would say it
                            m.replyTo().tell(new Failed(pid, dev.cryo.actors.Failures.describe(e)));
                            return Behaviors.same();
                        }
                    }
                    Behavior<Command> b = stage("resume", m.replyTo(), () -> {
                        restorer.resume(m.stopped());
                        resumed = true;
                        return 0;
                    });
                    return resumed ? Behaviors.stopped() : b;
                })
                .onMessage(Kill.class, m -> {
                    restorer.kill();
                    m.replyTo().tell(new Killed(pid));
                    return Behaviors.stopped();
                })
                .onMessage(RegionReply.class, m -> Behaviors.same())
                .onSignal(PostStop.class, s -> {
                    if (!resumed) {
                        restorer.kill();
                    }
                    return Behaviors.same();
                })
                .build();
    }

    /** After a stage that succeeded, {@code next} (if any) is this thread's next message: no other thread to wake. */
    private Behavior<Command> then(boolean done, Command next) {
        if (done && next != null) {
            ctx.getSelf().tell(next);
        }
        return Behaviors.same();
    }

    /** At most this many pages are written by the task's own thread, not by region restorers. */
    private static final long INLINE_PAGES = 512;

    private Behavior<Command> onMemory(RestoreMemory m) {
        long t0 = System.nanoTime();
        try {
            restorer.mapMemory(m.sharedMemory(), m.inherited());
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
            RegionRestorer.Reply r = RegionRestorer.write(new RegionRestorer.Job(Pid.of(pid), m.imageDir(), m.maxChunk(),
                    m.chunks(), m.verified(), m.progress()));
            if (r instanceof RegionRestorer.Failed f) {
                m.replyTo().tell(new Failed(pid, f.message()));
                return running();
            }
            return awaitRegions(0, ((RegionRestorer.Done) r).pages(), t0, m);
        }
        List<List<PageSlice>> shares = split(m.chunks(), m.workers());
        ActorRef<RegionRestorer.Reply> adapter = ctx.messageAdapter(RegionRestorer.Reply.class, RegionReply::new);
        for (int i = 0; i < shares.size(); i++) {
            ctx.spawn(RegionRestorer.create(new RegionRestorer.Job(Pid.of(pid), m.imageDir(), m.maxChunk(), shares.get(i),
                            m.verified(), m.progress()),
                    adapter), "region-" + i, REGIONS);
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
            if (done && memory.then() != null) {
                ctx.getSelf().tell(memory.then()); // next in this thread's mailbox: no other thread to wake
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
