package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FileRef;

public final class FileRefCodec implements RecordCodec<FileRef> {
    public static final FileRefCodec INSTANCE = new FileRefCodec();

    public Class<FileRef> type() { return FileRef.class; }
    public int id() { return ModelCodecs.FILE_REF_ID; }
    public int version() { return 1; }

    public void write(Output out, FileRef f) {
        ModelFields.writeText(out, f.path(), ModelLimits.PATH, "FileRef.path");
        out.writeLong(f.dev());
        out.writeLong(f.ino());
        out.writeLong(f.size());
        out.writeLong(f.mtimeNanos());
        out.writeVarInt(f.mode(), true);
    }

    public FileRef read(Input in, int version) {
        return new FileRef(ModelFields.readText(in, ModelLimits.PATH, "FileRef.path"), in.readLong(), in.readLong(),
                in.readLong(), in.readLong(), in.readVarInt(true));
    }
}
