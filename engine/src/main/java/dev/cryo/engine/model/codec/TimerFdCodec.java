package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FileDesc;

public final class TimerFdCodec implements RecordCodec<FileDesc.TimerFd> {
    public static final TimerFdCodec INSTANCE = new TimerFdCodec();

    public Class<FileDesc.TimerFd> type() { return FileDesc.TimerFd.class; }
    public int id() { return ModelCodecs.TIMER_FD_ID; }
    public int version() { return 1; }

    public void write(Output out, FileDesc.TimerFd t) {
        out.writeVarInt(t.clockId(), true);
        out.writeLong(t.ticks());
        out.writeLong(t.valueSec());
        out.writeLong(t.valueNsec());
        out.writeLong(t.intervalSec());
        out.writeLong(t.intervalNsec());
    }

    public FileDesc.TimerFd read(Input in, int version) {
        return new FileDesc.TimerFd(in.readVarInt(true), in.readLong(), in.readLong(), in.readLong(), in.readLong(),
                in.readLong());
    }
}
