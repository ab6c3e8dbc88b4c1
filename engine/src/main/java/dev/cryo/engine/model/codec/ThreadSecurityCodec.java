package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.ThreadIds;
import dev.cryo.engine.model.ThreadSecurity;

public final class ThreadSecurityCodec implements RecordCodec<ThreadSecurity> {
    public static final ThreadSecurityCodec INSTANCE = new ThreadSecurityCodec();

    public Class<ThreadSecurity> type() { return ThreadSecurity.class; }
    public int id() { return ModelCodecs.THREAD_SECURITY_ID; }
    public int version() { return 2; }

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
        out.writeBoolean(s.ownIds() != null); // version 2
        if (s.ownIds() != null) {
            ModelFields.writeInts(out, s.ownIds().uids(), ModelLimits.IDS, "ThreadSecurity.uids");
            ModelFields.writeInts(out, s.ownIds().gids(), ModelLimits.IDS, "ThreadSecurity.gids");
            ModelFields.writeInts(out, s.ownIds().groups(), ModelLimits.GROUPS, "ThreadSecurity.groups");
        }
    }

    public ThreadSecurity read(Input in, int version) {
        long inh = in.readLong(), prm = in.readLong(), eff = in.readLong(), bnd = in.readLong(), amb = in.readLong();
        int securebits = in.readVarInt(true);
        boolean noNewPrivs = in.readBoolean();
        int mode = in.readVarInt(true), filter = in.readVarInt(false);
        ThreadIds own = null;
        if (version >= 2 && in.readBoolean()) {
            own = new ThreadIds(ModelFields.readInts(in, ModelLimits.IDS, "ThreadSecurity.uids"),
                    ModelFields.readInts(in, ModelLimits.IDS, "ThreadSecurity.gids"),
                    ModelFields.readInts(in, ModelLimits.GROUPS, "ThreadSecurity.groups"));
        }
        return new ThreadSecurity(inh, prm, eff, bnd, amb, securebits, noNewPrivs, mode, filter, own);
    }
}
