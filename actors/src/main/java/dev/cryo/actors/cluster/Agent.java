package dev.cryo.actors.cluster;

import dev.cryo.actors.cluster.AgentProtocol.*;
import dev.cryo.actors.dump.DumpSupervisor;
import dev.cryo.actors.restore.RestoreSupervisor;
import dev.cryo.api.DumpRequest;
import dev.cryo.engine.restore.ArrivingMemory;
import dev.cryo.api.RestoreRequest;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A cluster node's agent (the guardian of {@code cryo agent}): registered with the Receptionist
 * under the agents' key and under its own name, it logs members joining and leaving, answers
 * {@code cryo agents}, runs migrations away from this host ({@link Migration}) and receives
 * migrations to it: an incoming image is staged in a private directory, restored as soon as its
 * last chunk is in, and the source told "running" — or "failed", with everything created killed.
 */
public final class Agent {
    public static final ServiceKey<AgentProtocol.Command> AGENTS = ServiceKey.create(AgentProtocol.Command.class, "cryo-agent");

    static ServiceKey<AgentProtocol.Command> named(String name) {
        return ServiceKey.create(AgentProtocol.Command.class, "cryo-agent:" + name);
    }

    private record MemberChange(ClusterEvent.MemberEvent event) implements AgentProtocol.Command {}

    private record ReachabilityChange(ClusterEvent.ReachabilityEvent event) implements AgentProtocol.Command {}

    record ImageArrived(String id, String failure, long atNanos) implements AgentProtocol.Command {}

    private record Restored(String id, RestoreSupervisor.Outcome outcome) implements AgentProtocol.Command {}

    private record Reap() implements AgentProtocol.Command {}

    /** The local CLI's dump, through {@link LocalAgent} (never from the network). */
    record RunDump(DumpRequest request, ActorRef<DumpSupervisor.Outcome> replyTo) implements AgentProtocol.Command {}

    /** The local CLI that asked for the dump answering to {@code replyTo} went away: the dump is given up. */
    record CancelDump(ActorRef<DumpSupervisor.Outcome> replyTo, String why) implements AgentProtocol.Command {}

    /** The local CLI's detached restore; the restored root becomes this agent's child, reaped here. */
    record RunRestore(RestoreRequest request, ActorRef<RestoreSupervisor.Outcome> replyTo) implements AgentProtocol.Command {}

    private record LocalRestored(RestoreSupervisor.Outcome outcome, ActorRef<RestoreSupervisor.Outcome> replyTo)
            implements AgentProtocol.Command {}

    private record Expire(String id) implements AgentProtocol.Command {}

    /** A restored migration's priority, in case the page channel did not lower it (see Receiver.told). */
    private record Lower(String id) implements AgentProtocol.Command {}

    private record Found(Receptionist.Listing listing, ActorRef<AgentList> replyTo) implements AgentProtocol.Command {}

    /** An image on its way in, staged in its own directory; {@code running}: the page channel's "running" (or null). */
    private record Incoming(Path dir, ActorRef<ReceiveStatus> source, long arrivedNanos, ArrivingMemory memory,
                            java.util.concurrent.CompletableFuture<PageChannel.Running> running) {
        Incoming arrived(long at) {
            return new Incoming(dir, source, at, memory, running);
        }
    }

    public static Behavior<AgentProtocol.Command> create(String name, AgentNode.Parts parts) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Agent(ctx, timers, name, parts).running()));
    }

    private final ActorContext<AgentProtocol.Command> ctx;
    private final TimerScheduler<AgentProtocol.Command> timers;
    private final String name;
    private final AgentNode.Parts parts;
    private final Map<String, Incoming> incoming = new ConcurrentHashMap<>(); // the page channel's threads read it
    /** Migrations whose restore here runs with cryo's threads raised (the source is frozen meanwhile). */
    private final java.util.Set<String> raisedFor = ConcurrentHashMap.newKeySet(); // the page channel's threads add to it
    /** The page channel's receiving thread of each migration, at SCHED_FIFO from the source's freeze until it said "running". */
    private final Map<String, dev.cryo.engine.timing.ThreadLift> channelLifts = new ConcurrentHashMap<>();
    private final Map<String, List<Integer>> restored = new HashMap<>();
    private final List<Integer> roots = new ArrayList<>();
    /** The local CLI's dumps and restores, any number at once. */
    private final ActorRef<dev.cryo.actors.Requests.Command> local;
    private int seq;

    private Agent(ActorContext<AgentProtocol.Command> ctx, TimerScheduler<AgentProtocol.Command> timers, String name,
                  AgentNode.Parts parts) {
        this.ctx = ctx;
        this.timers = timers;
        this.name = name;
        this.parts = parts;
        this.local = ctx.spawn(dev.cryo.actors.Requests.create(), "local");
        ctx.getSystem().receptionist().tell(Receptionist.register(AGENTS, ctx.getSelf()));
        ctx.getSystem().receptionist().tell(Receptionist.register(named(name), ctx.getSelf()));
        Cluster cluster = Cluster.get(ctx.getSystem());
        cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(ClusterEvent.MemberEvent.class, MemberChange::new),
                ClusterEvent.MemberEvent.class));
        cluster.subscriptions().tell(Subscribe.create(
                ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class, ReachabilityChange::new),
                ClusterEvent.ReachabilityEvent.class));
        parts.receiver().set(new PageChannel.Receiver() {
            @Override
            public Path target(String id) {
                Incoming in = incoming.get(id);
                return in == null ? null : in.dir().resolve("image.cryo");
            }

            @Override
            public void received(String id, String failure) {
                ctx.getSelf().tell(new ImageArrived(id, failure, System.nanoTime()));
            }

            @Override
            public ArrivingMemory memory(String id) {
                Incoming in = incoming.get(id);
                return in == null ? null : in.memory();
            }

            @Override
            public java.util.concurrent.CompletableFuture<PageChannel.Running> restored(String id) {
                Incoming in = incoming.get(id);
                return in == null ? null : in.running();
            }

            @Override
            public void told(String id) {
                lowerPriority(id); // the page channel's thread wrote "running" at the raised priority
            }
        });
        timers.startTimerWithFixedDelay(new Reap(), Duration.ofSeconds(1));
        ctx.getLog().info("agent {} up at {}, page channel on {}:{}", name, cluster.selfMember().address(),
                parts.dataHost(), parts.dataPort());
    }

    private Behavior<AgentProtocol.Command> running() {
        return Behaviors.receive(AgentProtocol.Command.class)
                .onMessage(MemberChange.class, m -> logMember(m.event()))
                .onMessage(ReachabilityChange.class, m -> {
                    String what = m.event() instanceof ClusterEvent.UnreachableMember ? "unreachable" : "reachable again";
                    ctx.getLog().info("member {} is {}", m.event().member().address(), what);
                    return Behaviors.same();
                })
                .onMessage(Describe.class, m -> {
                    m.replyTo().tell(description());
                    return Behaviors.same();
                })
                .onMessage(ListAgents.class, m -> {
                    ctx.getSystem().receptionist().tell(Receptionist.find(AGENTS,
                            this.<Receptionist.Listing>oneReply(l -> new Found(l, m.replyTo()))));
                    return Behaviors.same();
                })
                .onMessage(Found.class, this::onFound)
                .onMessage(Migrate.class, m -> {
                    ctx.getLog().info("migration of pid {} to {} requested ({})", m.pid(), m.to(),
                            m.preCopy() ? "pre-copy" : "no pre-copy");
                    ctx.spawn(Migration.create(m, parts.migration()), "migration-" + (++seq));
                    return Behaviors.same();
                })
                .onMessage(RunDump.class, m -> {
                    local.tell(new dev.cryo.actors.Requests.StartDump(m.request(), parts.migration().settings(), m.replyTo()));
                    return Behaviors.same();
                })
                .onMessage(CancelDump.class, m -> {
                    local.tell(new dev.cryo.actors.Requests.CancelDump(m.replyTo(), m.why()));
                    return Behaviors.same();
                })
                .onMessage(RunRestore.class, m -> {
                    local.tell(new dev.cryo.actors.Requests.StartRestore(m.request(), parts.migration().settings(),
                            this.<RestoreSupervisor.Outcome>oneReply(o -> new LocalRestored(o, m.replyTo()))));
                    return Behaviors.same();
                })
                .onMessage(LocalRestored.class, m -> {
                    if (m.outcome() instanceof RestoreSupervisor.Succeeded s) {
                        roots.add(s.report().rootPid());
                    }
                    m.replyTo().tell(m.outcome());
                    return Behaviors.same();
                })
                .onMessage(PrepareReceive.class, this::onPrepare)
                .onMessage(ImageArrived.class, this::onImage)
                .onMessage(Restored.class, this::onRestored)
                .onMessage(Abandon.class, this::onAbandon)
                .onMessage(Expire.class, m -> {
                    Incoming in = incoming.remove(m.id());
                    if (in != null) {
                        ctx.getLog().info("migration {}: no image arrived; dropped", m.id());
                        in.running().complete(null);
                        in.memory().discard();
                        StagingDirs.delete(in.dir());
                    }
                    return Behaviors.same();
                })
                .onMessage(Lower.class, m -> {
                    lowerPriority(m.id());
                    return Behaviors.same();
                })
                .onMessage(Reap.class, m -> {
                    roots.removeIf(Agent::reaped);
                    return Behaviors.same();
                })
                .build();
    }

    /**
     * The reply address of one request: an actor of its own that hands the answer back wrapped. Not
     * a message adapter: Pekko keeps one per message class and actor, so a second restore's adapter
     * replaced the first's and both answers went to the second's caller (the first never heard).
     */
    private <T> ActorRef<T> oneReply(java.util.function.Function<T, AgentProtocol.Command> wrap) {
        ActorRef<AgentProtocol.Command> self = ctx.getSelf();
        return ctx.spawnAnonymous(Behaviors.<T>receiveMessage(o -> {
            self.tell(wrap.apply(o));
            return Behaviors.stopped();
        }));
    }

    private Description description() {
        return new Description(name, Cluster.get(ctx.getSystem()).selfMember().address().toString(), parts.dataHost(),
                parts.dataPort(), parts.lazy().list(name));
    }

    private Behavior<AgentProtocol.Command> logMember(ClusterEvent.MemberEvent e) {
        String what = e instanceof ClusterEvent.MemberUp ? "joined (up)"
                : e instanceof ClusterEvent.MemberLeft ? "is leaving"
                : e instanceof ClusterEvent.MemberExited ? "exited"
                : e instanceof ClusterEvent.MemberRemoved ? "left (removed)"
                : e.member().status().toString().toLowerCase(java.util.Locale.ROOT);
        ctx.getLog().info("member {} {}", e.member().address(), what);
        return Behaviors.same();
    }

    /** Members from the cluster state, named by asking each agent the Receptionist knows. */
    private Behavior<AgentProtocol.Command> onFound(Found m) {
        ctx.spawnAnonymous(AgentQuery.create(m.listing().getServiceInstances(AGENTS), Cluster.get(ctx.getSystem()),
                m.replyTo()));
        return Behaviors.same();
    }

    // ---- receiving a migration -----------------------------------------------------------------

    private Behavior<AgentProtocol.Command> onPrepare(PrepareReceive m) {
        try {
            Path dir = StagingDirs.create(parts.stagingDir(), "in-");
            String id = m.id();
            incoming.put(id, new Incoming(dir, m.replyTo(), 0,
                    new ArrivingMemory("migration " + id, stub -> frozenAtSource(id, stub), pages -> roundIn(id, pages),
                            parts.migration().settings().restore().rtPriority()),
                    new java.util.concurrent.CompletableFuture<>()));
            timers.startSingleTimer("expire-" + m.id(), new Expire(m.id()), parts.migration().timeout());
            // while the rounds run: a container's restore then reads none of its new net namespace's ~220 sysctls
            // that the image holds as a new namespace has them
            dev.cryo.engine.namespaces.FreshNetSysctls.readAhead(parts.migration().timeout());
            ctx.getLog().info("migration {}: receiving into {}", m.id(), dir);
            // the message of "ready" is this host's profile: the source checks it before it freezes anything
            m.replyTo().tell(new ReceiveStatus(m.id(), "ready", dev.cryo.engine.HostProfile.local().encode(),
                    parts.dataHost(), parts.dataPort(), List.of(), 0));
        } catch (IOException e) {
            m.replyTo().tell(new ReceiveStatus(m.id(), "failed", "cannot stage the image: " + e.getMessage(), "", 0,
                    List.of(), 0));
        }
        return Behaviors.same();
    }

    private Behavior<AgentProtocol.Command> onImage(ImageArrived m) {
        Incoming in = incoming.get(m.id());
        if (in == null) {
            lowerPriority(m.id()); // raised as the frozen records came in
            return Behaviors.same(); // abandoned meanwhile
        }
        if (m.failure() != null) {
            return failIncoming(m.id(), m.failure());
        }
        // the source is frozen until the tree runs here: this restore is the downtime's second half
        raiseFor(m.id());
        long t0 = System.nanoTime();
        ArrivedImage arrived;
        try {
            arrived = ArrivedImage.of(in.dir(), in.memory());
            ctx.getLog().debug("migration {}: image arrived {} ms before its message was handled; stub taken in {} ms, contents in {} ms",
                    m.id(), (t0 - m.atNanos()) / 1_000_000, arrived.stubNanos() / 1_000_000, arrived.contentsNanos() / 1_000_000);
        } catch (RuntimeException e) {
            return failIncoming(m.id(), "restore failed: " + e.getMessage());
        }
        ctx.getLog().info("migration {}: image complete and verified, restoring ({} before; {} ms since the last chunk came in)",
                m.id(), arrived.placed(), (System.nanoTime() - m.atNanos()) / 1_000_000);
        incoming.put(m.id(), in.arrived(m.atNanos()));
        ctx.spawn(RestoreSupervisor.create(arrived.request().withHooks(runningOnResume(m.id())), parts.migration().settings(),
                this.<RestoreSupervisor.Outcome>oneReply(o -> new Restored(m.id(), o))), "restore-" + (++seq));
        return Behaviors.same();
    }

    /**
     * The tree runs: "running" goes to the source on the page channel's thread from the restore's
     * supervisor at once, not after its report reached this actor (two hops and the restored-images
     * mark, in the downtime). {@link #onRestored} does the rest; an abandon meanwhile still kills the tree there.
     */
    private dev.cryo.api.StageHooks runningOnResume(String id) {
        return new dev.cryo.api.StageHooks() {
            @Override
            public boolean any() {
                return true;
            }

            @Override
            public void resumed(int root, List<Integer> pids) {
                Incoming in = incoming.get(id);
                if (in != null) {
                    in.running().complete(new PageChannel.Running((System.nanoTime() - in.arrivedNanos()) / 1_000_000, pids));
                }
            }
        };
    }

    private Behavior<AgentProtocol.Command> onRestored(Restored m) {
        Incoming in = incoming.remove(m.id());
        if (m.outcome() instanceof RestoreSupervisor.Succeeded s) {
            if (in == null) { // abandoned while restoring: the source runs on, so this copy must not
                lowerPriority(m.id());
                kill(s.report().pids());
                return Behaviors.same();
            }
            long restoreMillis = (System.nanoTime() - in.arrivedNanos()) / 1_000_000;
            // first: the faster way; the page channel's thread lowers the priority once it has said it (told)
            in.running().complete(new PageChannel.Running(restoreMillis, s.report().pids()));
            timers.startSingleTimer("lower-" + m.id(), new Lower(m.id()), Duration.ofSeconds(5));
            in.source().tell(new ReceiveStatus(m.id(), "running", "", "", 0, s.report().pids(), restoreMillis));
            restored.put(m.id(), s.report().pids());
            roots.add(s.report().rootPid());
            ctx.getLog().info("migration {}: tree running here, root pid {}, {} ms after the last chunk came in (at {} ms since the epoch)",
                    m.id(), s.report().rootPid(), restoreMillis, System.currentTimeMillis());
            in.memory().discard(); // the stub is the restore's: this ends the arrival's hold on ns_last_pid
            StagingDirs.delete(in.dir()); // after the answer: unlinking a big image is no part of the downtime
            return Behaviors.same();
        }
        lowerPriority(m.id());
        String why = ((RestoreSupervisor.Failed) m.outcome()).message();
        if (in != null) {
            incoming.put(m.id(), in);
            return failIncoming(m.id(), "restore failed: " + why);
        }
        return Behaviors.same();
    }

    /**
     * The source froze (the page channel's thread, as the first frozen record came in): the rest of
     * the image, the restore and the stub that becomes the root go first from now on.
     */
    private void frozenAtSource(String id, int stub) {
        raiseFor(id);
        // this thread reads the rest of the image, then waits for the restore to say "running": it goes first
        var lift = dev.cryo.engine.timing.ThreadLift.ofThisThread(parts.migration().settings().restore().rtPriority());
        if (lift != null && channelLifts.putIfAbsent(id, lift) != null) {
            lift.close();
        }
        if (stub != 0) { // a session leader's stub has an autogroup of its own: its injected syscalls wait in it
            dev.cryo.engine.dump.FreezePriority.raiseGroupsOf(List.of(stub));
        }
        FROZEN_LOG.debug("migration {}: the source froze (at {} ms since the epoch); priority raised, stub {}", id,
                System.currentTimeMillis(), stub);
    }

    /**
     * A running round arrived whole: once one is small (cryo.pre-copy.raise-below), the source runs
     * the rounds left raised, and each of them waits for this end's receipt (on the page channel's thread).
     */
    private void roundIn(String id, long pages) {
        if (parts.migration().settings().preCopy().endgame(pages) && incoming.containsKey(id) && !raisedFor.contains(id)) {
            raiseFor(id);
            FROZEN_LOG.debug("migration {}: a round of {} pages in: priority raised for the rounds left", id, pages);
        }
    }

    /** For the page channel's threads: an actor's own log is for its own thread only. */
    private static final org.slf4j.Logger FROZEN_LOG = org.slf4j.LoggerFactory.getLogger(Agent.class);

    private void raiseFor(String id) {
        if (raisedFor.add(id)) {
            dev.cryo.engine.dump.FreezePriority.raise(parts.migration().settings().dump().freezeNice());
        }
    }

    private void lowerPriority(String id) {
        var lift = channelLifts.remove(id);
        if (lift != null) {
            lift.close();
        }
        if (raisedFor.remove(id)) {
            dev.cryo.engine.dump.FreezePriority.lower();
        }
    }

    private Behavior<AgentProtocol.Command> failIncoming(String id, String why) {
        lowerPriority(id);
        Incoming in = incoming.remove(id);
        ctx.getLog().info("migration {}: {}", id, why);
        if (in != null) {
            in.running().complete(null);
            in.memory().discard();
            StagingDirs.delete(in.dir());
            in.source().tell(new ReceiveStatus(id, "failed", why, "", 0, List.of(), 0));
        }
        return Behaviors.same();
    }

    private Behavior<AgentProtocol.Command> onAbandon(Abandon m) {
        Incoming in = incoming.remove(m.id());
        if (in != null) {
            in.running().complete(null);
            in.memory().discard();
            StagingDirs.delete(in.dir());
        }
        List<Integer> pids = restored.remove(m.id());
        if (pids != null) {
            ctx.getLog().info("migration {}: abandoned by the source; killing pids {}", m.id(), pids);
            kill(pids);
        }
        return Behaviors.same();
    }

    private void kill(List<Integer> pids) {
        for (int pid : pids) {
            try {
                Sys.kill(Pid.of(pid), Signals.SIGKILL);
            } catch (KernelException ignored) {
                // gone already
            }
        }
    }

    /**
     * Restored roots are this JVM's children: reaped when they end. Never by wait4: a dump or
     * migration of such a tree traces it from a thread of this JVM, and wait4 here took its stops.
     */
    private static boolean reaped(int pid) {
        try {
            var st = Sys.reapIfExited(pid);
            return st != null && st.gone();
        } catch (KernelException e) {
            return true;
        }
    }
}
