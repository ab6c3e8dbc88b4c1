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
        if (t == ChunkType.PAGES) {
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

    static IndexEntry toEntry(ChunkHeader h, long offset) {
        return new IndexEntry(h.number(), h.type(), h.zstd(), offset, h.storedLength(), h.rawLength(),
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
