package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.memory.MemoryKinds;

/**
 * The kind is stored as its persisted id (MemoryKinds), never the ordinal; the file is absent for anonymous memory.
 * v2: the pages shared with the parent ({@link VmaImage#inherited()}).
 */
public final class VmaImageCodec implements RecordCodec<VmaImage> {
    public static final VmaImageCodec INSTANCE = new VmaImageCodec();

    public Class<VmaImage> type() { return VmaImage.class; }
    public int id() { return ModelCodecs.VMA_IMAGE_ID; }
    public int version() { return 3; }

    public void write(Output out, VmaImage v) {
        out.writeLong(v.start());
        out.writeLong(v.end());
        out.writeVarInt(v.prot(), true);
        out.writeVarInt(v.flags(), true);
        out.writeLong(v.offset());
        out.writeVarInt(v.kind().id(), true);
        RecordFields.writeNullable(out, v.file(), (o, f) -> RecordFields.writeRecord(o, FileRefCodec.INSTANCE, f));
        out.writeVarLong(v.dumpedPages(), true);
        out.writeVarLong(v.zeroPages(), true);
        out.writeVarInt(v.advice(), true);
        writeRuns(out, v.guards());
        writeRuns(out, v.inherited());
        out.writeVarInt(v.seals(), false);
    }

    private static void writeRuns(Output out, long[] runs) {
        out.writeVarInt(runs.length / 2, true);
        for (long x : runs) {
            out.writeVarLong(x, true);
        }
    }

    public VmaImage read(Input in, int version) {
        return new VmaImage(in.readLong(), in.readLong(), in.readVarInt(true), in.readVarInt(true), in.readLong(),
                MemoryKinds.ofId(in.readVarInt(true)),
                RecordFields.readNullable(in, i -> RecordFields.readRecord(i, FileRefCodec.INSTANCE)),
                in.readVarLong(true), in.readVarLong(true), in.readVarInt(true), runs(in, "guard"),
                version >= 2 ? runs(in, "inherited") : new long[0], version >= 3 ? in.readVarInt(false) : -1);
    }

    private static long[] runs(Input in, String what) {
        int n = in.readVarInt(true);
        if (n < 0 || n > 1 << 20) {
            throw new com.esotericsoftware.kryo.KryoException("VmaImage: " + n + " " + what + " runs exceed the limit");
        }
        long[] g = new long[n * 2];
        for (int i = 0; i < g.length; i++) {
            g[i] = in.readVarLong(true);
        }
        return g;
    }
}
