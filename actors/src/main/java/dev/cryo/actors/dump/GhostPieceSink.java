package dev.cryo.actors.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.dump.GhostFiles;
import dev.cryo.engine.model.GhostData;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The pieces of a dump's big deleted files, to the image writer as the task dumpers read them: at most
 * {@link #IN_FLIGHT} wait for it at once, so a file of a GiB read faster than the image goes out (a migration's
 * link) is never held whole; the reader waits for room instead. A dump that ends meanwhile ({@link #cancel}:
 * the writer aborted, or stopped, takes no more) fails the wait at once, where the reader's thread, its task's
 * dumper, waited out the bound with the task still traced.
 */
final class GhostPieceSink implements GhostFiles.Sink {
    static final int IN_FLIGHT = 2;
    /** How long a reader waits for the writer to take a piece: past it the writer is gone (the dump is over). */
    private static final long TAKEN_WITHIN_S = 120;

    private final ActorRef<ImageWriterActor.Command> writer;
    private final Semaphore room = new Semaphore(IN_FLIGHT);
    private final AtomicReference<String> cancelled = new AtomicReference<>();

    GhostPieceSink(ActorRef<ImageWriterActor.Command> writer) {
        this.writer = writer;
    }

    /**
     * The dump ends ({@code why}): every reader waiting for room, and any to come, fails at once. Only the first call
     * counts: a failed dump cancels at its abort and again at its supervisor's stop, and a second release of half the
     * permits overflowed the semaphore ("Maximum permit count exceeded", a stack trace after every failed dump's error).
     */
    void cancel(String why) {
        if (cancelled.compareAndSet(null, why)) {
            room.release(Integer.MAX_VALUE / 2);
        }
    }

    @Override
    public void piece(GhostData d) {
        try {
            boolean taken = room.tryAcquire(TAKEN_WITHIN_S, TimeUnit.SECONDS);
            String why = cancelled.get();
            if (why != null) {
                throw new DumpException("the dump ended while a deleted file's contents were written: " + why);
            }
            if (!taken) {
                throw new DumpException("the image writer took no piece of a deleted file's contents within "
                        + TAKEN_WITHIN_S + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DumpException("interrupted while a deleted file's contents were written");
        }
        writer.tell(new ImageWriterActor.WriteRecordThen(d, room::release));
    }
}
