package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.Rlimit;

public final class RlimitCodec implements RecordCodec<Rlimit> {
    public static final RlimitCodec INSTANCE = new RlimitCodec();

    public Class<Rlimit> type() { return Rlimit.class; }
    public int id() { return ModelCodecs.RLIMIT_ID; }
    public int version() { return 1; }

    public void write(Output out, Rlimit r) {
        out.writeVarInt(r.resource(), false);
        out.writeLong(r.soft());
        out.writeLong(r.hard());
    }

    public Rlimit read(Input in, int version) {
        return new Rlimit(in.readVarInt(false), in.readLong(), in.readLong());
    }
}
