package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.net.SockAddr;

/** A socket address inside a socket record: family, address bytes, port. */
final class SockAddrFields {
    private SockAddrFields() {}

    static void write(Output out, SockAddr a) {
        out.writeVarInt(a.family(), true);
        ModelFields.writeBytes(out, a.address(), 108, "SockAddr.address");
        out.writeVarInt(a.port(), true);
    }

    static SockAddr read(Input in) {
        return new SockAddr(in.readVarInt(true), ModelFields.readBytes(in, 108, "SockAddr.address"), in.readVarInt(true));
    }
}
