package dev.cryo.engine.image;

import java.nio.ByteBuffer;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * Checks shared by every reader; each throws with the caller's description of where, built only
 * for the message (readers check tens of thousands of chunks, whose descriptions format addresses).
 */
final class ChunkChecks {
    private ChunkChecks() {}

    /** "image.cryo chunk 17 (pages of pid 4242 at 0x7f12a000, offset 1048640)" */
    static String where(String file, int number, ChunkHeader h, long offset) {
        return file + " chunk " + Integer.toUnsignedString(number) + " (" + h.kind() + ", offset " + offset + ")";
    }

    /** Bounds declared lengths before anything is allocated from them. */
    static void checkLengths(Supplier<String> where, ChunkHeader h, long maxChunk) throws ImageCorruptException {
        if (h.storedLengthUnsigned() > maxChunk) {
            throw new ImageCorruptException(where.get() + ": declared payload length " + h.storedLengthUnsigned()
                    + " exceeds the limit of " + maxChunk + " bytes");
        }
        if (h.rawLengthUnsigned() > maxChunk) {
            throw new ImageCorruptException(where.get() + ": declared raw length " + h.rawLengthUnsigned()
                    + " exceeds the limit of " + maxChunk + " bytes");
        }
    }

    /** Structural checks of a header (or index entry) whose CRC was already verified or which came from the index. */
    static void checkFields(Supplier<String> where, ChunkHeader h, int expectedNumber, int pageSize) throws ImageCorruptException {
        ChunkType t = h.type();
        if (t == null) {
            throw new ImageCorruptException(where.get() + ": unknown chunk type " + h.typeCode());
        }
        if (h.number() != expectedNumber) {
            throw new ImageCorruptException(where.get() + ": header says chunk number "
                    + Integer.toUnsignedString(h.number()) + ", expected " + expectedNumber);
        }
        if ((h.flags() & ~ImageFormat.KNOWN_FLAGS) != 0 || h.reserved16() != 0 || h.reserved32() != 0) {
            throw new ImageCorruptException(where.get() + String.format(": unknown flags 0x%02x or non-zero reserved bytes", h.flags()));
        }
        if ((h.flags() & ImageFormat.FLAG_INDEX_DIGEST) != 0 && t != ChunkType.INDEX) {
            throw new ImageCorruptException(where.get() + ": the index-digest flag set on a " + t.label + " chunk");
        }
        if ((h.flags() & ImageFormat.FLAG_CONTINUED) != 0 && t != ChunkType.RECORD) {
            throw new ImageCorruptException(where.get() + ": the continued-record flag set on a " + t.label + " chunk");
        }
        if ((h.flags() & ImageFormat.FLAG_FILL) != 0) {
            checkFill(where, h, pageSize);
        } else if (t == ChunkType.PAGES) {
            long expectRaw = Integer.toUnsignedLong(h.pageCount()) * pageSize;
            if (h.pageCount() == 0 || h.rawLengthUnsigned() != expectRaw) {
                throw new ImageCorruptException(where.get() + ": " + Integer.toUnsignedString(h.pageCount())
                        + " pages of " + pageSize + " bytes do not match raw length " + h.rawLengthUnsigned());
            }
            if ((h.vaddr() & (pageSize - 1)) != 0) {
                throw new ImageCorruptException(where.get() + ": address " + Hex.addr(h.vaddr()) + " is not page aligned");
            }
        } else if (h.pid() != 0 || h.pageCount() != 0 || h.vaddr() != 0 || h.zstd()) {
            throw new ImageCorruptException(where.get() + ": page fields or compression set on a " + t.label + " chunk");
        }
        if (!h.zstd() && h.storedLength() != h.rawLength()) {
            throw new ImageCorruptException(where.get() + ": uncompressed chunk with stored length "
                    + h.storedLengthUnsigned() + " != raw length " + h.rawLengthUnsigned());
        }
    }

    /**
     * A fill chunk: pages, one payload byte stored as is, and a page count that stays in user space
     * (nothing else bounds it: a forged count must not reach past what any mapping can hold).
     */
    private static void checkFill(Supplier<String> where, ChunkHeader h, int pageSize) throws ImageCorruptException {
        if (h.type() != ChunkType.PAGES || h.zstd() || h.rawLength() != 1 || h.storedLength() != 1) {
            throw new ImageCorruptException(where.get() + ": the fill flag on a " + h.type().label + " chunk of "
                    + h.storedLengthUnsigned() + " stored and " + h.rawLengthUnsigned() + " raw bytes"
                    + (h.zstd() ? ", compressed" : "") + " (a fill is 1 byte of pages, stored as is)");
        }
        long pages = Integer.toUnsignedLong(h.pageCount());
        if ((h.vaddr() & (pageSize - 1)) != 0 || pages == 0 || pages > Integer.MAX_VALUE
                || Long.compareUnsigned(h.vaddr(), ImageFormat.USER_SPACE_END) >= 0
                || pages > (ImageFormat.USER_SPACE_END - h.vaddr()) / pageSize) {
            throw new ImageCorruptException(where.get() + ": " + pages + " filled pages at " + Hex.addr(h.vaddr())
                    + " are not page aligned or reach past user space (" + Hex.addr(ImageFormat.USER_SPACE_END) + ")");
        }
    }

    static IndexEntry toEntry(ChunkHeader h, long offset) {
        return new IndexEntry(h.number(), h.type(), h.flags(), offset, h.storedLength(), h.rawLength(),
                h.pid(), h.vaddr(), h.pageCount());
    }

    /** True when the header read from the file describes the same chunk as the index entry. */
    static boolean matches(ChunkHeader h, IndexEntry e) {
        return h.type() == e.type() && h.number() == e.number() && h.flags() == e.flags()
                && h.storedLength() == e.storedLength() && h.rawLength() == e.rawLength()
                && h.pid() == e.pid() && h.vaddr() == e.vaddr() && h.pageCount() == e.pageCount();
    }

    /** CRC32C of header bytes 0..35 then the payload; neither buffer's position is changed. */
    static long crc(CRC32C crc, ByteBuffer header, ByteBuffer payload) {
        crc.reset();
        crc.update(header.duplicate().position(0).limit(ChunkHeader.CRC_OFFSET));
        crc.update(payload.duplicate());
        return crc.getValue();
    }

    static void checkCrc(Supplier<String> where, ChunkHeader h, long computed) throws ImageCorruptException {
        long stored = Integer.toUnsignedLong(h.crc());
        if (stored != computed) {
            throw new ImageCorruptException(where.get() + ": " + Hex.crcMismatch(stored, computed));
        }
    }
}
