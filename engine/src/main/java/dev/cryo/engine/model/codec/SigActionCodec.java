package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.SigAction;

public final class SigActionCodec implements RecordCodec<SigAction> {
    public static final SigActionCodec INSTANCE = new SigActionCodec();

    public Class<SigAction> type() { return SigAction.class; }
    public int id() { return ModelCodecs.SIG_ACTION_ID; }
    public int version() { return 1; }

    public void write(Output out, SigAction s) {
        out.writeVarInt(s.signal(), false);
        out.writeLong(s.handler());
        out.writeLong(s.flags());
        out.writeLong(s.restorer());
        out.writeLong(s.mask());
    }

    public SigAction read(Input in, int version) {
        return new SigAction(in.readVarInt(false), in.readLong(), in.readLong(), in.readLong(), in.readLong());
    }
}
