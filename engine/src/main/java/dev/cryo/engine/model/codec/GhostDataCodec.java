package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.GhostData;

/** Top-level: a piece of a deleted file's contents. */
public final class GhostDataCodec implements RecordCodec<GhostData> {
    public static final GhostDataCodec INSTANCE = new GhostDataCodec();

    public Class<GhostData> type() { return GhostData.class; }
    public int id() { return ModelCodecs.GHOST_DATA_ID; }
    public int version() { return 1; }

    public void write(Output out, GhostData d) {
        out.writeLong(d.dev());
        out.writeLong(d.ino());
        out.writeVarLong(d.at(), true);
        ModelFields.writeBytes(out, d.bytes(), GhostData.PIECE, "GhostData.bytes");
    }

    public GhostData read(Input in, int version) {
        return new GhostData(in.readLong(), in.readLong(), in.readVarLong(true),
                ModelFields.readBytes(in, GhostData.PIECE, "GhostData.bytes"));
    }
}
