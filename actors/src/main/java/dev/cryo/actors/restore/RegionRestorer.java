package dev.cryo.actors.restore;

import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.restore.PageSlice;
import dev.cryo.engine.restore.PageWriter;
import dev.cryo.kernel.Pid;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.nio.file.Path;
import java.util.List;

/**
 * Writes a share of one task's page chunks into it (read from the image, CRC-checked, copied with
 * process_vm_writev). Runs on the blocking region dispatcher with a reader of its own.
 */
public final class RegionRestorer {
    public sealed interface Command {}

    private record Run() implements Command {}

    public sealed interface Reply {}

    public record Done(long pages, long nanos) implements Reply {}

    public record Failed(String message) implements Reply {}

    /** {@code verified}: the chunks' checksums were checked already (see ImageContents.pagesVerified). */
    public record Job(Pid pid, Path imageDir, long maxChunk, List<PageSlice> chunks, boolean verified,
                      DumpProgress progress) {}

    public static Behavior<Command> create(Job job, ActorRef<Reply> replyTo) {
        return dev.cryo.actors.PidMdc.of(Command.class, job.pid().value(), Behaviors.setup(ctx -> {
            ctx.getSelf().tell(new Run());
            return Behaviors.receive(Command.class)
                    .onMessage(Run.class, m -> {
                        replyTo.tell(write(job));
                        return Behaviors.stopped();
                    })
                    .build();
        }));
    }

    /** The job on the calling thread. */
    static Reply write(Job job) {
        long start = System.nanoTime();
        try (PageWriter writer = new PageWriter(job.imageDir(), job.maxChunk())) {
            return new Done(writer.write(job.pid(), job.chunks(), job.verified(), job.progress()::pagesDone), System.nanoTime() - start);
        } catch (Exception e) {
            return new Failed("pid " + job.pid() + ": writing memory failed: " + dev.cryo.actors.Failures.describe(e));
        }
    }
}
