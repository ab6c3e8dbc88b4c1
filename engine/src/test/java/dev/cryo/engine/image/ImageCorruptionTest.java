package dev.cryo.engine.image;

import dev.cryo.config.Compression;

import static dev.cryo.engine.image.SampleRecords.CODECS;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageCorruptionTest {
    @TempDir Path tmp;
    byte[] image;
    List<IndexEntry> entries;
    long indexOffset;

    @BeforeEach
    void writeImage() throws IOException {
        Path dir = tmp.resolve("good");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, ImageOptions.defaults().withFsync(false)
                .withCompression(Compression.ZSTD, 1))) {
            SampleRecords.writeSampleImage(w);
            w.writePages(9, 0x9000, 1, SampleRecords.pages(9, 0x9000, 1, 4096)); // one raw, one zstd at least
            w.commit();
        }
        image = Files.readAllBytes(dir.resolve("image.cryo"));
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            entries = r.entries();
        }
        IndexEntry last = entries.get(entries.size() - 1);
        indexOffset = last.offset() + last.totalLength();
    }

    /** Opens, verifies and reads everything; returns the exception, failing if there is none. */
    ImageException readAll(byte[] bytes) throws IOException {
        Path dir = Files.createTempDirectory(tmp, "bad");
        Files.write(dir.resolve("image.cryo"), bytes);
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            r.verify();
            r.records();
            for (IndexEntry e : r.pageChunks()) r.readPages(e, ByteBuffer.allocateDirect(e.rawLength()));
        } catch (ImageException e) {
            return e;
        }
        return fail("damage not detected");
    }

    /** What the message must name for damage at pos. */
    String expectedPlace(long pos) {
        if (pos < FileHeader.SIZE) return "image.cryo header";
        if (pos >= image.length - Trailer.SIZE) return "image.cryo trailer";
        if (pos >= indexOffset) return "image.cryo chunk " + entries.size() + " (index, offset " + indexOffset + ")";
        for (IndexEntry e : entries) {
            if (pos < e.offset() + e.totalLength()) return "image.cryo " + e.describe();
        }
        throw new AssertionError();
    }

    @Test
    void everySingleByteFlipIsDetectedAndLocated() throws IOException {
        TreeSet<Long> positions = new TreeSet<>();
        for (long p = 0; p < FileHeader.SIZE; p++) positions.add(p);
        for (IndexEntry e : entries) {
            for (long p = 0; p < ChunkHeader.SIZE; p++) positions.add(e.offset() + p);
            long payload = e.offset() + ChunkHeader.SIZE;
            positions.add(payload);
            positions.add(payload + e.storedLength() / 2);
            positions.add(payload + e.storedLength() - 1);
        }
        for (long p = indexOffset; p < image.length; p++) positions.add(p); // whole index and trailer
        positions.removeIf(p -> p >= image.length);
        int checked = 0;
        for (long pos : positions) {
            for (int mask : new int[] {0x01, 0x80, 0xff}) {
                byte[] bad = image.clone();
                bad[(int) pos] ^= (byte) mask;
                ImageException e = readAll(bad);
                assertTrue(e.getMessage().startsWith(expectedPlace(pos)),
                        "flip at " + pos + " (mask " + mask + "): expected '" + expectedPlace(pos) + "', got: " + e.getMessage());
                checked++;
            }
        }
        assertTrue(checked > 1000, "checked " + checked);
    }

    @Test
    void crcMismatchMessageHasTheDocumentedShape() throws IOException {
        IndexEntry pages = entries.stream().filter(e -> e.type() == ChunkType.PAGES).findFirst().orElseThrow();
        byte[] bad = image.clone();
        bad[(int) pages.offset() + ChunkHeader.SIZE + 5] ^= 1;
        String m = readAll(bad).getMessage();
        assertTrue(m.matches("image\\.cryo chunk 2 \\(pages of pid 4242 at 0x7f12a000, offset \\d+\\): "
                + "CRC32C mismatch \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)"), m);
    }

    @Test
    void truncationIsDetected() throws IOException {
        List<Long> cuts = new ArrayList<>(List.of(0L, 7L, 31L, 32L, 33L, indexOffset, indexOffset + 10,
                (long) image.length - Trailer.SIZE, (long) image.length - 1));
        for (IndexEntry e : entries) {
            cuts.add(e.offset() + 20);
            cuts.add(e.offset() + ChunkHeader.SIZE + e.storedLength() / 2);
        }
        for (long cut : cuts) {
            byte[] bad = java.util.Arrays.copyOf(image, (int) cut);
            ImageException e = readAll(bad);
            assertTrue(e instanceof IncompleteImageException || e.getMessage().contains("truncated"),
                    "cut at " + cut + ": " + e.getMessage());
        }
    }

    @Test
    void streamReaderNamesTheTruncatedChunk() throws IOException {
        IndexEntry e = entries.get(2);
        int cut = (int) (e.offset() + ChunkHeader.SIZE + 100);
        byte[] bad = java.util.Arrays.copyOf(image, cut);
        ImageException ex = assertThrows(ImageCorruptException.class, () -> drainStream(bad));
        assertEquals("image.cryo is truncated: chunk 2 at offset " + e.offset() + " declares " + e.storedLength()
                + " bytes but only 100 remain", ex.getMessage());
        // Cut exactly at a chunk boundary: no index, no trailer.
        byte[] noIndex = java.util.Arrays.copyOf(image, (int) indexOffset);
        ImageException ex2 = assertThrows(ImageCorruptException.class, () -> drainStream(noIndex));
        assertTrue(ex2.getMessage().contains("the dump did not complete"), ex2.getMessage());
    }

    @Test
    void streamReaderDetectsFlips() throws IOException {
        for (IndexEntry e : entries) {
            byte[] bad = image.clone();
            bad[(int) (e.offset() + ChunkHeader.SIZE)] ^= 0x10;
            ImageException ex = assertThrows(ImageException.class, () -> drainStream(bad));
            assertTrue(ex.getMessage().startsWith("image.cryo chunk " + e.number() + " ("), ex.getMessage());
        }
    }

    @Test
    void hugeDeclaredLengthIsRefusedBeforeAllocating() throws IOException {
        // Stream: a chunk header declaring ~4 GiB right after a valid file header.
        ByteBuffer b = ByteBuffer.allocate(FileHeader.SIZE + ChunkHeader.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(java.util.Arrays.copyOf(image, FileHeader.SIZE));
        b.put((byte) 2).put((byte) 0).putShort((short) 0).putInt(0).putInt(0xfffffff0).putInt(0xfffffff0);
        ImageException e = assertThrows(ImageCorruptException.class, () -> drainStream(b.array()));
        assertTrue(e.getMessage().startsWith("image.cryo chunk 0 (pages of pid 0 at 0x0, offset 32): declared payload length 4294967280 exceeds the limit of 67108864 bytes"),
                e.getMessage());

        // File: an index entry (with a valid index CRC) declaring ~4 GiB.
        byte[] bad = image.clone();
        ByteBuffer f = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
        int entry0 = (int) indexOffset + ChunkHeader.SIZE + 4;
        f.putInt(entry0 + 4, 0xfffffff0);
        CRC32C crc = new CRC32C();
        crc.update(bad, (int) indexOffset, ChunkHeader.CRC_OFFSET);
        int indexPayload = f.getInt((int) indexOffset + 8);
        crc.update(bad, (int) indexOffset + ChunkHeader.SIZE, indexPayload);
        f.putInt((int) indexOffset + ChunkHeader.CRC_OFFSET, (int) crc.getValue());
        ImageException e2 = readAll(bad);
        assertTrue(e2.getMessage().contains("entry for chunk 0") && e2.getMessage().contains("exceeds the limit"),
                e2.getMessage());
    }

    @Test
    void newerFormatVersionIsRefused() throws IOException {
        byte[] newer = image.clone();
        ByteBuffer h = ByteBuffer.wrap(newer).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(8, 7);
        CRC32C crc = new CRC32C();
        crc.update(newer, 0, 28);
        h.putInt(28, (int) crc.getValue());
        ImageException e = readAll(newer);
        assertInstanceOf(UnsupportedImageVersionException.class, e);
        assertEquals("image.cryo: image format version 7 is newer than this build reads (1)", e.getMessage());
    }

    static void drainStream(byte[] bytes) throws IOException {
        try (ImageStreamReader r = new ImageStreamReader(Channels.newChannel(new java.io.ByteArrayInputStream(bytes)),
                "image.cryo", CODECS, ImageFormat.DEFAULT_MAX_CHUNK)) {
            ImageStreamReader.Chunk c;
            while ((c = r.next()) != null) {
                if (c.entry().type() == ChunkType.PAGES) c.readPages(ByteBuffer.allocateDirect(c.entry().rawLength()));
            }
        }
    }
}
