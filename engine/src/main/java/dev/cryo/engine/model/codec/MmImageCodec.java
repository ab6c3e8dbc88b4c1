package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.MemPolicy;
import dev.cryo.engine.model.MmImage;

public final class MmImageCodec implements RecordCodec<MmImage> {
    public static final MmImageCodec INSTANCE = new MmImageCodec();

    public Class<MmImage> type() { return MmImage.class; }
    public int id() { return ModelCodecs.MM_IMAGE_ID; }
    public int version() { return 3; } // 2: mlockFuture, 3: the areas' NUMA policies

    public void write(Output out, MmImage m) {
        out.writeLongs(new long[] {m.startCode(), m.endCode(), m.startData(), m.endData(), m.startBrk(), m.brk(),
                m.startStack(), m.argStart(), m.argEnd(), m.envStart(), m.envEnd()}, 0, 11);
        ModelFields.writeLongs(out, m.auxv(), ModelLimits.AUXV_WORDS, "MmImage.auxv");
        out.writeBoolean(m.thpDisabled());
        out.writeLong(m.coredumpFilter());
        out.writeVarInt(m.membarrier(), true);
        out.writeVarInt(m.mdwe(), true);
        out.writeBoolean(m.mergeAny());
        out.writeVarInt(m.mlockFuture(), true);
        out.writeVarInt(m.areaPolicies().size(), true);
        for (MemPolicy.Area a : m.areaPolicies()) {
            out.writeLong(a.start());
            out.writeLong(a.end());
            MemPolicyCodec.write(out, a.policy());
        }
    }

    public MmImage read(Input in, int version) {
        long[] f = in.readLongs(11);
        return new MmImage(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
                ModelFields.readLongs(in, ModelLimits.AUXV_WORDS, "MmImage.auxv"), in.readBoolean(), in.readLong(), in.readVarInt(true), in.readVarInt(true),
                in.readBoolean(), version >= 2 ? in.readVarInt(true) : 0, version >= 3 ? areas(in) : java.util.List.of());
    }

    private static java.util.List<MemPolicy.Area> areas(Input in) {
        int n = ModelFields.readCount(in, "MmImage", ModelLimits.VMAS, "areas with a NUMA policy");
        java.util.List<MemPolicy.Area> out = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long start = in.readLong(), end = in.readLong();
            MemPolicy policy = MemPolicyCodec.read(in);
            try {
                out.add(new MemPolicy.Area(start, end, policy));
            } catch (IllegalArgumentException e) {
                throw new com.esotericsoftware.kryo.KryoException(e.getMessage());
            }
        }
        return out;
    }
}
