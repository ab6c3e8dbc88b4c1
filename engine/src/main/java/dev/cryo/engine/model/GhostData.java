package dev.cryo.engine.model;

/**
 * A piece of a deleted file's contents ({@link GhostFile#apart()}), a record of its own: a file of up to
 * cryo.dump.ghost-limit (1 GiB at most, zdtm's unlink_multiple_largefiles dumps with CRIU's --ghost-limit 1G)
 * would not fit its task's record, which is one chunk. {@code dev} and {@code ino} name the file (carried
 * once per dump); {@code at} is where {@code bytes} go in its contents (its data extents one after the other).
 */
public record GhostData(long dev, long ino, long at, byte[] bytes) {
    /** Bytes per piece: the default chunk size, well under the readers' max-chunk. */
    public static final int PIECE = 4 << 20;

    /** "dev:ino", the key of its file. */
    public String key() {
        return dev + ":" + ino;
    }
}
