package dev.cryo.actors.dump;

import dev.cryo.engine.model.GhostData;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/** A dump's big deleted-file pieces go to the image writer in order, and the reader waits while two wait for it. */
class GhostPieceSinkTest {
    private static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    void aThirdPieceWaitsUntilTheWriterTookTheFirst() throws Exception {
        TestProbe<ImageWriterActor.Command> writer = kit.createTestProbe();
        GhostPieceSink sink = new GhostPieceSink(writer.getRef());
        CompletableFuture<Void> three = CompletableFuture.runAsync(() -> {
            for (int i = 0; i < 3; i++) {
                sink.piece(new GhostData(1, 2, i * 4L, new byte[4]));
            }
        });
        ImageWriterActor.WriteRecordThen first = writer.expectMessageClass(ImageWriterActor.WriteRecordThen.class);
        ImageWriterActor.WriteRecordThen second = writer.expectMessageClass(ImageWriterActor.WriteRecordThen.class);
        assertEquals(0L, ((GhostData) first.record()).at());
        assertEquals(4L, ((GhostData) second.record()).at());
        writer.expectNoMessage(Duration.ofMillis(300)); // the reader waits for room
        assertFalse(three.isDone());
        first.taken().run();
        ImageWriterActor.WriteRecordThen third = writer.expectMessageClass(ImageWriterActor.WriteRecordThen.class);
        assertEquals(8L, ((GhostData) third.record()).at());
        three.get();
    }

    /** A dump that ends (its writer aborted) fails a reader waiting for room at once, not after the 120 s bound. */
    @Test
    void aReaderWaitingForRoomFailsAtOnceWhenTheDumpEnds() throws Exception {
        TestProbe<ImageWriterActor.Command> writer = kit.createTestProbe();
        GhostPieceSink sink = new GhostPieceSink(writer.getRef());
        CompletableFuture<Void> three = CompletableFuture.runAsync(() -> {
            for (int i = 0; i < 3; i++) {
                sink.piece(new GhostData(1, 2, i * 4L, new byte[4]));
            }
        });
        writer.expectMessageClass(ImageWriterActor.WriteRecordThen.class);
        writer.expectMessageClass(ImageWriterActor.WriteRecordThen.class);
        writer.expectNoMessage(Duration.ofMillis(300)); // the third waits for room the writer will never give
        sink.cancel("pid 1: a failure");
        sink.cancel("pid 1: the supervisor stopped"); // a failed dump's stop cancels again: it overflowed the semaphore
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> three.get(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals("the dump ended while a deleted file's contents were written: pid 1: a failure", e.getCause().getMessage());
        assertThrows(dev.cryo.engine.DumpException.class, () -> sink.piece(new GhostData(1, 2, 12, new byte[4])));
        writer.expectNoMessage(Duration.ofMillis(100));
    }
}
