package dev.cryo.engine.image;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;

import java.util.function.BiConsumer;

/**
 * Hand-written, versioned encoding of one persisted record type. Adding a record type means
 * writing one codec and adding one line to the registry list (see {@link RecordCodecs}).
 *
 * <p>Evolution rules: {@link #id()} is the Kryo registration id and is never reused, even after
 * the type is removed (retire it in the registry). When the field layout changes, bump
 * {@link #version()}, change {@link #write} to the new layout and keep a branch in {@link #read}
 * for every older version still found in images.
 *
 * <p>Use {@link RecordFields} for anything with a length so reads stay bounded.
 */
public interface RecordCodec<T> {
    /** The exact class written; subclasses are not matched. */
    Class<T> type();

    /** Kryo registration id, at least {@link RecordCodecs#MIN_ID}; unique and never reused. */
    int id();

    /** Version written by {@link #write}; starts at 1. */
    int version();

    /** Writes the fields in the layout of {@link #version()}; the version itself is written by the caller. */
    void write(Output out, T value);

    /** Reads the fields of a record written at {@code version} (1..{@link #version()}). */
    T read(Input in, int version);

    /** Reads the fields of one version of a record. */
    interface Reader<T> {
        T read(Input in, int version);
    }

    /** A codec from two functions, for small records declared next to their handler. */
    static <T> RecordCodec<T> of(Class<T> type, int id, int version, BiConsumer<Output, T> writer, Reader<T> reader) {
        return new RecordCodec<>() {
            public Class<T> type() { return type; }
            public int id() { return id; }
            public int version() { return version; }
            public void write(Output out, T value) { writer.accept(out, value); }
            public T read(Input in, int v) { return reader.read(in, v); }
        };
    }
}
