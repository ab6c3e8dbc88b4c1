package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * {@link RecordFields} with the model's rules on top: each field is named in errors, bounds are
 * checked on write too, and arrays the records require are refused when absent (a record's
 * constructor would otherwise fail with a bare NullPointerException).
 */
public final class ModelFields {
    private ModelFields() {}

    /** A count of {@code what} in {@code record}, refused below 0 or above {@code max} (a forged length). */
    public static int readCount(Input in, String record, int max, String what) {
        int n = in.readVarInt(true);
        if (n < 0 || n > max) {
            throw new com.esotericsoftware.kryo.KryoException(record + ": " + n + " " + what + " (at most " + max + ")");
        }
        return n;
    }

    public static void writeText(Output out, String s, int max, String what) {
        if (s != null && s.length() > max / 3 && s.getBytes(StandardCharsets.UTF_8).length > max) {
            throw new IllegalArgumentException(what + " is longer than " + max + " bytes");
        }
        RecordFields.writeString(out, s);
    }

    public static String readText(Input in, int max, String what) {
        try {
            return RecordFields.readString(in, max);
        } catch (KryoException e) {
            throw named(what, e);
        }
    }

    public static void writeBytes(Output out, byte[] b, int max, String what) {
        checkWrite(required(b, what).length, max, what);
        RecordFields.writeBytes(out, b);
    }

    public static byte[] readBytes(Input in, int max, String what) {
        try {
            return required(RecordFields.readBytes(in, max), what);
        } catch (KryoException e) {
            throw named(what, e);
        }
    }

    public static void writeLongs(Output out, long[] a, int max, String what) {
        checkWrite(required(a, what).length, max, what);
        RecordFields.writeLongs(out, a);
    }

    public static long[] readLongs(Input in, int max, String what) {
        try {
            return required(RecordFields.readLongs(in, max), what);
        } catch (KryoException e) {
            throw named(what, e);
        }
    }

    public static void writeInts(Output out, List<Integer> list, int max, String what) {
        checkWrite(list.size(), max, what);
        RecordFields.writeInts(out, list.stream().mapToInt(Integer::intValue).toArray());
    }

    public static List<Integer> readInts(Input in, int max, String what) {
        try {
            int[] a = required(RecordFields.readInts(in, max), what);
            List<Integer> out = new ArrayList<>(a.length);
            for (int v : a) out.add(v);
            return Collections.unmodifiableList(out);
        } catch (KryoException e) {
            throw named(what, e);
        }
    }

    public static <T> void writeList(Output out, RecordCodec<T> codec, List<T> list, int max, String what) {
        checkWrite(list.size(), max, what);
        RecordFields.writeList(out, codec, list);
    }

    public static <T> List<T> readList(Input in, RecordCodec<T> codec, int max, String what) {
        try {
            return RecordFields.readList(in, codec, max);
        } catch (KryoException e) {
            throw named(what, e);
        }
    }

    /** A count, then each byte array with its length (each at most {@code maxBytes}). */
    public static void writeByteArrays(Output out, List<byte[]> list, int max, int maxBytes, String what) {
        checkWrite(list.size(), max, what);
        out.writeVarInt(list.size(), true);
        for (byte[] b : list) {
            writeBytes(out, b, maxBytes, what);
        }
    }

    public static List<byte[]> readByteArrays(Input in, int max, int maxBytes, String what) {
        int n = in.readVarInt(true);
        if (n < 0 || n > max) {
            throw new KryoException(what + ": " + Integer.toUnsignedString(n) + " entries exceed the limit of " + max);
        }
        if (n > in.limit() - in.position()) {
            throw new KryoException(what + ": " + n + " entries run past the end of the record");
        }
        List<byte[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(readBytes(in, maxBytes, what));
        return Collections.unmodifiableList(out);
    }

    /** A count, then each siginfo_t as its raw 128 bytes (no per-element length: the size is fixed). */
    public static void writeSiginfos(Output out, List<byte[]> list, int max, String what) {
        checkWrite(list.size(), max, what);
        out.writeVarInt(list.size(), true);
        for (byte[] s : list) {
            if (s.length != ModelLimits.SIGINFO) {
                throw new IllegalArgumentException(what + ": a siginfo has " + s.length + " bytes, not " + ModelLimits.SIGINFO);
            }
            out.writeBytes(s);
        }
    }

    public static List<byte[]> readSiginfos(Input in, int max, String what) {
        int n = in.readVarInt(true);
        if (n < 0 || n > max) {
            throw new KryoException(what + ": " + Integer.toUnsignedString(n) + " signals exceed the limit of " + max);
        }
        if ((long) n * ModelLimits.SIGINFO > in.limit() - in.position()) {
            throw new KryoException(what + ": " + n + " signals run past the end of the record");
        }
        List<byte[]> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(in.readBytes(ModelLimits.SIGINFO));
        return Collections.unmodifiableList(out);
    }

    private static void checkWrite(int length, int max, String what) {
        if (length > max) {
            throw new IllegalArgumentException(what + " has " + length + " elements, more than the limit of " + max);
        }
    }

    private static <T> T required(T value, String what) {
        if (value == null) throw new KryoException(what + " is missing");
        return value;
    }

    private static KryoException named(String what, KryoException e) {
        return new KryoException(what + ": " + e.getMessage(), e);
    }
}
