package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.ItimerImage;

public final class ItimerImageCodec implements RecordCodec<ItimerImage> {
    public static final ItimerImageCodec INSTANCE = new ItimerImageCodec();

    public Class<ItimerImage> type() { return ItimerImage.class; }
    public int id() { return ModelCodecs.ITIMER_ID; }
    public int version() { return 1; }

    public void write(Output out, ItimerImage t) {
        out.writeVarInt(t.which(), true);
        out.writeLong(t.valueSec());
        out.writeLong(t.valueUsec());
        out.writeLong(t.intervalSec());
        out.writeLong(t.intervalUsec());
    }

    public ItimerImage read(Input in, int version) {
        return new ItimerImage(in.readVarInt(true), in.readLong(), in.readLong(), in.readLong(), in.readLong());
    }
}
