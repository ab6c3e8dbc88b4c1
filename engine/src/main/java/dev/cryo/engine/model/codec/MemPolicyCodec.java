package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.model.MemPolicy;

/** A NUMA policy inside a thread's or an mm's record (no record of its own): mode with its flags, then nodes. */
final class MemPolicyCodec {
    private MemPolicyCodec() {}

    static void write(Output out, MemPolicy p) {
        out.writeVarInt(p.mode(), true);
        out.writeLong(p.nodes());
    }

    static MemPolicy read(Input in) {
        int mode = in.readVarInt(true);
        long nodes = in.readLong();
        try {
            return new MemPolicy(mode, nodes);
        } catch (IllegalArgumentException e) {
            throw new com.esotericsoftware.kryo.KryoException(e.getMessage());
        }
    }
}
