package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FileDesc;

public final class EventFdCodec implements RecordCodec<FileDesc.EventFd> {
    public static final EventFdCodec INSTANCE = new EventFdCodec();

    public Class<FileDesc.EventFd> type() { return FileDesc.EventFd.class; }
    public int id() { return ModelCodecs.EVENT_FD_ID; }
    public int version() { return 1; }

    public void write(Output out, FileDesc.EventFd e) {
        out.writeLong(e.count());
        out.writeBoolean(e.semaphore());
    }

    public FileDesc.EventFd read(Input in, int version) {
        return new FileDesc.EventFd(in.readLong(), in.readBoolean());
    }
}
