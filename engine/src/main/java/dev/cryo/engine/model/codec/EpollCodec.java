package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FileDesc;

import java.util.ArrayList;
import java.util.List;

public final class EpollCodec implements RecordCodec<FileDesc.Epoll> {
    public static final EpollCodec INSTANCE = new EpollCodec();

    public Class<FileDesc.Epoll> type() { return FileDesc.Epoll.class; }
    public int id() { return ModelCodecs.EPOLL_ID; }
    public int version() { return 1; }

    public void write(Output out, FileDesc.Epoll e) {
        if (e.watches().size() > ModelLimits.FDS) {
            throw new IllegalArgumentException("Epoll.watches has " + e.watches().size() + " entries, more than "
                    + ModelLimits.FDS);
        }
        out.writeVarInt(e.watches().size(), true);
        for (FileDesc.Epoll.Watch w : e.watches()) {
            out.writeVarInt(w.fd(), true);
            out.writeInt(w.events());
            out.writeLong(w.data());
        }
    }

    public FileDesc.Epoll read(Input in, int version) {
        int n = in.readVarInt(true);
        if (n < 0 || n > ModelLimits.FDS) {
            throw new KryoException("Epoll.watches: list length " + n + " exceeds the limit of " + ModelLimits.FDS);
        }
        List<FileDesc.Epoll.Watch> watches = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            watches.add(new FileDesc.Epoll.Watch(in.readVarInt(true), in.readInt(), in.readLong()));
        }
        return new FileDesc.Epoll(watches);
    }
}
