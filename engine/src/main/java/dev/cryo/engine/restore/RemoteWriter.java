package dev.cryo.engine.restore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds the little-endian structs and NUL-terminated strings that injected syscalls read. */
public final class RemoteWriter {
    private final ByteBuffer b;

    public RemoteWriter(int size) {
        b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    public RemoteWriter longs(long... values) {
        for (long v : values) {
            b.putLong(v);
        }
        return this;
    }

    public RemoteWriter ints(int... values) {
        for (int v : values) {
            b.putInt(v);
        }
        return this;
    }

    public RemoteWriter bytes(byte[] v) {
        b.put(v);
        return this;
    }

    public static byte[] cString(String s) {
        byte[] raw = s.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[raw.length + 1];
        System.arraycopy(raw, 0, out, 0, raw.length);
        return out;
    }

    public byte[] toBytes() {
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }
}
