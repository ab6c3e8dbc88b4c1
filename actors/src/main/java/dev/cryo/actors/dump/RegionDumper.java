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
import java.util.ArrayDeque;
import java.util.List;

/**
 * Copies a share of one frozen task's page runs: each piece goes into a pooled direct buffer by
 * process_vm_readv, and from there straight into the image file (checksummed here, written at a
 * place the image reserved: the region dumpers write in parallel), or, when the sink is a stream,
 * to the image writer as a lease (the writer returns the buffer).
 * Reads go first: a piece is written only when no buffer is free for the next read, so once the
 * last page is read ({@link Read}) up to a pool's worth of pages is still to be written ({@link
 * Done}) — a tree left running may run again meanwhile (the writes need no stopped tree).
 * Runs on the blocking region dispatcher; waiting for a free buffer is the back-pressure.
 */
public final class RegionDumper {
    public sealed interface Command {}

    private record Run() implements Command {}

    public sealed interface Reply {}

    /**
     * Every page of the share is read (held in buffers or written): pages kept and zero pages, per VMA index of
     * the task. Of the pages kept, {@code fills} are recorded as a byte repeated, not as their bytes.
     */
    public record Read(int worker, long[] written, long[] zero, Fills fills, long nanos) implements Reply {}

    /**
     * Pages kept as a fill record instead of their bytes: {@code zero} all zero (where a zero page cannot be
     * left out: it hides a file's bytes or an earlier round's copy), {@code other} another byte repeated.
     */
    public record Fills(long zero, long other) {
        public static final Fills NONE = new Fills(0, 0);

        public Fills plus(Fills f) {
            return new Fills(zero + f.zero, other + f.other);
        }

        public long pages() {
            return zero + other;
        }
    }

    /**
     * After {@link Read}: every page of the share is in the image (or handed to its writer); the same counts.
     * {@code owed}: in a round while the task runs, the pieces it had unmapped or made unreadable before
     * they were read (an allocator decommitting): not in the image, for the frozen round to send.
     */
    public record Done(int worker, long[] written, long[] zero, Fills fills, long nanos, List<PageRun> owed) implements Reply {}

    public record Failed(int worker, String message) implements Reply {}

    /**
     * {@code direct}: when not null, the pages go straight into the image file from here (see ImageSink).
     * {@code running}: a pre-copy round, the task running on (a piece it changed under the read is owed).
     */
    public record Job(int worker, Pid pid, int vmaCount, List<PageRun> pieces, BufferPool pool,
                      ActorRef<ImageWriterActor.Command> writer, ImageSink.ConcurrentPages direct,
                      DumpProgress progress, long bufferWaitMillis, boolean running) {}

    public static Behavior<Command> create(Job job, ActorRef<Reply> replyTo) {
        return dev.cryo.actors.PidMdc.of(Command.class, job.pid().value(), Behaviors.setup(ctx -> {
            ctx.getSelf().tell(new Run());
            return Behaviors.receive(Command.class)
                    .onMessage(Run.class, m -> {
                        new Copy(job, replyTo).run();
                        return Behaviors.stopped();
                    })
                    .build();
        }));
    }

    /** The job on the calling thread (a share of a few pages); the replies go to {@code replyTo} all the same. */
    static void copyHere(Job job, ActorRef<Reply> replyTo) {
        new Copy(job, replyTo).run();
    }

    /** One share: reads, then the writes the reads left pending. */
    private static final class Copy {
        private final Job job;
        private final ActorRef<Reply> replyTo;
        private final long[] written;
        private final long[] zero;
        private long zeroFills;
        private long otherFills;
        private final ImageSink.Scratch scratch;
        /** Read, not yet written (direct sink only), oldest first. */
        private final ArrayDeque<Held> held = new ArrayDeque<>();
        private final List<PageRun> owed = new java.util.ArrayList<>();
        /**
         * The buffer pieces are read into, {@code filled} bytes of it taken by {@code segments}: a
         * piece goes into it while it has room. A buffer per piece made a task of many small
         * mappings take (and zero: allocateDirect) a 4 MiB buffer for each of its first 16 pieces
         * in the frozen window, 64 MiB for a sleep of 27 pages.
         */
        private ByteBuffer filling;
        private int filled;
        private final List<PageCopier.Segment> segments = new java.util.ArrayList<>();

        private record Held(ByteBuffer buffer, List<PageCopier.Segment> segments) {}

        Copy(Job job, ActorRef<Reply> replyTo) {
            this.job = job;
            this.replyTo = replyTo;
            this.written = new long[job.vmaCount()];
            this.zero = new long[job.vmaCount()];
            this.scratch = job.direct() == null ? null : new ImageSink.Scratch();
        }

        void run() {
            long start = System.nanoTime();
            try {
                for (PageRun piece : job.pieces()) {
                    read(piece);
                }
                hold();
                replyTo.tell(new Read(job.worker(), written, zero, new Fills(zeroFills, otherFills), System.nanoTime() - start));
                while (!held.isEmpty()) {
                    writeOldest();
                }
                replyTo.tell(new Done(job.worker(), written, zero, new Fills(zeroFills, otherFills), System.nanoTime() - start,
                        owed));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("pid " + job.pid() + ": page copy interrupted");
            } catch (java.io.IOException e) {
                fail("writing the image failed: " + e.getMessage());
            } catch (Exception e) {
                fail("pid " + job.pid() + ": copying memory failed: " + dev.cryo.actors.Failures.describe(e));
            }
        }

        private void fail(String message) {
            held.forEach(h -> job.pool().release(h.buffer()));
            held.clear();
            if (filling != null) {
                job.pool().release(filling);
                filling = null;
            }
            replyTo.tell(new Failed(job.worker(), message));
        }

        /** A free buffer; when none is, the oldest piece read is written first to free one. */
        private ByteBuffer buffer() throws Exception {
            ByteBuffer b = job.pool().tryAcquire();
            while (b == null && !held.isEmpty()) {
                writeOldest();
                b = job.pool().tryAcquire();
            }
            return b != null ? b : job.pool().acquire(job.bufferWaitMillis());
        }

        /** Reads a piece into the buffer being filled, or into a fresh one when it has no room left. */
        private void read(PageRun piece) throws Exception {
            int bytes = piece.pages() * 4096;
            if (filling != null && filled + bytes > filling.capacity()) {
                hold();
            }
            if (filling == null) {
                filling = buffer();
                filled = 0;
            }
            PageCopier.Copied copied;
            try {
                copied = PageCopier.copy(job.pid(), piece, filling, filled);
            } catch (Exception e) {
                if (job.running() && changedUnder(e)) {
                    owed.add(piece);
                    job.progress().pagesDone(piece.pages());
                    return;
                }
                throw e;
            }
            written[piece.vmaIndex()] += copied.segments().stream().mapToInt(PageCopier.Segment::pages).sum();
            zero[piece.vmaIndex()] += copied.zeroPages();
            for (PageCopier.Segment seg : copied.segments()) {
                if (seg.fill() == 0) {
                    zeroFills += seg.pages();
                } else if (seg.filled()) {
                    otherFills += seg.pages();
                }
            }
            segments.addAll(copied.segments());
            if (copied.holdsData()) { // a piece of zero or filled pages leaves its room to the next
                filled += bytes;
            }
            job.progress().pagesDone(piece.pages());
        }

        /** The buffer being filled is read: held for its write (direct sink), or handed to the writer. */
        private void hold() {
            if (filling == null) {
                return;
            }
            if (segments.isEmpty()) {
                job.pool().release(filling);
            } else if (job.direct() != null) {
                held.add(new Held(filling, List.copyOf(segments)));
            } else {
                job.writer().tell(new ImageWriterActor.WritePages(job.pid().value(), List.copyOf(segments), filling, job.pool()));
            }
            filling = null;
            segments.clear();
        }

        /** EFAULT (unmapped, PROT_NONE) or a short read: the running task changed the area since the round's scan. */
        private static boolean changedUnder(Exception e) {
            return e instanceof dev.cryo.kernel.SyscallException s ? s.is(dev.cryo.kernel.Errno.EFAULT)
                    : e instanceof java.io.IOException || e instanceof dev.cryo.kernel.KernelException k
                            && k.getMessage().contains("short transfer");
        }

        private void writeOldest() throws java.io.IOException {
            Held h = held.poll();
            try {
                for (PageCopier.Segment seg : h.segments()) {
                    if (seg.filled()) {
                        job.direct().writeFill(job.pid().value(), seg.address(), seg.pages(), (byte) seg.fill());
                    } else {
                        job.direct().writePages(job.pid().value(), seg.address(), seg.pages(),
                                h.buffer().slice(seg.offset(), seg.pages() * 4096), scratch);
                    }
                }
            } finally {
                job.pool().release(h.buffer());
            }
        }
    }
}
