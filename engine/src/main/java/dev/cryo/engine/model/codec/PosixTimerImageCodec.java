package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.PosixTimerImage;

public final class PosixTimerImageCodec implements RecordCodec<PosixTimerImage> {
    public static final PosixTimerImageCodec INSTANCE = new PosixTimerImageCodec();

    public Class<PosixTimerImage> type() { return PosixTimerImage.class; }
    public int id() { return ModelCodecs.POSIX_TIMER_ID; }
    public int version() { return 2; }

    public void write(Output out, PosixTimerImage t) {
        out.writeInt(t.id());
        out.writeInt(t.clockId());
        out.writeVarInt(t.sigevNotify(), true);
        out.writeVarInt(t.signal(), true);
        out.writeLong(t.sigevValue());
        out.writeVarInt(t.targetTid(), true);
        out.writeLong(t.valueSec());
        out.writeLong(t.valueNsec());
        out.writeLong(t.intervalSec());
        out.writeLong(t.intervalNsec());
        out.writeInt(t.overrun());
        out.writeInt(t.pendingOverrun());
    }

    public PosixTimerImage read(Input in, int version) {
        return new PosixTimerImage(in.readInt(), in.readInt(), in.readVarInt(true), in.readVarInt(true), in.readLong(),
                in.readVarInt(true), in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readInt(),
                version >= 2 ? in.readInt() : -1); // v2: pendingOverrun
    }
}
