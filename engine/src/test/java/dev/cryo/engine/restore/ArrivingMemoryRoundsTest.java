package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageStreamReader;
import dev.cryo.engine.image.StreamImageSink;
import dev.cryo.engine.model.PreCopyLayout;
import dev.cryo.engine.model.codec.ModelCodecs;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The destination hears each running round's pages when the next round's layout arrives: its agent
 * applies the source's rule of the last rounds (PreCopySettings#endgame) to them.
 */
class ArrivingMemoryRoundsTest {
    private static final int ROOT = 4242;

    @Test
    void eachRoundsPagesAreToldWhenTheNextRoundStarts() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (StreamImageSink sink = new StreamImageSink(Channels.newChannel(bytes), "stream", ModelCodecs.ALL,
                ImageOptions.defaults().withFsync(false))) {
            round(sink, 5, 3); // round 1: 8 pages in two chunks
            round(sink, 2); // round 2
            round(sink); // round 3: none
            round(sink, 1); // round 4: its end is the freeze, not a layout
            sink.commit();
        }
        List<Long> told = new ArrayList<>();
        try (ArrivingMemory memory = new ArrivingMemory("test", stub -> { }, told::add);
             ImageStreamReader r = new ImageStreamReader(Channels.newChannel(new ByteArrayInputStream(bytes.toByteArray())),
                     "stream", ModelCodecs.ALL, ImageFormat.DEFAULT_MAX_CHUNK)) {
            memory.discard(); // no stub: the pages are only counted
            ImageStreamReader.Chunk c;
            while ((c = r.next()) != null) {
                memory.accept(c);
            }
        }
        assertEquals(List.of(8L, 2L, 0L), told);
    }

    private static long next = 0x10000000L;

    private static void round(StreamImageSink sink, int... chunks) throws Exception {
        sink.writeRecord(new PreCopyLayout(ROOT, false, List.of(0x10000000L, 0x20000000L), true));
        for (int pages : chunks) {
            sink.writePages(ROOT, next, pages, ByteBuffer.allocateDirect(pages * 4096));
            next += pages * 4096L;
        }
    }
}
