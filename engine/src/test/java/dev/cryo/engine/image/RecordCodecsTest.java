package dev.cryo.engine.image;

import static org.junit.jupiter.api.Assertions.*;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.junit.jupiter.api.Test;

class RecordCodecsTest {
    static RecordCodec<String> codec(int id) {
        return new RecordCodec<>() {
            public Class<String> type() { return String.class; }
            public int id() { return id; }
            public int version() { return 1; }
            public void write(Output out, String v) { RecordFields.writeString(out, v); }
            public String read(Input in, int version) { return RecordFields.readString(in, 100); }
        };
    }

    @Test
    void idsAreCheckedAtBuildTime() {
        assertThrows(IllegalArgumentException.class, () -> RecordCodecs.builder().add(codec(9)).build());
        assertThrows(IllegalArgumentException.class, () -> RecordCodecs.builder().retire(150).add(codec(150)).build());
        assertThrows(IllegalArgumentException.class,
                () -> RecordCodecs.builder().add(SampleRecords.VMA).add(codec(101)).build());
        assertThrows(IllegalArgumentException.class,
                () -> RecordCodecs.builder().add(SampleRecords.VMA).add(SampleRecords.VMA).build());
    }

    @Test
    void lengthsAreBoundedOnRead() {
        Output out = new Output(64);
        RecordFields.writeLongs(out, new long[5]);
        assertThrows(KryoException.class, () -> RecordFields.readLongs(new Input(out.toBytes()), 4));
        assertArrayEquals(new long[5], RecordFields.readLongs(new Input(out.toBytes()), 5));

        // A declared length far beyond the record's bytes is refused without allocating it.
        Output huge = new Output(16);
        huge.writeVarInt(Integer.MAX_VALUE, true);
        assertThrows(KryoException.class, () -> RecordFields.readBytes(new Input(huge.toBytes()), Integer.MAX_VALUE));
        assertThrows(KryoException.class, () -> RecordFields.readString(new Input(huge.toBytes()), Integer.MAX_VALUE));

        Output nulls = new Output(16);
        RecordFields.writeString(nulls, null);
        RecordFields.writeBytes(nulls, null);
        RecordFields.writeNullable(nulls, null, Output::writeString);
        Input in = new Input(nulls.toBytes());
        assertNull(RecordFields.readString(in, 1));
        assertNull(RecordFields.readBytes(in, 1));
        assertNull(RecordFields.readNullable(in, Input::readString));
    }
}
