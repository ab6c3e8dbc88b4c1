package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.ZombieImage;

/** Top-level: one record per zombie of the tree. */
public final class ZombieImageCodec implements RecordCodec<ZombieImage> {
    public static final ZombieImageCodec INSTANCE = new ZombieImageCodec();

    public Class<ZombieImage> type() { return ZombieImage.class; }
    public int id() { return ModelCodecs.ZOMBIE_IMAGE_ID; }
    public int version() { return 4; }

    public void write(Output out, ZombieImage z) {
        RecordFields.writeRecord(out, TaskIdsCodec.INSTANCE, z.ids());
        ModelFields.writeText(out, z.comm(), ModelLimits.TEXT, "ZombieImage.comm");
        out.writeVarInt(z.uid(), true);
        out.writeVarInt(z.exitSignal(), true);
        out.writeVarInt(z.status(), true);
        out.writeLong(z.blocked());
        out.writeLong(z.ignored());
        out.writeLong(z.caught());
        out.writeBoolean(z.execed());
        out.writeBoolean(z.creds() != null); // version 2
        if (z.creds() != null) {
            RecordFields.writeRecord(out, CredsCodec.INSTANCE, z.creds());
        }
        out.writeBoolean(z.noNewPrivs());
        ModelFields.writeList(out, RlimitCodec.INSTANCE, z.rlimits(), ModelLimits.RLIMITS, "ZombieImage.rlimits");
        out.writeVarInt(z.seccompMode(), true); // version 3
        out.writeVarInt(z.seccompFilters(), true);
        out.writeVarInt(z.nice(), false); // version 4
        out.writeVarInt(z.policy(), false);
        out.writeVarInt(z.rtPriority(), true);
    }

    public ZombieImage read(Input in, int version) {
        ZombieImage z = new ZombieImage(RecordFields.readRecord(in, TaskIdsCodec.INSTANCE),
                ModelFields.readText(in, ModelLimits.TEXT, "ZombieImage.comm"),
                in.readVarInt(true), in.readVarInt(true), in.readVarInt(true), in.readLong(), in.readLong(),
                in.readLong(), in.readBoolean());
        if (version < 2) {
            return z;
        }
        var creds = in.readBoolean() ? RecordFields.readRecord(in, CredsCodec.INSTANCE) : null;
        boolean noNewPrivs = in.readBoolean();
        var rlimits = ModelFields.readList(in, RlimitCodec.INSTANCE, ModelLimits.RLIMITS, "ZombieImage.rlimits");
        int mode = version >= 3 ? in.readVarInt(true) : 0;
        int filters = version >= 3 ? in.readVarInt(true) : 0;
        if (mode > dev.cryo.kernel.Seccomp.MODE_FILTER || filters > ModelLimits.SECCOMP_FILTERS) {
            throw new com.esotericsoftware.kryo.KryoException("ZombieImage: seccomp mode " + mode + " with " + filters
                    + " filters is out of bounds");
        }
        int nice = version >= 4 ? in.readVarInt(false) : 0;
        int policy = version >= 4 ? in.readVarInt(false) : -1;
        int rt = version >= 4 ? in.readVarInt(true) : 0;
        if (nice < -20 || nice > 19 || policy < -1 || policy > 7 || rt > 99) {
            throw new com.esotericsoftware.kryo.KryoException("ZombieImage: nice " + nice + ", policy " + policy
                    + ", rt priority " + rt + " out of bounds");
        }
        return new ZombieImage(z.ids(), z.comm(), z.uid(), z.exitSignal(), z.status(), z.blocked(), z.ignored(),
                z.caught(), z.execed(), creds, noNewPrivs, rlimits, mode, filters, nice, policy, rt);
    }
}
