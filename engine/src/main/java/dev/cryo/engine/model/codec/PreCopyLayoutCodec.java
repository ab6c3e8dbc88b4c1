package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.PreCopyLayout;

import java.util.ArrayList;
import java.util.List;

/** Top-level: a migration's pre-copy hint, the root's anonymous areas before a round's pages. */
public final class PreCopyLayoutCodec implements RecordCodec<PreCopyLayout> {
    public static final PreCopyLayoutCodec INSTANCE = new PreCopyLayoutCodec();

    /** Two per area, as many areas as a task record may hold. */
    static final int MAX_BOUNDS = 2 * ModelLimits.VMAS;

    public Class<PreCopyLayout> type() { return PreCopyLayout.class; }
    public int id() { return ModelCodecs.PRE_COPY_LAYOUT_ID; }
    public int version() { return 1; }

    public void write(Output out, PreCopyLayout l) {
        out.writeVarInt(l.pid(), true);
        out.writeBoolean(l.sessionLeader());
        long[] b = new long[l.bounds().size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = l.bounds().get(i);
        }
        ModelFields.writeLongs(out, b, MAX_BOUNDS, "PreCopyLayout.bounds");
        out.writeBoolean(l.execed());
    }

    public PreCopyLayout read(Input in, int version) {
        int pid = in.readVarInt(true);
        boolean leader = in.readBoolean();
        long[] b = ModelFields.readLongs(in, MAX_BOUNDS, "PreCopyLayout.bounds");
        if (b.length % 2 != 0) {
            throw new com.esotericsoftware.kryo.KryoException("PreCopyLayout.bounds: " + b.length + " values, not pairs");
        }
        List<Long> bounds = new ArrayList<>(b.length);
        for (long v : b) {
            bounds.add(v);
        }
        return new PreCopyLayout(pid, leader, bounds, in.readBoolean());
    }
}
