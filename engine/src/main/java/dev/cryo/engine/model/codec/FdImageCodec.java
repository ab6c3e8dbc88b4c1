package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdOwner;
import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

/**
 * An fd, then what it refers to as its handler's kind tag followed by that kind's own versioned
 * record (both owned by the handler, see {@link FdHandlers}). Tags are persisted and never reused.
 * Once a format version has been released, adding a kind means a new tag AND a new version of
 * this codec, so an older build refuses the image as too new instead of calling it damaged.
 */
public final class FdImageCodec implements RecordCodec<FdImage> {
    public static final FdImageCodec INSTANCE = new FdImageCodec();

    public Class<FdImage> type() { return FdImage.class; }
    public int id() { return ModelCodecs.FD_IMAGE_ID; }
    public int version() { return 2; } // 2: dirNotify

    public void write(Output out, FdImage f) {
        out.writeVarInt(f.fd(), true);
        out.writeVarInt(f.flags(), true);
        out.writeLong(f.position());
        writeDesc(out, f.desc());
        out.writeBoolean(f.owner() != null);
        if (f.owner() != null) {
            out.writeVarInt(f.owner().type(), true);
            out.writeInt(f.owner().pid());
            out.writeVarInt(f.owner().signal(), true);
        }
        out.writeInt(f.dirNotify());
    }

    private static <D extends FileDesc> void writeDesc(Output out, D d) {
        FdHandler<D> h = FdHandlers.of(d);
        out.writeVarInt(h.tag(), true);
        RecordFields.writeRecord(out, h.codec(), d);
    }

    public FdImage read(Input in, int version) {
        int fd = in.readVarInt(true);
        int flags = in.readVarInt(true);
        long position = in.readLong();
        int tag = in.readVarInt(true);
        FdHandler<?> h = FdHandlers.byTag(tag);
        if (h == null) {
            throw new KryoException("fd " + fd + ": unknown file kind tag " + tag);
        }
        FileDesc desc = RecordFields.readRecord(in, h.codec());
        FdOwner owner = in.readBoolean() ? new FdOwner(in.readVarInt(true), in.readInt(), in.readVarInt(true)) : null;
        return new FdImage(fd, flags, position, desc, owner, version >= 2 ? in.readInt() : 0);
    }
}
