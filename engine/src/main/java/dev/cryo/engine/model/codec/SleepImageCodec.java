package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.SleepImage;

public final class SleepImageCodec implements RecordCodec<SleepImage> {
    public static final SleepImageCodec INSTANCE = new SleepImageCodec();

    public Class<SleepImage> type() { return SleepImage.class; }
    public int id() { return ModelCodecs.SLEEP_ID; }
    public int version() { return 1; }

    public void write(Output out, SleepImage s) {
        out.writeVarInt(s.syscall(), true);
        out.writeInt(s.clockId());
        out.writeLong(s.remainingNsec());
    }

    public SleepImage read(Input in, int version) {
        return new SleepImage(in.readVarInt(true), in.readInt(), in.readLong());
    }
}
