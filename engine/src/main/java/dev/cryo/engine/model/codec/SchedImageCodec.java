package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.SchedImage;

public final class SchedImageCodec implements RecordCodec<SchedImage> {
    public static final SchedImageCodec INSTANCE = new SchedImageCodec();

    public Class<SchedImage> type() { return SchedImage.class; }
    public int id() { return ModelCodecs.SCHED_ID; }
    public int version() { return 1; }

    public void write(Output out, SchedImage s) {
        out.writeVarInt(s.policy(), true);
        out.writeLong(s.flags());
        out.writeInt(s.nice());
        out.writeVarInt(s.priority(), true);
        out.writeLong(s.runtime());
        out.writeLong(s.deadline());
        out.writeLong(s.period());
        out.writeVarInt(s.utilMin(), true);
        out.writeVarInt(s.utilMax(), true);
        ModelFields.writeLongs(out, s.affinity(), ModelLimits.CPU_MASK_WORDS, "SchedImage.affinity");
        out.writeVarInt(s.ioprio(), true);
        out.writeVarLong(s.timerSlackNs(), true);
    }

    public SchedImage read(Input in, int version) {
        return new SchedImage(in.readVarInt(true), in.readLong(), in.readInt(), in.readVarInt(true), in.readLong(),
                in.readLong(), in.readLong(), in.readVarInt(true), in.readVarInt(true),
                ModelFields.readLongs(in, ModelLimits.CPU_MASK_WORDS, "SchedImage.affinity"), in.readVarInt(true),
                in.readVarLong(true));
    }
}
