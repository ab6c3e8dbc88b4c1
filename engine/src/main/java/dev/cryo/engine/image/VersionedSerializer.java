package dev.cryo.engine.image;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;

/** Adapts a {@link RecordCodec} to Kryo: a varint version, then the codec's fields. */
final class VersionedSerializer<T> extends Serializer<T> {
    private final RecordCodec<T> codec;

    VersionedSerializer(RecordCodec<T> codec) {
        super(false, true);
        this.codec = codec;
    }

    @Override
    public void write(Kryo kryo, Output output, T value) {
        writeVersioned(output, codec, value);
    }

    @Override
    public T read(Kryo kryo, Input input, Class<? extends T> type) {
        return readVersioned(input, codec);
    }

    static <T> void writeVersioned(Output out, RecordCodec<T> codec, T value) {
        out.writeVarInt(codec.version(), true);
        codec.write(out, value);
    }

    static <T> T readVersioned(Input in, RecordCodec<T> codec) {
        int version = in.readVarInt(true);
        if (version > codec.version()) {
            throw new RecordVersionException("record " + codec.type().getSimpleName() + " version " + version
                    + " is newer than this build reads (" + codec.version() + ")");
        }
        if (version < 1) {
            throw new KryoException("record " + codec.type().getSimpleName() + " has invalid version " + version);
        }
        return codec.read(in, version);
    }
}
