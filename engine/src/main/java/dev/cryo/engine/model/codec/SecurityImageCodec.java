package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.SecurityImage;

public final class SecurityImageCodec implements RecordCodec<SecurityImage> {
    public static final SecurityImageCodec INSTANCE = new SecurityImageCodec();

    public Class<SecurityImage> type() { return SecurityImage.class; }
    public int id() { return ModelCodecs.SECURITY_IMAGE_ID; }
    public int version() { return 2; }

    public void write(Output out, SecurityImage s) {
        out.writeVarInt(s.dumpable(), true);
        out.writeBoolean(s.childSubreaper());
        ModelFields.writeList(out, SeccompFilterCodec.INSTANCE, s.seccompFilters(), ModelLimits.SECCOMP_FILTERS,
                "SecurityImage.seccompFilters");
        out.writeVarLong(s.loginuid(), true);
        ModelFields.writeList(out, dev.cryo.engine.keyrings.KeyringImage.CODEC, s.keyrings(), KEYRINGS,
                "SecurityImage.keyrings"); // v2
    }

    /** Session, process and thread. */
    private static final int KEYRINGS = 3;

    public SecurityImage read(Input in, int version) {
        return new SecurityImage(in.readVarInt(true), in.readBoolean(),
                ModelFields.readList(in, SeccompFilterCodec.INSTANCE, ModelLimits.SECCOMP_FILTERS,
                        "SecurityImage.seccompFilters"), in.readVarLong(true),
                version < 2 ? java.util.List.of() : ModelFields.readList(in, dev.cryo.engine.keyrings.KeyringImage.CODEC,
                        KEYRINGS, "SecurityImage.keyrings"));
    }
}
