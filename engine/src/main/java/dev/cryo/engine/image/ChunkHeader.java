package dev.cryo.engine.image;

import java.nio.ByteBuffer;

/**
 * The fixed 40-byte header in front of every chunk's payload. Layout (little-endian):
 * <pre>
 *  0  u8   chunk type (1 RECORD, 2 PAGES, 3 INDEX)
 *  1  u8   flags (bit 0: payload is a zstd frame; bit 2: pages that each hold the 1-byte payload repeated)
 *  2  u16  reserved, 0
 *  4  u32  chunk number (0-based, equal to its position in the index)
 *  8  u32  stored length: payload bytes that follow this header
 * 12  u32  raw length: payload bytes after decompression (= stored length when not compressed)
 * 16  u32  pid owning the pages (PAGES only, else 0)
 * 20  u32  page count (PAGES only, else 0)
 * 24  u64  virtual address of the first page (PAGES only, else 0)
 * 32  u32  reserved, 0
 * 36  u32  CRC32C of header bytes 0..35 followed by the stored payload
 * </pre>
 * The type code is kept raw here so that an unknown code can still be described in an error.
 */
record ChunkHeader(int typeCode, int flags, int number, int storedLength, int rawLength,
                   int pid, int pageCount, long vaddr, int reserved16, int reserved32, int crc) {
    static final int SIZE = 40;
    static final int CRC_OFFSET = 36;

    ChunkType type() {
        return ChunkType.fromCode(typeCode);
    }

    boolean zstd() {
        return (flags & ImageFormat.FLAG_ZSTD) != 0;
    }

    /** An index chunk holding a digest of the entries, not the entries. */
    boolean indexDigest() {
        return (flags & ImageFormat.FLAG_INDEX_DIGEST) != 0;
    }

    /** Writes bytes 0..35 (CRC left as 0) into b at position 0; b must be little-endian. */
    static void encodeWithoutCrc(ByteBuffer b, ChunkType type, int flags, int number, int storedLength,
                                 int rawLength, int pid, int pageCount, long vaddr) {
        b.clear();
        b.put(0, (byte) type.code).put(1, (byte) flags).putShort(2, (short) 0)
                .putInt(4, number).putInt(8, storedLength).putInt(12, rawLength)
                .putInt(16, pid).putInt(20, pageCount).putLong(24, vaddr).putInt(32, 0).putInt(CRC_OFFSET, 0);
    }

    /** Reads the 40 bytes at absolute positions 0..39 of b. No validation: see {@link ChunkChecks}. */
    static ChunkHeader decode(ByteBuffer b) {
        b.order(ImageFormat.ORDER);
        return new ChunkHeader(b.get(0) & 0xff, b.get(1) & 0xff, b.getInt(4), b.getInt(8), b.getInt(12),
                b.getInt(16), b.getInt(20), b.getLong(24), b.getShort(2), b.getInt(32), b.getInt(CRC_OFFSET));
    }

    long storedLengthUnsigned() {
        return Integer.toUnsignedLong(storedLength);
    }

    long rawLengthUnsigned() {
        return Integer.toUnsignedLong(rawLength);
    }

    /** "pages of pid 4242 at 0x7f12a000" / "record" / "index" / "unknown type 0x09". */
    String kind() {
        ChunkType t = type();
        if (t == null) return String.format("unknown type 0x%02x", typeCode);
        if (t == ChunkType.PAGES) return ((flags & ImageFormat.FLAG_FILL) != 0 ? "filled " : "") + "pages of pid " + Integer.toUnsignedString(pid) + " at " + Hex.addr(vaddr);
        return t.label;
    }
}
