package dev.cryo.engine.image;

import dev.cryo.config.Compression;

import static dev.cryo.engine.image.SampleRecords.CODECS;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ImageRoundTripTest {
    @TempDir Path tmp;

    static ImageOptions opts(Compression c) {
        return ImageOptions.defaults().withCompression(c, 3).withFsync(false);
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void recordsAndPagesRoundTrip(Compression c) throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts(c))) {
            SampleRecords.writeSampleImage(w);
            assertEquals(7, w.chunksWritten());
            assertEquals(6 * 4096, w.pageBytes());
            w.commit();
        }
        assertFalse(Files.exists(dir.resolve(ImageFormat.PARTIAL_FILE)));
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            assertEquals(1, r.formatVersion());
            assertEquals(4096, r.pageSize());
            r.verify();
            assertEquals(SampleRecords.sampleImageRecords(), r.records());
            List<IndexEntry> pages = r.pageChunks();
            assertEquals(3, pages.size());
            for (IndexEntry e : pages) {
                assertEquals(c == Compression.ZSTD, e.compressed(), e.describe());
                ByteBuffer dst = ByteBuffer.allocateDirect(e.rawLength() + 8).position(8);
                r.readPages(e, dst);
                assertEquals(dst.capacity(), dst.position());
                assertEquals(SampleRecords.pages(e.pid(), e.vaddr(), e.pageCount(), 4096), dst.position(8));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void streamReaderSeesTheSameChunks(Compression c) throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts(c))) {
            SampleRecords.writeSampleImage(w);
            w.commit();
        }
        List<Object> records = new ArrayList<>();
        int pageChunks = 0;
        try (FileChannel ch = FileChannel.open(dir.resolve("image.cryo"));
             ImageStreamReader r = new ImageStreamReader(ch, "image.cryo", CODECS, ImageFormat.DEFAULT_MAX_CHUNK)) {
            ImageStreamReader.Chunk chunk;
            while ((chunk = r.next()) != null) {
                IndexEntry e = chunk.entry();
                if (chunk.record() != null) records.add(chunk.record());
                if (e.type() == ChunkType.PAGES) {
                    ByteBuffer dst = ByteBuffer.allocateDirect(e.rawLength());
                    chunk.readPages(dst);
                    assertEquals(SampleRecords.pages(e.pid(), e.vaddr(), e.pageCount(), 4096), dst.flip());
                    pageChunks++;
                }
            }
            assertNull(r.next());
        }
        assertEquals(SampleRecords.sampleImageRecords(), records);
        assertEquals(3, pageChunks);
    }

    @Test
    void channelWriterProducesTheFileBytes() throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts(Compression.NONE))) {
            SampleRecords.writeSampleImage(w);
            w.commit();
        }
        // Same framing over a plain (non-gathering, non-seekable) stream.
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (ImageChannelWriter cw = new ImageChannelWriter(Channels.newChannel(bytes), CODECS, opts(Compression.NONE))) {
            cw.writeRecord(SampleRecords.process(4242));
            cw.writeRecord(new SampleRecords.SampleBlob("fds", new byte[] {1, 2, 3, 0, -1}));
            cw.writePages(4242, 0x7f12a000L, 2, SampleRecords.pages(4242, 0x7f12a000L, 2, 4096));
            cw.writePages(4242, 0x400000L, 1, SampleRecords.pages(4242, 0x400000L, 1, 4096));
            cw.writeRecord(SampleRecords.process(4243));
            cw.writePages(4243, 0x7f12a000L, 3, SampleRecords.pages(4243, 0x7f12a000L, 3, 4096));
            cw.writeRecord(new SampleRecords.SampleBlob("empty", new byte[0]));
            cw.finish();
            assertEquals(bytes.size(), cw.bytesWritten());
        }
        assertArrayEquals(Files.readAllBytes(dir.resolve("image.cryo")), bytes.toByteArray());
    }

    /** A stream's image ends with a digest of its index: both readers take it, and one that disagrees is refused. */
    @ParameterizedTest
    @EnumSource(Compression.class)
    void aStreamsDigestIndexIsCheckedByBothReaders(Compression c) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("streamed"));
        Path file = dir.resolve("image.cryo");
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             StreamImageSink sink = new StreamImageSink(Channels.newChannel(Channels.newOutputStream(out)), "stream",
                     CODECS, opts(c))) {
            sink.writeRecord(SampleRecords.process(4242));
            sink.writePages(4242, 0x7f12a000L, 2, SampleRecords.pages(4242, 0x7f12a000L, 2, 4096));
            sink.writeRecord(new SampleRecords.SampleBlob("fds", new byte[] {1, 2, 3}));
            sink.writePages(4242, 0x400000L, 1, SampleRecords.pages(4242, 0x400000L, 1, 4096));
            sink.commit();
        }
        List<IndexEntry> streamed = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(file);
             ImageStreamReader r = new ImageStreamReader(ch, "image.cryo", CODECS, ImageFormat.DEFAULT_MAX_CHUNK)) {
            ImageStreamReader.Chunk chunk;
            while ((chunk = r.next()) != null) streamed.add(chunk.entry());
        }
        assertEquals(4, streamed.size());
        try (ImageReader r = ImageReader.open(dir, CODECS)) { // the entries found by walking the headers
            r.verify();
            assertEquals(streamed, r.entries());
            assertEquals(SampleRecords.process(4242), r.records().get(0));
        }
        // the digest is the index chunk's last 4 payload bytes, before the trailer: flip one, fix the chunk's CRC
        byte[] bytes = Files.readAllBytes(file);
        int index = bytes.length - Trailer.SIZE - ChunkHeader.SIZE - 8;
        bytes[index + ChunkHeader.SIZE + 4] ^= 1;
        ByteBuffer h = ByteBuffer.wrap(bytes, index, ChunkHeader.SIZE).slice().order(ImageFormat.ORDER);
        int crc = (int) ChunkChecks.crc(new java.util.zip.CRC32C(), h, ByteBuffer.wrap(bytes, index + ChunkHeader.SIZE, 8).slice());
        h.putInt(ChunkHeader.CRC_OFFSET, crc);
        Files.write(file, bytes);
        ImageCorruptException e = assertThrows(ImageCorruptException.class, () -> {
            try (FileChannel ch = FileChannel.open(file);
                 ImageStreamReader r = new ImageStreamReader(ch, "image.cryo", CODECS, ImageFormat.DEFAULT_MAX_CHUNK)) {
                while (r.next() != null) { }
            }
        });
        assertTrue(e.getMessage().contains("index digest does not match"), e.getMessage());
        e = assertThrows(ImageCorruptException.class, () -> ImageReader.open(dir, CODECS).close());
        assertTrue(e.getMessage().contains("index digest does not match"), e.getMessage());
    }

    @Test
    void incompressiblePagesAreStoredRaw() throws IOException {
        Path dir = tmp.resolve("img");
        ByteBuffer random = ByteBuffer.allocateDirect(4096);
        new java.util.Random(1).ints(4096).forEach(i -> random.put((byte) i));
        random.flip();
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts(Compression.ZSTD))) {
            w.writePages(1, 0x1000, 1, random);
            assertFalse(random.hasRemaining(), "page buffer is consumed");
            w.commit();
        }
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            IndexEntry e = r.pageChunks().get(0);
            assertFalse(e.compressed());
            ByteBuffer dst = ByteBuffer.allocateDirect(4096);
            r.readPages(e, dst);
            assertEquals(random.flip(), dst.flip());
        }
    }

    @Test
    void writerRefusesBadInput() throws IOException {
        try (ImageWriter w = ImageWriter.create(tmp.resolve("img"), CODECS, opts(Compression.NONE))) {
            assertThrows(IllegalArgumentException.class, () -> w.writeRecord("a string"));
            assertThrows(IllegalArgumentException.class, () -> w.writePages(1, 0x1000, 1, ByteBuffer.allocate(4096)));
            assertThrows(IllegalArgumentException.class, () -> w.writePages(1, 0x1000, 2, ByteBuffer.allocateDirect(4096)));
            assertThrows(IllegalArgumentException.class, () -> w.writePages(1, 0x1001, 1, ByteBuffer.allocateDirect(4096)));
        }
    }

    @Test
    void olderRecordVersionsStillRead() throws IOException {
        // A build whose ProcessCodec was still at version 1 (no cwd) wrote this image.
        RecordCodecs v1 = RecordCodecs.builder().add(new SampleRecords.ProcessCodec() {
            public int version() { return 1; }
            public void write(com.esotericsoftware.kryo.io.Output out, SampleRecords.SampleProcess p) {
                out.writeVarInt(p.pid(), true);
                RecordFields.writeString(out, p.comm());
                RecordFields.writeLongs(out, p.regs());
                RecordFields.writeList(out, SampleRecords.VMA, p.vmas());
            }
        }).add(SampleRecords.VMA).build();
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, v1, opts(Compression.NONE))) {
            w.writeRecord(SampleRecords.process(4242));
            w.commit();
        }
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            SampleRecords.SampleProcess p = (SampleRecords.SampleProcess) r.records().get(0);
            assertNull(p.cwd());
            assertEquals(SampleRecords.process(4242).vmas(), p.vmas());
        }
    }

    @Test
    void newerRecordVersionIsRefused() throws IOException {
        RecordCodecs v3 = RecordCodecs.builder().add(new SampleRecords.ProcessCodec() {
            public int version() { return 3; }
        }).add(SampleRecords.VMA).build();
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, v3, opts(Compression.NONE))) {
            w.writeRecord(SampleRecords.process(1));
            w.commit();
        }
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            ImageException e = assertThrows(UnsupportedImageVersionException.class, r::records);
            assertTrue(e.getMessage().contains("chunk 0 (record, offset 32)")
                    && e.getMessage().contains("version 3 is newer than this build reads (2)"), e.getMessage());
        }
    }

    @Test
    void unknownRecordTypeIsReportedWithTheChunk() throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts(Compression.NONE))) {
            w.writeRecord(new SampleRecords.SampleBlob("x", null));
            w.commit();
        }
        RecordCodecs without = RecordCodecs.builder().add(SampleRecords.VMA).build();
        try (ImageReader r = ImageReader.open(dir, without)) {
            ImageException e = assertThrows(ImageCorruptException.class, r::records);
            assertTrue(e.getMessage().startsWith("image.cryo chunk 0 (record, offset 32): record does not decode"),
                    e.getMessage());
        }
    }

    /** Not an assertion: prints throughput so regressions are visible in the test log. */
    @ParameterizedTest
    @EnumSource(Compression.class)
    void printThroughput(Compression c) throws IOException {
        int chunkPages = 256;
        int chunks = 64; // 64 MiB
        ByteBuffer buf = SampleRecords.pages(7, 0, chunkPages, 4096);
        Path dir = tmp.resolve("perf-" + c);
        long t0 = System.nanoTime();
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts(c))) {
            for (int i = 0; i < chunks; i++) {
                w.writePages(7, (long) i * chunkPages * 4096, chunkPages, buf.clear());
            }
            w.commit();
        }
        long t1 = System.nanoTime();
        ByteBuffer dst = ByteBuffer.allocateDirect(chunkPages * 4096);
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            for (IndexEntry e : r.pageChunks()) r.readPages(e, dst.clear());
        }
        long t2 = System.nanoTime();
        double mb = chunks * chunkPages * 4096 / 1e6;
        System.out.printf("image %s: write %.0f MB/s, read %.0f MB/s, file %d bytes%n", c,
                mb / ((t1 - t0) / 1e9), mb / ((t2 - t1) / 1e9), Files.size(dir.resolve("image.cryo")));
    }

    @Test
    void aWriteAfterAFailedOneNamesTheFirstFailure() throws IOException {
        // concurrent copiers race: the one that reaches the user may be the second, which must carry the cause
        int[] writes = {0};
        java.nio.channels.WritableByteChannel full = new java.nio.channels.WritableByteChannel() {
            public int write(ByteBuffer src) throws IOException {
                if (writes[0]++ > 0) throw new IOException("No space left on device");
                int n = src.remaining();
                src.position(src.limit());
                return n;
            }
            public boolean isOpen() { return true; }
            public void close() { }
        };
        try (ImageChannelWriter cw = new ImageChannelWriter(full, CODECS, opts(Compression.NONE))) {
            ByteBuffer page = ByteBuffer.allocateDirect(4096);
            assertThrows(IOException.class, () -> cw.writePages(1, 0x1000, 1, page.duplicate()));
            IllegalStateException echo = assertThrows(IllegalStateException.class,
                    () -> cw.writePages(1, 0x2000, 1, page.duplicate()));
            assertTrue(echo.getMessage().contains("No space left on device"), echo.getMessage());
        }
    }
}
