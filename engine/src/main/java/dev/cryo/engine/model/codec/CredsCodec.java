package dev.cryo.engine.model.codec;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.Creds;

public final class CredsCodec implements RecordCodec<Creds> {
    public static final CredsCodec INSTANCE = new CredsCodec();

    public Class<Creds> type() { return Creds.class; }
    public int id() { return ModelCodecs.CREDS_ID; }
    public int version() { return 1; }

    public void write(Output out, Creds c) {
        ModelFields.writeInts(out, c.uids(), ModelLimits.IDS, "Creds.uids");
        ModelFields.writeInts(out, c.gids(), ModelLimits.IDS, "Creds.gids");
        ModelFields.writeInts(out, c.groups(), ModelLimits.GROUPS, "Creds.groups");
        out.writeLong(c.capInh());
        out.writeLong(c.capPrm());
        out.writeLong(c.capEff());
        out.writeLong(c.capBnd());
        out.writeLong(c.capAmb());
    }

    public Creds read(Input in, int version) {
        return new Creds(ModelFields.readInts(in, ModelLimits.IDS, "Creds.uids"),
                ModelFields.readInts(in, ModelLimits.IDS, "Creds.gids"),
                ModelFields.readInts(in, ModelLimits.GROUPS, "Creds.groups"),
                in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readLong());
    }
}
