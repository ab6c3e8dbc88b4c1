package dev.cryo.engine.keyrings;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.model.codec.ModelLimits;

import java.util.List;

/**
 * One of a task's own keyrings as it was: {@link #kind} says which ({@code session}, {@code process}, or
 * {@code thread}: its main thread's), {@link #serial} is the dumped id (tasks that held the same session
 * keyring have the same one), and the keys it held, each a {@code user} key with its payload.
 */
public record KeyringImage(String kind, int serial, int uid, int gid, int perm, String description, List<Key> keys) {
    public static final String SESSION = "session", PROCESS = "process", THREAD = "thread";

    public KeyringImage {
        if (!List.of(SESSION, PROCESS, THREAD).contains(kind)) {
            throw new IllegalArgumentException("keyring kind '" + kind + "' is none of session, process, thread");
        }
        java.util.Objects.requireNonNull(description, "description");
        keys = List.copyOf(keys);
    }

    /** A key of the keyring: {@code type} is always {@code user} (the one type whose payload can be read back). */
    public record Key(int serial, String type, int uid, int gid, int perm, String description, byte[] payload) {
        public Key {
            java.util.Objects.requireNonNull(type, "type");
            java.util.Objects.requireNonNull(description, "description");
            java.util.Objects.requireNonNull(payload, "payload");
        }

        @Override
        public boolean equals(Object o) { // by the payload's bytes
            return o instanceof Key k && serial == k.serial && type.equals(k.type) && uid == k.uid && gid == k.gid
                    && perm == k.perm && description.equals(k.description) && java.util.Arrays.equals(payload, k.payload);
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(serial, type, uid, gid, perm, description, java.util.Arrays.hashCode(payload));
        }
    }

    /** Kryo ids of the keys38 lane (3430-3444). */
    static final int KEYRING_ID = 3430, KEY_ID = 3431;
    /** A keyring holds at most what one KEYCTL_READ of its list gives cryo ({@link Keyrings#ROOM} bytes). */
    private static final int KEYS = Keyrings.ROOM / 4;
    /** The kernel's own bounds: descriptions of 4096 bytes, user payloads of 32767. */
    private static final int DESCRIPTION = 4096, PAYLOAD = 32767;

    public static final RecordCodec<Key> KEY_CODEC = RecordCodec.of(Key.class, KEY_ID, 1,
            (out, k) -> {
                out.writeInt(k.serial());
                ModelFields.writeText(out, k.type(), ModelLimits.PATH, "Key.type");
                out.writeInt(k.uid());
                out.writeInt(k.gid());
                out.writeInt(k.perm());
                ModelFields.writeText(out, k.description(), DESCRIPTION, "Key.description");
                ModelFields.writeBytes(out, k.payload(), PAYLOAD, "Key.payload");
            }, (in, version) -> new Key(in.readInt(), ModelFields.readText(in, ModelLimits.PATH, "Key.type"),
                    in.readInt(), in.readInt(), in.readInt(), ModelFields.readText(in, DESCRIPTION, "Key.description"),
                    ModelFields.readBytes(in, PAYLOAD, "Key.payload")));

    public static final RecordCodec<KeyringImage> CODEC = RecordCodec.of(KeyringImage.class, KEYRING_ID, 1,
            (out, r) -> {
                ModelFields.writeText(out, r.kind(), ModelLimits.PATH, "KeyringImage.kind");
                out.writeInt(r.serial());
                out.writeInt(r.uid());
                out.writeInt(r.gid());
                out.writeInt(r.perm());
                ModelFields.writeText(out, r.description(), DESCRIPTION, "KeyringImage.description");
                ModelFields.writeList(out, KEY_CODEC, r.keys(), KEYS, "KeyringImage.keys");
            }, (in, version) -> new KeyringImage(ModelFields.readText(in, ModelLimits.PATH, "KeyringImage.kind"),
                    in.readInt(), in.readInt(), in.readInt(), in.readInt(),
                    ModelFields.readText(in, DESCRIPTION, "KeyringImage.description"),
                    ModelFields.readList(in, KEY_CODEC, KEYS, "KeyringImage.keys")));
}
