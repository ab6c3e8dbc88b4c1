package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.GhostFile;

public final class GhostFileCodec implements RecordCodec<GhostFile> {
    public static final GhostFileCodec INSTANCE = new GhostFileCodec();

    public Class<GhostFile> type() { return GhostFile.class; }
    public int id() { return ModelCodecs.GHOST_FILE_ID; }
    public int version() { return 4; }

    public void write(Output out, GhostFile g) {
        RecordFields.writeRecord(out, FileRefCodec.INSTANCE, g.file());
        ModelFields.writeBytes(out, g.contents(), ModelLimits.GHOST_FILE, "GhostFile.contents");
        out.writeInt(g.uid());
        out.writeInt(g.gid());
        ModelFields.writeLongs(out, g.data(), ModelLimits.GHOST_EXTENTS, "GhostFile.data");
        ModelFields.writeText(out, g.linkedAt(), ModelLimits.PATH, "GhostFile.linkedAt");
        out.writeLong(g.hugePageBytes());
        out.writeVarInt(g.mountOf(), true);
        out.writeBoolean(g.apart());
    }

    public GhostFile read(Input in, int version) {
        return new GhostFile(RecordFields.readRecord(in, FileRefCodec.INSTANCE),
                ModelFields.readBytes(in, ModelLimits.GHOST_FILE, "GhostFile.contents"), in.readInt(), in.readInt(),
                ModelFields.readLongs(in, ModelLimits.GHOST_EXTENTS, "GhostFile.data"),
                ModelFields.readText(in, ModelLimits.PATH, "GhostFile.linkedAt"),
                version >= 2 ? in.readLong() : 0, version >= 3 ? in.readVarInt(true) : 0,
                version >= 4 && in.readBoolean());
    }
}
