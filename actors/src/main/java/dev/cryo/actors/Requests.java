package dev.cryo.actors;

import dev.cryo.actors.dump.DumpSupervisor;
import dev.cryo.actors.restore.RestoreSupervisor;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoSettings;
import dev.cryo.engine.dump.DumpLock;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.model.codec.ModelCodecs;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.HashMap;
import java.util.Map;

/**
 * Runs the dumps and restores asked of one actor system — the library's (as its guardian) and a
 * cluster agent's (the local CLI's requests, as a child of its agent) — any number at once. Each
 * request gets an actor of its own that spawns its supervisor, holds the dump's tree lock, and
 * hands the supervisor's one answer to that request's caller and no other (Pekko's message adapters
 * are one per message class and actor: a second request's adapter replaced the first's, whose
 * caller never heard back). A supervisor that stops without an answer (a bug) fails its request at
 * once instead of at the caller's timeout.
 */
public final class Requests {
    private Requests() {}

    /** Supervisors block (/proc walks, checksum passes, wait4): never on the default dispatcher. */
    public static final DispatcherSelector SUPERVISOR = DispatcherSelector.fromConfig("cryo-dispatchers.supervisor");

    public sealed interface Command {}

    public record StartDump(DumpRequest request, CryoSettings settings, ActorRef<DumpSupervisor.Outcome> replyTo)
            implements Command {}

    /** Gives up every dump that has not begun committing its image (see {@link DumpSupervisor.Cancel}). */
    public record CancelDumps(String why) implements Command {}

    /** Gives up the dump whose caller is {@code replyTo} (that caller went away). */
    public record CancelDump(ActorRef<DumpSupervisor.Outcome> replyTo, String why) implements Command {}

    public record StartRestore(RestoreRequest request, CryoSettings settings,
                               ActorRef<RestoreSupervisor.Outcome> replyTo) implements Command {}

    private record DumpEnded(ActorRef<DumpSupervisor.Outcome> replyTo) implements Command {}

    /** A request actor's own messages besides the outcome it relays; {@code attempt}: whose supervisor. */
    private record SupervisorStopped(int attempt) {}

    /**
     * How many times a dump is tried on one request when a task of the tree dies while it runs (a
     * supervisor killing a worker during a checkpoint): each try after the first dumps the tree as it is
     * after the death. A tree losing a task in every try fails with the last try's reason.
     */
    public static final int DUMP_TRIES = 3;

    private record Cancel(String why) {}

    public static Behavior<Command> create() {
        return Behaviors.setup(ctx -> {
            int[] seq = {0};
            Map<ActorRef<DumpSupervisor.Outcome>, ActorRef<Object>> dumps = new HashMap<>();
            return Behaviors.receive(Command.class)
                    .onMessage(StartDump.class, m -> {
                        DumpLock lock;
                        try {
                            lock = DumpLock.acquire(m.request().pid());
                        } catch (dev.cryo.engine.DumpException e) {
                            m.replyTo().tell(new DumpSupervisor.Failed(e.getMessage()));
                            return Behaviors.same();
                        }
                        ActorRef<Object> d = ctx.spawn(dump(m, lock), "dump-" + m.request().pid() + "-" + (++seq[0]),
                                SUPERVISOR); // it walks the tree before each try
                        dumps.put(m.replyTo(), d);
                        ctx.watchWith(d, new DumpEnded(m.replyTo()));
                        return Behaviors.same();
                    })
                    .onMessage(DumpEnded.class, m -> {
                        dumps.remove(m.replyTo());
                        return Behaviors.same();
                    })
                    .onMessage(CancelDumps.class, m -> {
                        dumps.values().forEach(d -> d.tell(new Cancel(m.why())));
                        return Behaviors.same();
                    })
                    .onMessage(CancelDump.class, m -> {
                        ActorRef<Object> d = dumps.get(m.replyTo());
                        if (d != null) {
                            d.tell(new Cancel(m.why()));
                        }
                        return Behaviors.same();
                    })
                    .onMessage(StartRestore.class, m -> {
                        ctx.spawn(restore(m), "restore-" + (++seq[0]));
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    /**
     * One dump: its supervisor as a child, the tree's lock until the outcome (it goes before the
     * caller hears it, so a caller that dumps the same tree again right away is not refused by its
     * own finished dump) or until the supervisor stops. A dump that failed because a task of the tree
     * died while it ran, or because a queue the tree reads filled while it was frozen (UnreadQueues), is
     * tried again, up to {@link #DUMP_TRIES} times (not a pre-copy nor one with hooks, which the caller
     * drives): the failed try has let the tree go and committed nothing.
     */
    private static Behavior<Object> dump(StartDump m, DumpLock lock) {
        return Behaviors.setup(ctx -> dumpTry(ctx, m, lock, 1));
    }

    private static Behavior<Object> dumpTry(org.apache.pekko.actor.typed.javadsl.ActorContext<Object> ctx, StartDump m,
                                            DumpLock lock, int attempt) {
        boolean again = attempt < DUMP_TRIES && !m.request().preCopy() && !m.request().hooks().any();
        dev.cryo.engine.dump.TreeDeaths tree = again ? dev.cryo.engine.dump.TreeDeaths.of(m.request().pid()) : null;
        ActorRef<DumpSupervisor.Command> sup = ctx.spawn(DumpSupervisor.create(m.request(), m.settings(),
                dir -> ImageWriter.create(dir, ModelCodecs.ALL, dev.cryo.api.Cryo.imageOptions(m.settings().image())),
                ctx.getSelf().narrow()), attempt == 1 ? "supervisor" : "supervisor-" + attempt, SUPERVISOR);
        ctx.watchWith(sup, new SupervisorStopped(attempt));
        boolean[] held = {false};
        return Behaviors.receive(Object.class)
                .onMessage(DumpSupervisor.Held.class, o -> {
                    held[0] = true; // the caller finishes it and hears the rest itself
                    m.replyTo().tell(o);
                    return Behaviors.same();
                })
                .onMessage(DumpSupervisor.Outcome.class, o -> {
                    if (o instanceof DumpSupervisor.Failed f && tree != null && !held[0]
                            && m.request().imageDir() != null && !java.nio.file.Files.exists(m.request().imageDir().resolve(
                                    dev.cryo.engine.image.ImageFormat.IMAGE_FILE))) { // never over a committed image
                        if (f.message().contains(dev.cryo.engine.files.UnreadQueues.CAME_WHILE_FROZEN)) {
                            ctx.getLog().warn("the dump of pid {} failed: {}; dumping it again, try {} of {}",
                                    m.request().pid(), f.message(), attempt + 1, DUMP_TRIES);
                            ctx.unwatch(sup);
                            return dumpTry(ctx, m, lock, attempt + 1);
                        }
                        java.util.List<Integer> died = tree.diedAndNamedIn(f.message());
                        if (!died.isEmpty()) {
                            ctx.getLog().warn("pid {} died while the tree of pid {} was dumped ({}); dumping the tree"
                                    + " as it is now, try {} of {}", died.get(0), m.request().pid(), f.message(),
                                    attempt + 1, DUMP_TRIES);
                            ctx.unwatch(sup);
                            return dumpTry(ctx, m, lock, attempt + 1);
                        }
                    }
                    lock.close();
                    m.replyTo().tell(o);
                    return Behaviors.stopped();
                })
                .onMessage(Cancel.class, c -> {
                    sup.tell(new DumpSupervisor.Cancel(c.why()));
                    return Behaviors.same();
                })
                .onMessage(SupervisorStopped.class, s -> {
                    if (s.attempt() != attempt) {
                        return Behaviors.same(); // an earlier try's, which failed and was tried again
                    }
                    lock.close();
                    if (held[0]) {
                        return Behaviors.stopped();
                    }
                    m.replyTo().tell(new DumpSupervisor.Failed("the dump of pid " + m.request().pid()
                            + " stopped without an outcome (a bug; the log says more)"));
                    return Behaviors.stopped();
                })
                .build();
    }

    /**
     * How many times a restore is tried on one request when another process of the host took a pid that a
     * task inside a user namespace forks through ns_last_pid (a pid namespace's init cannot be forked again
     * in the namespace it got): the failed try left nothing behind, and the next most likely gets the pid.
     */
    public static final int RESTORE_TRIES = 3;

    /** One restore: its supervisor as a child, its outcome to this request's caller. */
    private static Behavior<Object> restore(StartRestore m) {
        return Behaviors.setup(ctx -> restoreTry(ctx, m, 1));
    }

    private static Behavior<Object> restoreTry(org.apache.pekko.actor.typed.javadsl.ActorContext<Object> ctx,
                                               StartRestore m, int attempt) {
        ActorRef<RestoreSupervisor.Command> sup = ctx.spawn(RestoreSupervisor.create(m.request(), m.settings(),
                ctx.getSelf().narrow()), attempt == 1 ? "supervisor" : "supervisor-" + attempt, SUPERVISOR);
        ctx.watchWith(sup, new SupervisorStopped(attempt));
        return Behaviors.receive(Object.class)
                .onMessage(RestoreSupervisor.Outcome.class, o -> {
                    if (o instanceof RestoreSupervisor.Failed f && attempt < RESTORE_TRIES && !m.request().hooks().any()
                            && f.message().contains(dev.cryo.engine.restore.stage.NsLastPidFork.TAKEN_BY_THE_HOST)) {
                        ctx.getLog().warn("the restore of {} failed: {}; restoring it again, try {} of {}",
                                m.request().imageDir(), f.message(), attempt + 1, RESTORE_TRIES);
                        ctx.unwatch(sup);
                        return restoreTry(ctx, m, attempt + 1);
                    }
                    m.replyTo().tell(o);
                    return Behaviors.stopped();
                })
                .onMessage(SupervisorStopped.class, s -> {
                    if (s.attempt() != attempt) {
                        return Behaviors.same(); // an earlier try's, which failed and was tried again
                    }
                    m.replyTo().tell(new RestoreSupervisor.Failed("the restore of " + m.request().imageDir()
                            + " stopped without an outcome (a bug; the log says more)"));
                    return Behaviors.stopped();
                })
                .build();
    }
}
