package dev.cryo.engine.image;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Payload of the INDEX chunk (little-endian): u32 entry count, then one 40-byte entry per chunk
 * in file order (the entry's position is the chunk number):
 * <pre>
 *  0  u8   chunk type
 *  1  u8   chunk flags
 *  2  u16  reserved, 0
 *  4  u32  stored payload length
 *  8  u64  file offset of the chunk header
 * 16  u32  raw (decompressed) payload length
 * 20  u32  pid (PAGES, else 0)
 * 24  u64  virtual address (PAGES, else 0)
 * 32  u32  page count (PAGES, else 0)
 * 36  u32  reserved, 0
 * </pre>
 */
final class IndexCodec {
    static final int ENTRY_SIZE = 40;

    private IndexCodec() {}

    static ByteBuffer encode(List<IndexEntry> entries) {
        ByteBuffer b = ByteBuffer.allocate(4 + ENTRY_SIZE * entries.size()).order(ImageFormat.ORDER);
        b.putInt(entries.size());
        for (IndexEntry e : entries) {
            put(b, e);
        }
        return b.flip();
    }

    private static void put(ByteBuffer b, IndexEntry e) {
        b.put((byte) e.type().code).put((byte) e.flags()).putShort((short) 0)
                .putInt(e.storedLength()).putLong(e.offset()).putInt(e.rawLength())
                .putInt(e.pid()).putLong(e.vaddr()).putInt(e.pageCount()).putInt(0);
    }

    /** Payload of a digest index (flag {@link ImageFormat#FLAG_INDEX_DIGEST}): u32 entry count, u32 CRC32C of the entries. */
    static ByteBuffer encodeDigest(Digest d) {
        return ByteBuffer.allocate(8).order(ImageFormat.ORDER).putInt(d.count()).putInt((int) d.value()).flip();
    }

    /** Checks a digest index against the entries of the chunks read (their digest). */
    static void checkDigest(ByteBuffer payload, String where, Digest seen) throws ImageCorruptException {
        payload.order(ImageFormat.ORDER);
        int base = payload.position();
        if (payload.remaining() != 8) {
            throw new ImageCorruptException(where + ": a digest index of " + payload.remaining() + " bytes (8 expected)");
        }
        long count = Integer.toUnsignedLong(payload.getInt(base));
        long crc = Integer.toUnsignedLong(payload.getInt(base + 4));
        if (count != Integer.toUnsignedLong(seen.count())) {
            throw new ImageCorruptException(where + ": index declares " + count + " chunks, " + seen.count() + " were read");
        }
        if (crc != seen.value()) {
            throw new ImageCorruptException(where + ": index digest does not match the chunks that were read");
        }
    }

    /** The CRC32C of the entries a full index would list, kept as chunks are written or read. */
    static final class Digest {
        private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        private final ByteBuffer entry = ByteBuffer.allocate(ENTRY_SIZE).order(ImageFormat.ORDER);
        private int count;

        void add(IndexEntry e) {
            entry.clear();
            put(entry, e);
            crc.update(entry.array(), 0, ENTRY_SIZE);
            count++;
        }

        int count() {
            return count;
        }

        long value() {
            return crc.getValue();
        }
    }

    /**
     * Decodes and checks the index: chunks must be contiguous from the end of the file header to
     * {@code indexOffset}, and every entry must pass the same checks as a chunk header.
     */
    static List<IndexEntry> decode(ByteBuffer payload, String where, int expectedCount, long indexOffset,
                                   int pageSize, long maxChunk) throws ImageCorruptException {
        payload.order(ImageFormat.ORDER);
        int base = payload.position();
        long count = Integer.toUnsignedLong(payload.getInt(base));
        if (count != Integer.toUnsignedLong(expectedCount) || 4 + count * ENTRY_SIZE != payload.remaining()) {
            throw new ImageCorruptException(where + ": index declares " + count + " entries in "
                    + payload.remaining() + " bytes (trailer says " + Integer.toUnsignedString(expectedCount) + ")");
        }
        List<IndexEntry> out = new ArrayList<>((int) count);
        long expectedOffset = FileHeader.SIZE;
        for (int i = 0; i < count; i++) {
            int p = base + 4 + i * ENTRY_SIZE;
            ChunkHeader h = new ChunkHeader(payload.get(p) & 0xff, payload.get(p + 1) & 0xff, i,
                    payload.getInt(p + 4), payload.getInt(p + 16), payload.getInt(p + 20), payload.getInt(p + 32),
                    payload.getLong(p + 24), payload.getShort(p + 2), payload.getInt(p + 36), 0);
            long offset = payload.getLong(p + 8);
            int number = i;
            java.util.function.Supplier<String> entryWhere = () -> where + ": entry for chunk " + number + " (" + h.kind()
                    + ", offset " + offset + ")";
            if (offset != expectedOffset) {
                throw new ImageCorruptException(entryWhere.get() + ": expected offset " + expectedOffset);
            }
            if (h.type() == ChunkType.INDEX) {
                throw new ImageCorruptException(entryWhere.get() + ": the index lists another index");
            }
            ChunkChecks.checkLengths(entryWhere, h, maxChunk);
            ChunkChecks.checkFields(entryWhere, h, i, pageSize);
            IndexEntry e = ChunkChecks.toEntry(h, offset);
            expectedOffset += e.totalLength();
            if (expectedOffset > indexOffset) {
                throw new ImageCorruptException(entryWhere.get() + ": extends past the index at offset " + indexOffset);
            }
            out.add(e);
        }
        if (expectedOffset != indexOffset) {
            throw new ImageCorruptException(where + ": chunks end at offset " + expectedOffset
                    + " but the index starts at " + indexOffset);
        }
        return out;
    }
}
