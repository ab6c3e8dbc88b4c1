package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FileDesc;

public final class SignalFdCodec implements RecordCodec<FileDesc.SignalFd> {
    public static final SignalFdCodec INSTANCE = new SignalFdCodec();

    public Class<FileDesc.SignalFd> type() { return FileDesc.SignalFd.class; }
    public int id() { return ModelCodecs.SIGNAL_FD_ID; }
    public int version() { return 1; }

    public void write(Output out, FileDesc.SignalFd s) {
        out.writeLong(s.mask());
    }

    public FileDesc.SignalFd read(Input in, int version) {
        return new FileDesc.SignalFd(in.readLong());
    }
}
