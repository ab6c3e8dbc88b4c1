package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FileDesc;

public final class CharDeviceCodec implements RecordCodec<FileDesc.CharDevice> {
    public static final CharDeviceCodec INSTANCE = new CharDeviceCodec();

    public Class<FileDesc.CharDevice> type() { return FileDesc.CharDevice.class; }
    public int id() { return ModelCodecs.CHAR_DEVICE_ID; }
    public int version() { return 1; }

    public void write(Output out, FileDesc.CharDevice c) {
        ModelFields.writeText(out, c.path(), ModelLimits.PATH, "CharDevice.path");
        out.writeLong(c.rdev());
        out.writeBoolean(c.tty());
    }

    public FileDesc.CharDevice read(Input in, int version) {
        return new FileDesc.CharDevice(ModelFields.readText(in, ModelLimits.PATH, "CharDevice.path"), in.readLong(),
                in.readBoolean());
    }
}
