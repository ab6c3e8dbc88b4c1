package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FileDesc;

public final class RegularFileCodec implements RecordCodec<FileDesc.RegularFile> {
    public static final RegularFileCodec INSTANCE = new RegularFileCodec();

    public Class<FileDesc.RegularFile> type() { return FileDesc.RegularFile.class; }
    public int id() { return ModelCodecs.REGULAR_FILE_ID; }
    public int version() { return 1; }

    public void write(Output out, FileDesc.RegularFile f) {
        RecordFields.writeRecord(out, FileRefCodec.INSTANCE, f.file());
    }

    public FileDesc.RegularFile read(Input in, int version) {
        return new FileDesc.RegularFile(RecordFields.readRecord(in, FileRefCodec.INSTANCE));
    }
}
