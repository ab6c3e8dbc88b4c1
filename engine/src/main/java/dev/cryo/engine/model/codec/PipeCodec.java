package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FileDesc;

public final class PipeCodec implements RecordCodec<FileDesc.Pipe> {
    public static final PipeCodec INSTANCE = new PipeCodec();

    public Class<FileDesc.Pipe> type() { return FileDesc.Pipe.class; }
    public int id() { return ModelCodecs.PIPE_ID; }
    public int version() { return 1; }

    public void write(Output out, FileDesc.Pipe p) {
        out.writeLong(p.pipeId());
        out.writeBoolean(p.readEnd());
        ModelFields.writeText(out, p.fifoPath(), ModelLimits.PATH, "Pipe.fifoPath");
        ModelFields.writeBytes(out, p.data(), ModelLimits.PIPE_DATA, "Pipe.data");
    }

    public FileDesc.Pipe read(Input in, int version) {
        return new FileDesc.Pipe(in.readLong(), in.readBoolean(), ModelFields.readText(in, ModelLimits.PATH, "Pipe.fifoPath"),
                ModelFields.readBytes(in, ModelLimits.PIPE_DATA, "Pipe.data"));
    }
}
