package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.ThreadSecurity;

public final class ThreadSecurityCodec implements RecordCodec<ThreadSecurity> {
    public static final ThreadSecurityCodec INSTANCE = new ThreadSecurityCodec();

    public Class<ThreadSecurity> type() { return ThreadSecurity.class; }
    public int id() { return ModelCodecs.THREAD_SECURITY_ID; }
    public int version() { return 1; }

    public void write(Output out, ThreadSecurity s) {
        out.writeLong(s.capInh());
        out.writeLong(s.capPrm());
        out.writeLong(s.capEff());
        out.writeLong(s.capBnd());
        out.writeLong(s.capAmb());
        out.writeVarInt(s.securebits(), true);
        out.writeBoolean(s.noNewPrivs());
        out.writeVarInt(s.seccompMode(), true);
        out.writeVarInt(s.seccompFilter(), false);
    }

    public ThreadSecurity read(Input in, int version) {
        return new ThreadSecurity(in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readLong(),
                in.readVarInt(true), in.readBoolean(), in.readVarInt(true), in.readVarInt(false));
    }
}
