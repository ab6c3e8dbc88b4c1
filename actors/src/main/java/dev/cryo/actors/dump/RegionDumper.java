package dev.cryo.actors.dump;

import dev.cryo.engine.dump.BufferPool;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.dump.PageCopier;
import dev.cryo.engine.dump.PageRun;
import dev.cryo.engine.image.ImageSink;
import dev.cryo.kernel.Pid;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Copies a share of one frozen task's page runs: each piece goes into a pooled direct buffer by
 * process_vm_readv, and from there straight into the image file (checksummed here, written at a
 * place the image reserved: the region dumpers write in parallel), or, when the sink is a stream,
 * to the image writer as a lease (the writer returns the buffer).
 * Runs on the blocking region dispatcher; waiting for a free buffer is the back-pressure.
 */
public final class RegionDumper {
    public sealed interface Command {}

    private record Run() implements Command {}

    public sealed interface Reply {}

    /** Pages written and zero pages, per VMA index of the task. */
    public record Done(int worker, long[] written, long[] zero, long nanos) implements Reply {}

    public record Failed(int worker, String message) implements Reply {}

    /** {@code direct}: when not null, the pages go straight into the image file from here (see ImageSink). */
    public record Job(int worker, Pid pid, int vmaCount, List<PageRun> pieces, BufferPool pool,
                      ActorRef<ImageWriterActor.Command> writer, ImageSink.ConcurrentPages direct,
                      DumpProgress progress, long bufferWaitMillis) {}

    public static Behavior<Command> create(Job job, ActorRef<Reply> replyTo) {
        return dev.cryo.actors.PidMdc.of(Command.class, job.pid().value(), Behaviors.setup(ctx -> {
            ctx.getSelf().tell(new Run());
            return Behaviors.receive(Command.class)
                    .onMessage(Run.class, m -> {
                        replyTo.tell(copyAll(job));
                        return Behaviors.stopped();
                    })
                    .build();
        }));
    }

    private static Reply copyAll(Job job) {
        long start = System.nanoTime();
        long[] written = new long[job.vmaCount()];
        long[] zero = new long[job.vmaCount()];
        ImageSink.Scratch scratch = job.direct() == null ? null : new ImageSink.Scratch();
        try {
            for (PageRun piece : job.pieces()) {
                ByteBuffer buffer = job.pool().acquire(job.bufferWaitMillis());
                PageCopier.Copied copied;
                try {
                    copied = PageCopier.copy(job.pid(), piece, buffer);
                } catch (Exception e) {
                    job.pool().release(buffer);
                    throw e;
                }
                int pages = copied.segments().stream().mapToInt(PageCopier.Segment::pages).sum();
                written[piece.vmaIndex()] += pages;
                zero[piece.vmaIndex()] += copied.zeroPages();
                if (job.direct() != null) {
                    try {
                        for (PageCopier.Segment seg : copied.segments()) {
                            job.direct().writePages(job.pid().value(), seg.address(), seg.pages(),
                                    buffer.slice(seg.offset(), seg.pages() * 4096), scratch);
                        }
                    } catch (java.io.IOException | RuntimeException e) {
                        return new Failed(job.worker(), "writing the image failed: " + e.getMessage());
                    } finally {
                        job.pool().release(buffer);
                    }
                } else if (copied.segments().isEmpty()) {
                    job.pool().release(buffer);
                } else {
                    job.writer().tell(new ImageWriterActor.WritePages(job.pid().value(), copied.segments(), buffer, job.pool()));
                }
                job.progress().pagesDone(piece.pages());
            }
            return new Done(job.worker(), written, zero, System.nanoTime() - start);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Failed(job.worker(), "pid " + job.pid() + ": page copy interrupted");
        } catch (Exception e) {
            return new Failed(job.worker(), "pid " + job.pid() + ": copying memory failed: " + dev.cryo.actors.Failures.describe(e));
        }
    }
}
