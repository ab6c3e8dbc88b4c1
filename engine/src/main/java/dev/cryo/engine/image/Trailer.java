package dev.cryo.engine.image;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The fixed 32-byte trailer, always the last bytes of a committed image. Written last, so its
 * presence means the dump completed. Layout (little-endian):
 * <pre>
 *  0  u8[8] magic "CRYOEND\0"
 *  8  u64   file offset of the index chunk header
 * 16  u32   total length of the index chunk (40-byte header + payload)
 * 20  u32   number of chunks before the index (= index entry count)
 * 24  u32   reserved, 0
 * 28  u32   CRC32C of bytes 0..27
 * </pre>
 */
record Trailer(long indexOffset, int indexLength, int chunkCount) {
    static final int SIZE = 32;

    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ImageFormat.ORDER);
        b.put(ImageFormat.TRAILER_MAGIC).putLong(indexOffset).putInt(indexLength).putInt(chunkCount).putInt(0);
        b.putInt((int) crcOf(b));
        return b.flip();
    }

    static boolean hasMagic(ByteBuffer b) {
        byte[] magic = new byte[8];
        b.get(0, magic);
        return Arrays.equals(magic, ImageFormat.TRAILER_MAGIC);
    }

    /**
     * Decodes the trailer found at the end of a stream or file of {@code totalSize} bytes and
     * checks it is consistent with that size. Missing magic is the caller's business.
     */
    static Trailer decode(ByteBuffer b, String file, long totalSize, long maxChunk) throws ImageException {
        b.order(ImageFormat.ORDER);
        long stored = Integer.toUnsignedLong(b.getInt(SIZE - 4));
        long computed = crcOf(b);
        if (stored != computed) {
            throw new ImageCorruptException(file + " trailer: " + Hex.crcMismatch(stored, computed));
        }
        Trailer t = new Trailer(b.getLong(8), b.getInt(16), b.getInt(20));
        long indexLen = Integer.toUnsignedLong(t.indexLength);
        if (b.getInt(24) != 0) {
            throw new ImageCorruptException(file + " trailer: non-zero reserved bytes");
        }
        if (indexLen < ChunkHeader.SIZE + 4 || indexLen > ChunkHeader.SIZE + maxChunk) {
            throw new ImageCorruptException(file + " trailer: index length " + indexLen + " is out of range");
        }
        if (t.indexOffset < FileHeader.SIZE || t.indexOffset > totalSize
                || t.indexOffset + indexLen + SIZE != totalSize) {
            throw new ImageCorruptException(file + " trailer: index at offset " + t.indexOffset + " with length "
                    + indexLen + " does not end where the trailer starts (file size " + totalSize + ")");
        }
        return t;
    }

    private static long crcOf(ByteBuffer b) {
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(SIZE - 4));
        return crc.getValue();
    }
}
