package dev.cryo.engine.image;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Constants of the on-disk image container format, version 1.
 *
 * <p>Every multi-byte integer in the framing (file header, chunk headers, index, trailer) is
 * little-endian. The layouts are documented on {@link FileHeader}, {@link ChunkHeader},
 * {@link IndexCodec} and {@link Trailer}.
 */
public final class ImageFormat {
    private ImageFormat() {}

    /** The single format version this build writes and reads. */
    public static final int FORMAT_VERSION = 1;

    public static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    public static final String IMAGE_FILE = "image.cryo";
    public static final String PARTIAL_FILE = "image.cryo.partial";

    static final byte[] HEADER_MAGIC = "CRYOIMG\0".getBytes(StandardCharsets.US_ASCII);
    static final byte[] TRAILER_MAGIC = "CRYOEND\0".getBytes(StandardCharsets.US_ASCII);

    /** Default bound on any declared length, checked before allocating. */
    public static final long DEFAULT_MAX_CHUNK = 64L << 20;

    /** Chunk flag: payload is a zstd frame; the header's rawLength is the decompressed size. */
    static final int FLAG_ZSTD = 1;
    /**
     * Index chunk flag: the payload is the chunk count and a CRC32C of the entries a full index
     * would list ({@link IndexCodec#encodeDigest}), not the entries: a stream's reader has seen
     * every chunk header already, and a file reader finds them by walking the headers.
     */
    static final int FLAG_INDEX_DIGEST = 2;
    /**
     * Pages chunk flag: every one of its pages holds one byte repeated (the payload, 1 byte). Ruby's
     * YJIT fills its 256 MiB code area with one byte, so that area took 256 MiB of image; a page
     * that became zero after a pre-copy round had sent it is one too.
     */
    static final int FLAG_FILL = 4;
    /**
     * Record chunk flag: the record goes on in the next chunk, a record chunk too. A task's record larger than
     * one chunk (tens of thousands of sockets with their queues: stress-ng's sockpair) is written in parts, in
     * consecutive chunks, all but the last flagged, up to {@link #MAX_RECORD_PARTS}.
     */
    static final int FLAG_CONTINUED = 8;
    static final int KNOWN_FLAGS = FLAG_ZSTD | FLAG_INDEX_DIGEST | FLAG_FILL | FLAG_CONTINUED;
    /** Chunks one record may take at most: its bytes are held whole to be decoded (1 GiB at the default max chunk). */
    public static final int MAX_RECORD_PARTS = 16;
    /**
     * A fill chunk's pages must end below this (x86-64's user space, 5-level paging): its page count
     * is not bounded by a payload length as other pages chunks' are.
     */
    static final long USER_SPACE_END = 1L << 56;

    /** Readers take the bound from the caller; it must fit the u32/int arithmetic of the format. */
    static long checkMaxChunk(long maxChunk) {
        if (maxChunk < 4096 || maxChunk > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("max chunk length " + maxChunk + " is outside 4096.." + (Integer.MAX_VALUE - 64));
        }
        return maxChunk;
    }
}
