package dev.cryo.engine.image;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * Field helpers for {@link RecordCodec}s. Every read of something with a length takes a bound
 * and also refuses lengths larger than the bytes left in the record, so a damaged length can
 * never make us allocate gigabytes. Lengths are varints; a length of 0 in nullable encodings
 * means null and n+1 means n elements.
 */
public final class RecordFields {
    private RecordFields() {}

    // --- strings (UTF-8; Kryo's own readString trusts the declared length, so we do not use it) ---

    public static void writeString(Output out, String s) {
        if (s == null) {
            out.writeVarInt(0, true);
            return;
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeVarInt(b.length + 1, true);
        out.writeBytes(b);
    }

    /** Reads a nullable string of at most maxBytes UTF-8 bytes. */
    public static String readString(Input in, int maxBytes) {
        int n = readLength(in, maxBytes, 1, "string");
        return n < 0 ? null : new String(in.readBytes(n), StandardCharsets.UTF_8);
    }

    // --- byte / long / int arrays (nullable) ---

    public static void writeBytes(Output out, byte[] b) {
        out.writeVarInt(b == null ? 0 : b.length + 1, true);
        if (b != null) out.writeBytes(b);
    }

    public static byte[] readBytes(Input in, int maxLength) {
        int n = readLength(in, maxLength, 1, "byte array");
        return n < 0 ? null : in.readBytes(n);
    }

    /** Fixed 8 bytes per element: register files and addresses are not small numbers. */
    public static void writeLongs(Output out, long[] a) {
        out.writeVarInt(a == null ? 0 : a.length + 1, true);
        if (a != null) out.writeLongs(a, 0, a.length);
    }

    public static long[] readLongs(Input in, int maxLength) {
        int n = readLength(in, maxLength, 8, "long array");
        return n < 0 ? null : in.readLongs(n);
    }

    public static void writeInts(Output out, int[] a) {
        out.writeVarInt(a == null ? 0 : a.length + 1, true);
        if (a != null) out.writeInts(a, 0, a.length);
    }

    public static int[] readInts(Input in, int maxLength) {
        int n = readLength(in, maxLength, 4, "int array");
        return n < 0 ? null : in.readInts(n);
    }

    // --- nullable values ---

    public static <T> void writeNullable(Output out, T value, BiConsumer<Output, T> writer) {
        out.writeBoolean(value != null);
        if (value != null) writer.accept(out, value);
    }

    public static <T> T readNullable(Input in, Function<Input, T> reader) {
        return in.readBoolean() ? reader.apply(in) : null;
    }

    // --- nested records, each carrying its own codec version so it can evolve on its own ---

    public static <T> void writeRecord(Output out, RecordCodec<T> codec, T value) {
        VersionedSerializer.writeVersioned(out, codec, value);
    }

    public static <T> T readRecord(Input in, RecordCodec<T> codec) {
        return VersionedSerializer.readVersioned(in, codec);
    }

    /** A non-null list of non-null records; use writeNullable around it if the list may be absent. */
    public static <T> void writeList(Output out, RecordCodec<T> codec, List<T> list) {
        out.writeVarInt(list.size(), true);
        for (T t : list) writeRecord(out, codec, t);
    }

    /** Returns an unmodifiable list of at most maxCount records. */
    public static <T> List<T> readList(Input in, RecordCodec<T> codec, int maxCount) {
        int n = in.readVarInt(true);
        checkLength(in, n, maxCount, 1, "list");
        List<T> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(readRecord(in, codec));
        return Collections.unmodifiableList(out);
    }

    /** Reads a nullable length (0 = null, n+1 = n); returns -1 for null. */
    private static int readLength(Input in, int max, int elementBytes, String what) {
        int v = in.readVarInt(true);
        if (v == 0) return -1;
        int n = v - 1;
        checkLength(in, n, max, elementBytes, what);
        return n;
    }

    private static void checkLength(Input in, int n, int max, int elementBytes, String what) {
        if (n < 0 || n > max) {
            throw new KryoException(what + " length " + Integer.toUnsignedString(n) + " exceeds the limit of " + max);
        }
        // Records are always decoded from a complete in-memory payload, so limit() is its end.
        if (in.getInputStream() == null && (long) n * elementBytes > in.limit() - in.position()) {
            throw new KryoException(what + " length " + n + " runs past the end of the record");
        }
    }
}
