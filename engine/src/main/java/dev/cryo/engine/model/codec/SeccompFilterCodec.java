package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.SeccompFilter;

public final class SeccompFilterCodec implements RecordCodec<SeccompFilter> {
    public static final SeccompFilterCodec INSTANCE = new SeccompFilterCodec();

    public Class<SeccompFilter> type() { return SeccompFilter.class; }
    public int id() { return ModelCodecs.SECCOMP_FILTER_ID; }
    public int version() { return 1; }

    public void write(Output out, SeccompFilter f) {
        out.writeVarInt(f.parent(), false);
        out.writeVarInt(f.flags(), true);
        ModelFields.writeBytes(out, f.program(), ModelLimits.SECCOMP_PROGRAM, "SeccompFilter.program");
    }

    public SeccompFilter read(Input in, int version) {
        return new SeccompFilter(in.readVarInt(false), in.readVarInt(true),
                ModelFields.readBytes(in, ModelLimits.SECCOMP_PROGRAM, "SeccompFilter.program"));
    }
}
