package dev.cryo.actors.dump;

import dev.cryo.engine.dump.BufferPool;
import dev.cryo.engine.dump.PageCopier;
import dev.cryo.engine.image.ImageSink;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The single owner of the image: every record and page batch of a dump passes through here, is
 * framed, checksummed and indexed by the {@link ImageSink} (a file or a stream), and page buffers go back to the pool.
 * After an I/O failure (a full disk) it keeps draining buffers so copiers never block, reports
 * the failure once, and refuses to commit.
 */
public final class ImageWriterActor {
    public sealed interface Command {}

    public record WriteRecord(Object record) implements Command {}

    /** {@link WriteRecord}, then {@code taken} runs (written or not: the writer's failure goes to its own reply). */
    public record WriteRecordThen(Object record, Runnable taken) implements Command {}

    /** Non-zero page segments of one buffer; the buffer returns to {@code pool} once written. */
    public record WritePages(int pid, List<PageCopier.Segment> segments, ByteBuffer buffer, BufferPool pool)
            implements Command {}

    /**
     * Pages of a previous image (a pre-dump's) this image takes as they are, copied from that image
     * before the rounds' pages (a later copy of a page wins at restore); replies {@link Carried}.
     */
    public record CarryPages(dev.cryo.engine.dump.PreviousImage from, int pid,
                             List<dev.cryo.engine.restore.PageSlice> slices, ActorRef<Reply> replyTo) implements Command {}

    public record Commit(ActorRef<Reply> replyTo) implements Command {}

    /** Flushes what is written so far to stable storage (before a pre-copy freeze); replies {@link Synced}. */
    public record Sync(ActorRef<Reply> replyTo) implements Command {}

    public record Abort(ActorRef<Reply> replyTo) implements Command {}

    /** What a stream holds buffered goes out now (a migration's first frozen records tell the destination the freeze began). */
    public record Push() implements Command {}

    public sealed interface Reply {}

    public record Committed(long bytes, int chunks) implements Reply {}

    public record Aborted() implements Reply {}

    public record Synced() implements Reply {}

    public record Carried(int pid, long pages) implements Reply {}

    public record Failed(String message) implements Reply {}

    public static Behavior<Command> create(ImageSink writer, ActorRef<Reply> failures) {
        return Behaviors.setup(ctx -> new State(writer, failures).behavior());
    }

    private static final class State {
        private final ImageSink writer;
        private final ActorRef<Reply> failures;
        private String failure;
        private boolean done;

        State(ImageSink writer, ActorRef<Reply> failures) {
            this.writer = writer;
            this.failures = failures;
        }

        Behavior<Command> behavior() {
            return Behaviors.receive(Command.class)
                    .onMessage(WriteRecord.class, m -> {
                        io(() -> writeRecord(m.record()));
                        return Behaviors.same();
                    })
                    .onMessage(WriteRecordThen.class, m -> {
                        try {
                            io(() -> writeRecord(m.record()));
                        } finally {
                            m.taken().run();
                        }
                        return Behaviors.same();
                    })
                    .onMessage(WritePages.class, m -> {
                        try {
                            for (PageCopier.Segment s : m.segments()) {
                                if (s.filled()) {
                                    io(() -> writer.writeFill(m.pid(), s.address(), s.pages(), (byte) s.fill()));
                                } else {
                                    ByteBuffer slice = m.buffer().slice(s.offset(), s.pages() * 4096);
                                    io(() -> writer.writePages(m.pid(), s.address(), s.pages(), slice));
                                }
                            }
                        } finally {
                            m.pool().release(m.buffer());
                        }
                        return Behaviors.same();
                    })
                    .onMessage(CarryPages.class, m -> {
                        long[] pages = {0};
                        io(() -> pages[0] = m.from().copy(m.pid(), m.slices(), writer));
                        m.replyTo().tell(failure == null ? new Carried(m.pid(), pages[0]) : new Failed(failure));
                        return Behaviors.same();
                    })
                    .onMessage(Push.class, m -> {
                        io(writer::push);
                        return Behaviors.same();
                    })
                    .onMessage(Sync.class, m -> {
                        io(writer::sync);
                        m.replyTo().tell(failure == null ? new Synced() : new Failed(failure));
                        return Behaviors.same();
                    })
                    .onMessage(Commit.class, m -> {
                        if (failure == null) {
                            io(writer::commit);
                        }
                        done = failure == null;
                        m.replyTo().tell(failure == null ? new Committed(writer.bytesWritten(), writer.chunksWritten())
                                : new Failed(failure));
                        return Behaviors.same();
                    })
                    .onMessage(Abort.class, m -> {
                        abortQuietly();
                        m.replyTo().tell(new Aborted());
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, s -> {
                        if (!done) {
                            abortQuietly();
                        }
                        return Behaviors.same();
                    })
                    .build();
        }

        private interface Io {
            void run() throws IOException;
        }

        /**
         * A task's record too large for one chunk (tens of thousands of sockets with their queues, stress-ng's sockpair)
         * is named with its task: the failure said only "record TaskImage exceeds the max chunk length".
         */
        private void writeRecord(Object record) throws IOException {
            try {
                writer.writeRecord(record);
            } catch (IllegalArgumentException e) {
                if (record instanceof dev.cryo.engine.model.TaskImage t
                        && e.getCause() instanceof com.esotericsoftware.kryo.io.KryoBufferOverflowException) {
                    throw new IllegalArgumentException("pid " + t.ids().pid() + " (" + t.comm() + ", " + t.fds().size()
                            + " fds, " + t.vmas().size() + " mappings, " + t.threads().size() + " threads): its state is too"
                            + " large for one record of the image (" + e.getMessage() + "); not supported yet", e);
                }
                throw e;
            }
        }

        private void io(Io op) {
            if (failure != null || done) {
                return;
            }
            try {
                op.run();
            } catch (IOException | RuntimeException e) {
                failure = "writing " + writer.describe() + " failed: " + dev.cryo.actors.Failures.describe(e);
                failures.tell(new Failed(failure));
                abortQuietly();
            }
        }

        private void abortQuietly() {
            try {
                writer.abort();
            } catch (IOException | RuntimeException ignored) {
                // best effort: the partial file has no trailer and is refused anyway
            }
        }
    }
}
