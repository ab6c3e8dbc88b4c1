package dev.cryo.actors.cluster;

import dev.cryo.actors.cluster.AgentProtocol.Abandon;
import dev.cryo.actors.cluster.AgentProtocol.Migrate;
import dev.cryo.actors.cluster.AgentProtocol.MigrateResult;
import dev.cryo.actors.cluster.AgentProtocol.PrepareReceive;
import dev.cryo.actors.cluster.AgentProtocol.ReceiveStatus;
import dev.cryo.actors.dump.DumpSupervisor;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.config.CryoSettings;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.StreamImageSink;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.kernel.Pid;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

import javax.net.ssl.SSLContext;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One migration, on the source agent: find the destination agent, have it get ready, dump the tree
 * into the page channel (pre-copy rounds while it runs, then frozen), and hold it frozen until the
 * destination reports it running there; only then is the source killed. Any failure before that —
 * destination gone or unreachable, link cut, restore failed, timeout — resumes the source exactly as
 * it was and tells the destination to kill whatever it created.
 */
final class Migration {
    interface Command {}

    private record Found(Receptionist.Listing listing) implements Command {}

    private record Status(ReceiveStatus status) implements Command {}

    private record Dump(DumpSupervisor.Outcome outcome) implements Command {}

    /** The destination's "running", on the page channel's back direction (before Artery's, as a rule). */
    private record ChannelRunning(PageChannel.Running running) implements Command {}

    private record DestinationGone() implements Command {}

    private record Ignored() implements Command {}

    private record Timeout(String what) implements Command {}

    /** Time to ask the receptionist again for an agent it did not list. */
    private record LookAgain() implements Command {}

    /** How the dump's image sink names the page channel in its failures. */
    private static final String CHANNEL = "the page channel";

    /** One deadline at a time: each step's replaces the previous one's. */
    private static final String TIMER = "deadline";

    /** What a migration needs from its agent. */
    record Deps(CryoSettings settings, SSLContext tls, ImageOptions imageOptions, Duration timeout) {}

    static Behavior<Command> create(Migrate request, Deps deps) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Migration(ctx, timers, request, deps).start()));
    }

    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    private final Migrate request;
    private final Deps deps;
    private final String id = UUID.randomUUID().toString();
    private final long started = System.nanoTime();
    private final ActorRef<ReceiveStatus> statusAdapter;
    private final ActorRef<DumpSupervisor.Outcome> dumpAdapter;
    private ActorRef<AgentProtocol.Command> destination;
    private PageChannel.Sender sender;
    private String destinationFailure;
    /** "Running" heard before the dump said Held (the two come from different hosts: any order). */
    private PageChannel.Running earlyRunning;
    /** The destination was looked up and not listed yet: the lookup's deadline then says so. */
    private boolean unlisted;

    private Migration(ActorContext<Command> ctx, TimerScheduler<Command> timers, Migrate request, Deps deps) {
        this.ctx = ctx;
        this.timers = timers;
        this.request = request;
        this.deps = deps;
        this.statusAdapter = ctx.messageAdapter(ReceiveStatus.class, Status::new);
        this.dumpAdapter = ctx.messageAdapter(DumpSupervisor.Outcome.class, Dump::new);
    }

    /**
     * An agent that has just joined is listed here only once its registration has spread to this member (the
     * receptionist's gossip: seconds at load 30, after the member was up): one not listed is asked for again
     * until the lookup's deadline. Before, the migration failed at once ("no agent named b in the cluster" right
     * after b had joined, MigrationOfServicesTest at load 30-36).
     */
    private Behavior<Command> start() {
        lookUp();
        String none = "no agent named " + request.to() + " in the cluster (see `cryo agents`)";
        timers.startSingleTimer(TIMER, new Timeout("looking up agent " + request.to()), Duration.ofSeconds(10));
        return Behaviors.receive(Command.class)
                .onMessage(Found.class, m -> {
                    var agents = m.listing().getServiceInstances(Agent.named(request.to()));
                    if (agents.isEmpty()) {
                        unlisted = true;
                        timers.startSingleTimer(LOOK_AGAIN, new LookAgain(), Duration.ofMillis(250));
                        return Behaviors.same();
                    }
                    destination = agents.iterator().next();
                    ctx.watchWith(destination, new DestinationGone());
                    // a watched member only "terminates" once removed; unreachable is reason enough to stop here
                    Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(ctx.messageAdapter(
                            ClusterEvent.UnreachableMember.class, u -> u.member().address().equals(destination.path().address())
                                    ? new DestinationGone() : new Ignored()), ClusterEvent.UnreachableMember.class));
                    destination.tell(new PrepareReceive(id, statusAdapter));
                    timers.startSingleTimer(TIMER, new Timeout("waiting for agent " + request.to() + " to get ready"),
                            Duration.ofSeconds(30));
                    return preparing();
                })
                .onMessage(LookAgain.class, m -> {
                    lookUp();
                    return Behaviors.same();
                })
                .onMessage(Timeout.class, m -> fail(unlisted ? none : "timed out " + m.what()))
                .onMessage(Ignored.class, m -> Behaviors.same())
                .build();
    }

    private static final String LOOK_AGAIN = "look-again";

    private void lookUp() {
        ctx.getSystem().receptionist().tell(Receptionist.find(Agent.named(request.to()),
                ctx.messageAdapter(Receptionist.Listing.class, Found::new)));
    }

    private Behavior<Command> preparing() {
        return Behaviors.receive(Command.class)
                .onMessage(Status.class, m -> {
                    ReceiveStatus s = m.status();
                    if (!s.state().equals("ready")) {
                        return fail("agent " + request.to() + ": " + s.message());
                    }
                    var there = dev.cryo.engine.HostProfile.decode(s.message());
                    if (there == null) {
                        return abandon("agent " + request.to() + " did not describe its host (CPU, kernel), so the tree"
                                + " could not be checked to run there; not migrating");
                    }
                    var mismatches = dev.cryo.engine.HostProfile.local().mismatches(there, "agent " + request.to());
                    if (!mismatches.isEmpty()) {
                        return abandon("the tree cannot run on agent " + request.to() + "'s host: "
                                + String.join("; ", mismatches) + "; it was left running here");
                    }
                    try {
                        sender = PageChannel.connect(ctx.getSystem(), deps.tls(), s.dataHost(), s.dataPort(), id,
                                Duration.ofSeconds(30), deps.settings().cluster().ioTimeout());
                    } catch (Exception e) {
                        return abandon("cannot open the page channel to " + s.dataHost() + ":" + s.dataPort() + ": "
                                + e.getMessage());
                    }
                    ActorRef<Command> self = ctx.getSelf();
                    sender.onRunning(r -> self.tell(new ChannelRunning(r)));
                    String where = CHANNEL + " to " + request.to() + " (" + s.dataHost() + ":" + s.dataPort() + ")";
                    // with --tcp-established the destination takes the connections' lock over, and the dump lifts
                    // this host's once the tree runs there (SocketDumpState, HeldConnections)
                    DumpRequest dump = new DumpRequest(Pid.of(request.pid()), Path.of("migration-" + id), false, false,
                            new DumpProgress(), request.preCopy(), new dev.cryo.engine.files.SocketDumpState.Options(
                                    request.tcpEstablished(), false, false));
                    PageChannel.Sender out = sender;
                    ctx.spawn(DumpSupervisor.create(dump, settings(),
                            dir -> new StreamImageSink(out.channel(), where, ModelCodecs.ALL, deps.imageOptions(),
                                    out.delivery()),
                            true, dumpAdapter), "dump");
                    timers.startSingleTimer(TIMER, new Timeout("migrating"), deps.timeout());
                    return dumping();
                })
                .onMessage(DestinationGone.class, m -> fail("agent " + request.to() + " left before the migration started"))
                .onMessage(Timeout.class, m -> abandon("timed out " + m.what()))
                .onMessage(Ignored.class, m -> Behaviors.same())
                .build();
    }

    /** The dump runs into the channel; a destination failure cuts the channel, which makes the dump resume the tree. */
    private Behavior<Command> dumping() {
        return Behaviors.receive(Command.class)
                .onMessage(Dump.class, m -> {
                    if (m.outcome() instanceof DumpSupervisor.Held h) {
                        return earlyRunning != null ? running(h, System.nanoTime(), earlyRunning, "heard before the dump ended")
                                : held(h, System.nanoTime());
                    }
                    String why = m.outcome() instanceof DumpSupervisor.Failed f ? f.message() : "unexpected " + m.outcome();
                    // the destination's failure is the cause when it made the dump fail on the channel; a dump that
                    // failed by itself (a refusal) cuts the stream, and the destination then reports it truncated
                    return abandon(destinationFailure != null && why.contains(CHANNEL) ? destinationFailure
                            + " (the source was resumed)" : "the dump failed, the source was resumed: " + why);
                })
                .onMessage(Status.class, m -> {
                    if (m.status().state().equals("failed")) {
                        destinationFailure = "agent " + request.to() + ": " + m.status().message();
                        sender.cut();
                    } else if (m.status().state().equals("running") && earlyRunning == null) {
                        earlyRunning = new PageChannel.Running(m.status().restoreMillis(), m.status().pids());
                    }
                    return Behaviors.same();
                })
                .onMessage(ChannelRunning.class, m -> {
                    earlyRunning = m.running();
                    return Behaviors.same();
                })
                .onMessage(DestinationGone.class, m -> {
                    destinationFailure = "agent " + request.to() + " left or became unreachable during the transfer";
                    sender.cut();
                    return Behaviors.same();
                })
                .onMessage(Timeout.class, m -> {
                    destinationFailure = "timed out " + m.what();
                    sender.cut();
                    return Behaviors.same();
                })
                .onMessage(Ignored.class, m -> Behaviors.same())
                .build();
    }

    /** Two-phase handover: the source is frozen and complete on the wire; kill it only once the copy runs. */
    private Behavior<Command> held(DumpSupervisor.Held h, long heldAt) {
        ctx.getLog().debug("migration {}: image sent, source frozen for {} ms so far, waiting for {} (at {} ms since the epoch)", id,
                h.report().stats().frozenMillis(), request.to(), System.currentTimeMillis());
        return Behaviors.receive(Command.class)
                .onMessage(ChannelRunning.class, m -> running(h, heldAt, m.running(), "on the page channel"))
                .onMessage(Status.class, m -> {
                    ReceiveStatus s = m.status();
                    if (s.state().equals("running")) {
                        return running(h, heldAt, new PageChannel.Running(s.restoreMillis(), s.pids()), "through Artery");
                    }
                    if (s.state().equals("failed")) {
                        return finish(h, false, "agent " + request.to() + ": " + s.message(), 0, List.of());
                    }
                    return Behaviors.same();
                })
                .onMessage(DestinationGone.class, m -> finish(h, false,
                        "agent " + request.to() + " left or became unreachable before the tree ran there", 0, List.of()))
                .onMessage(Timeout.class, m -> finish(h, false, "timed out " + m.what(), 0, List.of()))
                .onMessage(Dump.class, m -> Behaviors.same())
                .onMessage(Ignored.class, m -> Behaviors.same())
                .build();
    }

    /** The copy runs on the destination: the source is killed. */
    private Behavior<Command> running(DumpSupervisor.Held h, long heldAt, PageChannel.Running r, String how) {
        ctx.getLog().debug("migration {}: {} reports the tree running {} ms after the image was sent, {} "
                + "(its restore took {} ms of them; heard at {} ms since the epoch)", id, request.to(),
                (System.nanoTime() - heldAt) / 1_000_000, how, r.restoreMillis(), System.currentTimeMillis());
        long downtime = h.report().stats().frozenMillis() + (System.nanoTime() - heldAt) / 1_000_000;
        restoreMillis = r.restoreMillis();
        return finish(h, true, null, downtime, r.pids());
    }

    private Behavior<Command> finish(DumpSupervisor.Held h, boolean kill, String failure, long downtime, List<Integer> pids) {
        timers.cancelAll();
        h.supervisor().tell(new DumpSupervisor.Finish(kill, dumpAdapter));
        if (!kill && destination != null) {
            destination.tell(new Abandon(id));
        }
        timers.startSingleTimer(TIMER, new Timeout("releasing the source"), Duration.ofSeconds(60));
        return Behaviors.receive(Command.class)
                .onMessage(Dump.class, m -> {
                    if (failure != null) {
                        ctx.getLog().info("migration of pid {} to {} failed: {}", request.pid(), request.to(), failure);
                        String resumed = m.outcome() instanceof DumpSupervisor.Succeeded ? "the source was resumed"
                                : "resuming the source failed: " + ((DumpSupervisor.Failed) m.outcome()).message();
                        request.replyTo().tell(result(false, failure + " (" + resumed + ")", h.report(), 0, List.of()));
                    } else if (m.outcome() instanceof DumpSupervisor.Succeeded) {
                        ctx.getLog().info("migration of pid {} to {} done, downtime {} ms (frozen until sent {} ms, restore there {} ms)",
                                request.pid(), request.to(), downtime, h.report().stats().frozenMillis(), restoreMillis);
                        // what the pre-copy did to converge (the throttle, the estimate), beside the figures
                        request.replyTo().tell(result(true, String.join("\n", h.report().notes()), h.report(), downtime, pids));
                    } else {
                        request.replyTo().tell(result(true, "the tree runs on " + request.to()
                                + ", but killing the source failed: " + ((DumpSupervisor.Failed) m.outcome()).message(),
                                h.report(), downtime, pids));
                    }
                    return Behaviors.stopped();
                })
                .onMessage(Timeout.class, m -> {
                    request.replyTo().tell(result(false, failure == null ? "timed out killing the source"
                            : failure + " (and resuming the source timed out)", h.report(), 0, List.of()));
                    return Behaviors.stopped();
                })
                .onAnyMessage(m -> Behaviors.same())
                .build();
    }

    private long restoreMillis; // the destination's, from the last chunk in to the tree running

    /** The agent's settings, with the request's bound on the frozen round when it gives one. */
    private CryoSettings settings() {
        CryoSettings s = deps.settings();
        if (request.maxDowntimeMillis() < 0) {
            return s;
        }
        return new CryoSettings(s.imagesDir(), s.parallelism(), s.image(), s.buffers(), s.dump(), s.restore(), s.log(),
                s.cluster(), s.preCopy().withMaxDowntime(Duration.ofMillis(request.maxDowntimeMillis())));
    }

    private MigrateResult result(boolean ok, String message, DumpReport r, long downtime, List<Integer> pids) {
        List<Long> rounds = new ArrayList<>();
        for (long p : r.roundPages().isEmpty() ? List.of(r.stats().pagesWritten()) : r.roundPages()) {
            rounds.add(p * 4096);
        }
        List<Long> zeros = r.roundPages().isEmpty() ? List.of(r.stats().zeroPages() + r.stats().filledPages())
                : r.roundZeroPages();
        return new MigrateResult(ok, message, rounds, downtime, (System.nanoTime() - started) / 1_000_000,
                r.stats().imageBytes(), pids, r.stats().frozenMillis(), restoreMillis, zeros);
    }

    private Behavior<Command> abandon(String reason) {
        if (destination != null) {
            destination.tell(new Abandon(id));
        }
        if (sender != null) {
            sender.cut();
        }
        return fail(reason);
    }

    private Behavior<Command> fail(String reason) {
        ctx.getLog().info("migration of pid {} to {} failed: {}", request.pid(), request.to(), reason);
        request.replyTo().tell(new MigrateResult(false, reason, List.of(), 0, (System.nanoTime() - started) / 1_000_000,
                0, List.of(), 0, 0, List.of()));
        return Behaviors.stopped();
    }
}
