package dev.cryo.engine.image;

import static dev.cryo.engine.image.SampleRecords.CODECS;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A record larger than one chunk is written in parts (consecutive record chunks, all but the last flagged
 * continued) and read whole by both readers; an image whose parts do not make a whole record is damaged.
 */
class RecordPartsTest {
    private static final int MAX_CHUNK = 4 * 4096;
    @TempDir Path tmp;

    private static SampleRecords.SampleBlob blob(int n) {
        byte[] data = new byte[n];
        new java.util.Random(n).nextBytes(data);
        return new SampleRecords.SampleBlob("queues", data);
    }

    private Path write(Object... records) throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, ImageOptions.defaults().withFsync(false)
                .withMaxChunkLength(MAX_CHUNK))) {
            for (Object r : records) {
                w.writeRecord(r);
            }
            w.writePages(4242, 0x400000L, 1, SampleRecords.pages(4242, 0x400000L, 1, 4096));
            w.commit();
        }
        return dir;
    }

    @Test
    void aRecordLargerThanAChunkIsWrittenInPartsAndReadWholeByBothReaders() throws IOException {
        Object big = blob(50_000), small = SampleRecords.process(4242);
        Path dir = write(small, big, small);
        try (ImageReader r = ImageReader.open(dir, CODECS, MAX_CHUNK)) {
            r.verify();
            List<IndexEntry> records = r.entries().stream().filter(e -> e.type() == ChunkType.RECORD).toList();
            assertEquals(1 + 4 + 1, records.size(), "50,000 bytes in chunks of 16 KiB");
            assertEquals(List.of(false, true, true, true, false, false), records.stream().map(IndexEntry::continued).toList());
            assertEquals(3, r.recordEntries().size());
            assertEquals(List.of(small, big, small), r.records());
        }
        List<Object> streamed = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(dir.resolve(ImageFormat.IMAGE_FILE));
             ImageStreamReader r = new ImageStreamReader(ch, "image.cryo", CODECS, MAX_CHUNK)) {
            ImageStreamReader.Chunk c;
            while ((c = r.next()) != null) {
                if (c.record() != null) {
                    streamed.add(c.record());
                    if (streamed.size() == 2) {
                        assertEquals(1, c.recordStart().number(), "the record starts at its first part");
                        assertEquals(4, c.entry().number());
                    }
                }
            }
        }
        assertEquals(List.of(small, big, small), streamed);
    }

    @Test
    void aRecordOverItsBoundIsRefusedByTheWriter() throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, ImageOptions.defaults().withFsync(false)
                .withMaxChunkLength(MAX_CHUNK))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> w.writeRecord(blob(MAX_CHUNK * ImageFormat.MAX_RECORD_PARTS + 1)));
            assertTrue(e.getMessage().contains("exceeds the max record length"), e.getMessage());
            w.writeRecord(SampleRecords.process(1)); // the writer goes on
        }
    }

    /** The last part's flag set too (its CRC made again): the record goes on past the image's last chunk. */
    @Test
    void aRecordWhosePartsDoNotEndIsADamagedImage() throws IOException {
        Path dir = write(SampleRecords.process(4242), blob(50_000));
        Path file = dir.resolve(ImageFormat.IMAGE_FILE);
        byte[] bytes = Files.readAllBytes(file);
        long offset;
        try (ImageReader r = ImageReader.open(dir, CODECS, MAX_CHUNK)) {
            offset = r.entries().get(4).offset(); // the last part; the page chunk follows
        }
        int at = (int) offset;
        bytes[at + 1] |= ImageFormat.FLAG_CONTINUED;
        ByteBuffer h = ByteBuffer.wrap(bytes, at, ChunkHeader.SIZE).slice().order(ImageFormat.ORDER);
        int stored = h.getInt(8);
        h.putInt(ChunkHeader.CRC_OFFSET, (int) ChunkChecks.crc(new java.util.zip.CRC32C(), h,
                ByteBuffer.wrap(bytes, at + ChunkHeader.SIZE, stored).slice()));
        Files.write(file, bytes);
        ImageCorruptException e = assertThrows(ImageCorruptException.class, () -> {
            try (FileChannel ch = FileChannel.open(file);
                 ImageStreamReader r = new ImageStreamReader(ch, "image.cryo", CODECS, MAX_CHUNK)) {
                while (r.next() != null) { }
            }
        });
        assertTrue(e.getMessage().contains("followed by a pages chunk: damaged image"), e.getMessage());
    }
}
