package dev.cryo.actors.restore;

import dev.cryo.actors.restore.TaskRestorerActor.Adopt;
import dev.cryo.actors.restore.TaskRestorerActor.Command;
import dev.cryo.actors.restore.TaskRestorerActor.Failed;
import dev.cryo.actors.restore.TaskRestorerActor.ForkChildren;
import dev.cryo.actors.restore.TaskRestorerActor.Kill;
import dev.cryo.actors.restore.TaskRestorerActor.Killed;
import dev.cryo.actors.restore.TaskRestorerActor.Reply;
import dev.cryo.actors.restore.TaskRestorerActor.RestoreFiles;
import dev.cryo.actors.restore.TaskRestorerActor.RestoreGroups;
import dev.cryo.actors.restore.TaskRestorerActor.RestoreMemory;
import dev.cryo.actors.restore.TaskRestorerActor.RestoreSessions;
import dev.cryo.actors.restore.TaskRestorerActor.RestoreState;
import dev.cryo.actors.restore.TaskRestorerActor.Resume;
import dev.cryo.actors.restore.TaskRestorerActor.StageDone;
import dev.cryo.actors.restore.TaskRestorerActor.Zombify;
import dev.cryo.engine.model.ZombieImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.ZombieRestorer;
import dev.cryo.kernel.ptrace.Tracer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.Set;

/**
 * Restores one zombie of the tree, speaking the task restorers' protocol so the supervisor's
 * barriers treat it like any task: it is adopted after its parent forked it, takes its session
 * and group, and dies in the ZOMBIES stage (its parent's files are in place, its state and
 * resume still to come); the other stages have nothing to do. Runs on a pinned thread: the
 * zombie-to-be's ptrace thread.
 */
final class ZombieRestorerActor {
    private ZombieRestorerActor() {}

    static Behavior<Command> create(ZombieImage zombie, BootstrapArea boot, Set<Integer> treePids) {
        return Behaviors.setup(ctx -> {
            ZombieRestorer restorer = new ZombieRestorer(new Tracer(), zombie, boot, treePids);
            int pid = zombie.pid();
            return Behaviors.receive(Command.class)
                    .onMessage(Adopt.class, m -> step(pid, "adopt", m.replyTo(), restorer::adopt))
                    .onMessage(TaskRestorerActor.InTask.class, m -> {
                        m.run(restorer.remote());
                        return Behaviors.same();
                    })
                    .onMessage(ForkChildren.class, m -> step(pid, "fork", m.replyTo(), () -> { }))
                    .onMessage(RestoreMemory.class, m -> step(pid, "memory", m.replyTo(), () -> { }))
                    .onMessage(RestoreFiles.class, m -> step(pid, "files", m.replyTo(), () -> { }))
                    .onMessage(RestoreSessions.class, m -> step(pid, "sessions", m.replyTo(),
                            restorer::leadSessionAndGroup))
                    .onMessage(RestoreGroups.class, m -> step(pid, "groups", m.replyTo(), restorer::joinGroup))
                    .onMessage(Zombify.class, m -> step(pid, "zombies", m.replyTo(), restorer::die))
                    .onMessage(RestoreState.class, m -> step(pid, "state", m.replyTo(), () -> { }))
                    .onMessage(Resume.class, m -> {
                        m.replyTo().tell(new StageDone(pid, "resume", 0, 0));
                        return Behaviors.stopped();
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
        });
    }

    private static Behavior<Command> step(int pid, String name, ActorRef<Reply> replyTo, Runnable work) {
        long t0 = System.nanoTime();
        try {
            work.run();
            replyTo.tell(new StageDone(pid, name, 0, System.nanoTime() - t0));
        } catch (RuntimeException e) {
            String m = e.getMessage() == null ? e.toString() : e.getMessage();
            replyTo.tell(new Failed(pid, m.contains("pid " + pid) ? m : "zombie pid " + pid + " (" + name + "): " + m));
        }
        return Behaviors.same();
    }
}
