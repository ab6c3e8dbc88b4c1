package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.DumpInfo;

/** Top-level: the first record of every image. */
public final class DumpInfoCodec implements RecordCodec<DumpInfo> {
    public static final DumpInfoCodec INSTANCE = new DumpInfoCodec();

    public Class<DumpInfo> type() { return DumpInfo.class; }
    public int id() { return ModelCodecs.DUMP_INFO_ID; }
    public int version() { return 1; }

    public void write(Output out, DumpInfo d) {
        ModelFields.writeText(out, d.cryoVersion(), ModelLimits.TEXT, "DumpInfo.cryoVersion");
        out.writeLong(d.createdEpochMillis());
        ModelFields.writeText(out, d.hostname(), ModelLimits.TEXT, "DumpInfo.hostname");
        ModelFields.writeText(out, d.kernel(), ModelLimits.TEXT, "DumpInfo.kernel");
        out.writeVarInt(d.rootPid(), false);
        ModelFields.writeInts(out, d.pids(), ModelLimits.PIDS, "DumpInfo.pids");
        out.writeVarInt(d.xstateSize(), false);
        out.writeBoolean(d.leftRunning());
    }

    public DumpInfo read(Input in, int version) {
        return new DumpInfo(ModelFields.readText(in, ModelLimits.TEXT, "DumpInfo.cryoVersion"), in.readLong(),
                ModelFields.readText(in, ModelLimits.TEXT, "DumpInfo.hostname"),
                ModelFields.readText(in, ModelLimits.TEXT, "DumpInfo.kernel"), in.readVarInt(false),
                ModelFields.readInts(in, ModelLimits.PIDS, "DumpInfo.pids"), in.readVarInt(false), in.readBoolean());
    }
}
