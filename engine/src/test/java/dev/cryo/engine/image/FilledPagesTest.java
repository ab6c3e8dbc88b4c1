package dev.cryo.engine.image;

import static dev.cryo.engine.image.SampleRecords.CODECS;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fill chunks (issue 10): pages that each hold one byte repeated take one byte of payload, are
 * read back by both readers, and a forged one — a page count past user space, a payload that is not
 * one byte, compression, the flag on a record — is refused, from its header and from its index entry.
 */
class FilledPagesTest {
    @TempDir Path tmp;

    private Path write(String name) throws IOException {
        Path dir = tmp.resolve(name);
        try (ImageWriter w = ImageWriter.create(dir, CODECS, ImageOptions.defaults().withFsync(false))) {
            SampleRecords.writeSampleImage(w);
            w.writeFill(9, 0x10000000L, 65536, (byte) 0xcc); // 256 MiB
            w.writePages(9, 0x20000000L, 1, SampleRecords.pages(9, 0x20000000L, 1, 4096));
            w.writeFill(9, 0x20001000L, 3, (byte) 0);
            w.commit();
        }
        return dir;
    }

    @Test
    void filledPagesTakeOneByteAndReadBackFromFileAndStream() throws IOException {
        Path dir = write("good");
        assertTrue(Files.size(dir.resolve("image.cryo")) < 64 << 10, "256 MiB of one byte took " + Files.size(dir.resolve("image.cryo")));
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            r.verify();
            List<IndexEntry> fills = r.pageChunks().stream().filter(IndexEntry::fill).toList();
            assertEquals(2, fills.size());
            assertEquals(65536, fills.get(0).pageCount());
            assertEquals(0xcc, r.fillByte(fills.get(0)));
            assertEquals(0, r.fillByte(fills.get(1)));
            assertTrue(fills.get(0).describe().contains("filled pages of pid 9 at 0x10000000"), fills.get(0).describe());
            assertFalse(r.pageChunks().stream().filter(e -> !e.fill()).findFirst().orElseThrow().fill());
        }
        byte[] image = Files.readAllBytes(dir.resolve("image.cryo"));
        int seen = 0;
        try (ImageStreamReader s = new ImageStreamReader(java.nio.channels.Channels.newChannel(new java.io.ByteArrayInputStream(image)),
                "image.cryo", CODECS, ImageFormat.DEFAULT_MAX_CHUNK)) {
            ImageStreamReader.Chunk c;
            while ((c = s.next()) != null) {
                if (c.entry().fill()) {
                    ByteBuffer b = ByteBuffer.allocateDirect(1);
                    c.readPages(b);
                    assertEquals(seen++ == 0 ? (byte) 0xcc : 0, b.get(0));
                }
            }
        }
        assertEquals(2, seen);
    }

    @Test
    void aForgedFillIsRefusedFromItsHeaderAndFromTheIndex() throws IOException {
        byte[] image = Files.readAllBytes(write("forge").resolve("image.cryo"));
        IndexEntry fill;
        try (ImageReader r = ImageReader.open(tmp.resolve("forge"), CODECS)) {
            fill = r.pageChunks().stream().filter(IndexEntry::fill).findFirst().orElseThrow();
        }
        int at = (int) fill.offset();
        record Forgery(String what, int field, long value, boolean asLong, String message) {}
        List<Forgery> forgeries = List.of(
                new Forgery("pages that run past user space", 24, (1L << 56) - 0x1000, true, "reach past user space"),
                new Forgery("a count that is negative as an int", 20, 0x80000000L, false, "reach past user space"),
                new Forgery("an address past user space", 24, 1L << 56, true, "reach past user space"),
                new Forgery("an unaligned address", 24, 0x10000010L, true, "not page aligned"),
                new Forgery("no pages", 20, 0, false, "reach past user space"),
                new Forgery("a raw length of a page", 12, 4096, false, "a fill is 1 byte"),
                new Forgery("compression", 1, ImageFormat.FLAG_FILL | ImageFormat.FLAG_ZSTD, false, "a fill is 1 byte"),
                new Forgery("the flag on a record", 0, ChunkType.RECORD.code, false, "the fill flag on a record chunk"));
        for (Forgery f : forgeries) {
            byte[] bad = image.clone();
            ByteBuffer b = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
            if (f.field() < 2) {
                b.put(at + f.field(), (byte) f.value());
            } else if (f.asLong()) {
                b.putLong(at + f.field(), f.value());
            } else {
                b.putInt(at + f.field(), (int) f.value());
            }
            CRC32C crc = new CRC32C();
            crc.update(bad, at, ChunkHeader.CRC_OFFSET);
            crc.update(bad, at + ChunkHeader.SIZE, fill.storedLength());
            b.putInt(at + ChunkHeader.CRC_OFFSET, (int) crc.getValue());
            ImageException e = assertThrows(ImageException.class, () -> ImageCorruptionTest.drainStream(bad), f.what());
            assertTrue(e.getMessage().contains(f.message()), f.what() + ": " + e.getMessage());
            assertTrue(e.getMessage().startsWith("image.cryo chunk " + fill.number() + " ("), e.getMessage());
        }
        // the index entry forged alike (its chunk's header left as it was, the index's CRC made good)
        long indexOffset;
        try (ImageReader r = ImageReader.open(tmp.resolve("forge"), CODECS)) {
            IndexEntry last = r.entries().get(r.entries().size() - 1);
            indexOffset = last.offset() + last.totalLength();
        }
        byte[] bad = image.clone();
        ByteBuffer b = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
        int entry = (int) indexOffset + ChunkHeader.SIZE + 4 + IndexCodec.ENTRY_SIZE * fill.number();
        b.putInt(entry + 32, 0x80000000);
        CRC32C crc = new CRC32C();
        crc.update(bad, (int) indexOffset, ChunkHeader.CRC_OFFSET);
        crc.update(bad, (int) indexOffset + ChunkHeader.SIZE, b.getInt((int) indexOffset + 8));
        b.putInt((int) indexOffset + ChunkHeader.CRC_OFFSET, (int) crc.getValue());
        Path dir = Files.createDirectories(tmp.resolve("forged-index"));
        Files.write(dir.resolve("image.cryo"), bad);
        ImageException e = assertThrows(ImageException.class, () -> ImageReader.open(dir, CODECS).close());
        assertTrue(e.getMessage().contains("entry for chunk " + fill.number()) && e.getMessage().contains("reach past user space"),
                e.getMessage());
    }
}
