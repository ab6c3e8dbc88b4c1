package dev.cryo.engine.image;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;

/** Turns a CRC-checked RECORD payload into its object; one per reader (owns a Kryo). */
final class RecordDecoder {
    private final Kryo kryo;

    RecordDecoder(RecordCodecs codecs) {
        this.kryo = ImageKryo.create(codecs);
    }

    Object decode(byte[] payload, int offset, int length, String where) throws ImageException {
        Input in = new Input(payload, offset, length);
        Object o;
        try {
            o = kryo.readClassAndObject(in);
        } catch (RecordVersionException e) {
            throw new UnsupportedImageVersionException(where + ": " + e.getMessage());
        } catch (KryoException | IllegalArgumentException | IndexOutOfBoundsException e) {
            throw new ImageCorruptException(where + ": record does not decode: " + e.getMessage(), e);
        }
        if (o == null) {
            throw new ImageCorruptException(where + ": record is null");
        }
        int left = offset + length - in.position();
        if (left != 0) {
            throw new ImageCorruptException(where + ": " + left + " bytes left after the "
                    + o.getClass().getSimpleName() + " record");
        }
        return o;
    }
}
