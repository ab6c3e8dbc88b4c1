package dev.cryo.engine.image;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The 32-byte file header. Layout (little-endian):
 * <pre>
 *  0  u8[8] magic "CRYOIMG\0"
 *  8  u32   format version (1)
 * 12  u32   page size in bytes (power of two, 4096 on x86-64)
 * 16  u32   flags (none defined; must be 0)
 * 20  u32   reserved, 0
 * 24  u32   reserved, 0
 * 28  u32   CRC32C of bytes 0..27
 * </pre>
 * Contract for later versions: magic, version and the CRC at 28 stay where they are, so any build
 * can tell "damaged" from "newer" before interpreting anything else.
 */
record FileHeader(int formatVersion, int pageSize) {
    static final int SIZE = 32;

    static FileHeader current(int pageSize) {
        return new FileHeader(ImageFormat.FORMAT_VERSION, pageSize);
    }

    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ImageFormat.ORDER);
        b.put(ImageFormat.HEADER_MAGIC).putInt(formatVersion).putInt(pageSize).putInt(0).putInt(0).putInt(0);
        b.putInt((int) crcOf(b, SIZE - 4));
        return b.flip();
    }

    /** Decodes and checks a header; b holds exactly {@link #SIZE} bytes from position 0. */
    static FileHeader decode(ByteBuffer b, String file) throws ImageException {
        b.order(ImageFormat.ORDER);
        byte[] magic = new byte[8];
        b.get(0, magic);
        if (!Arrays.equals(magic, ImageFormat.HEADER_MAGIC)) {
            throw new ImageCorruptException(file + " header: bad magic " + Hex.bytes(magic)
                    + " (not a cryo image, or its first bytes are damaged)");
        }
        long stored = Integer.toUnsignedLong(b.getInt(SIZE - 4));
        long computed = crcOf(b, SIZE - 4);
        if (stored != computed) {
            throw new ImageCorruptException(file + " header: " + Hex.crcMismatch(stored, computed));
        }
        int version = b.getInt(8);
        if (Integer.compareUnsigned(version, ImageFormat.FORMAT_VERSION) > 0) {
            throw new UnsupportedImageVersionException(file + ": image format version "
                    + Integer.toUnsignedString(version) + " is newer than this build reads ("
                    + ImageFormat.FORMAT_VERSION + ")");
        }
        if (version < 1) {
            throw new ImageCorruptException(file + " header: invalid format version " + version);
        }
        int pageSize = b.getInt(12);
        if (pageSize < 512 || pageSize > (1 << 24) || Integer.bitCount(pageSize) != 1) {
            throw new ImageCorruptException(file + " header: invalid page size " + Integer.toUnsignedString(pageSize));
        }
        if (b.getInt(16) != 0 || b.getInt(20) != 0 || b.getInt(24) != 0) {
            throw new ImageCorruptException(file + " header: unknown flags or non-zero reserved bytes");
        }
        return new FileHeader(version, pageSize);
    }

    private static long crcOf(ByteBuffer b, int len) {
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(len));
        return crc.getValue();
    }
}
