package dev.cryo.engine.image;

import com.esotericsoftware.kryo.Kryo;

/**
 * Creates the Kryo instance used for records. Strict on purpose: registration required (an
 * unregistered class fails instead of writing its class name), no reference tracking (records
 * are trees, and references would make encodings depend on identity), explicit ids only.
 *
 * <p>Kryo is not thread-safe: every writer and reader creates its own instance.
 *
 * <p>Byte order inside record payloads is Kryo's: varints, and big-endian for fixed-width
 * writeInt/writeLong. That differs from the little-endian framing but is fixed, which is all
 * that matters for a stable format.
 */
public final class ImageKryo {
    private ImageKryo() {}

    public static Kryo create(RecordCodecs codecs) {
        Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(true);
        kryo.setReferences(false);
        kryo.setCopyReferences(false);
        for (RecordCodec<?> c : codecs.all()) {
            register(kryo, c);
        }
        return kryo;
    }

    private static <T> void register(Kryo kryo, RecordCodec<T> codec) {
        kryo.register(codec.type(), new VersionedSerializer<>(codec), codec.id());
    }
}
