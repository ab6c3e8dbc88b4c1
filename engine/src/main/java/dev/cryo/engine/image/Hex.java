package dev.cryo.engine.image;

/** Formatting for error messages. */
final class Hex {
    private Hex() {}

    static String crcMismatch(long stored, long computed) {
        return String.format("CRC32C mismatch (stored 0x%08x, computed 0x%08x)", stored, computed);
    }

    static String addr(long vaddr) {
        return "0x" + Long.toHexString(vaddr);
    }

    static String bytes(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }
}
