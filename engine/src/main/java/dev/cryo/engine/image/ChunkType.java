package dev.cryo.engine.image;

/** Kind of a chunk; the code is the byte stored in the chunk header and never changes meaning. */
public enum ChunkType {
    /** One Kryo-encoded metadata record. */
    RECORD(1, "record"),
    /** Raw (possibly zstd-compressed) memory pages of one process. */
    PAGES(2, "pages"),
    /** The index of all preceding chunks; always the last chunk. */
    INDEX(3, "index");

    final int code;
    final String label;

    ChunkType(int code, String label) {
        this.code = code;
        this.label = label;
    }

    public int code() {
        return code;
    }

    /** Returns null for an unknown code; the caller reports it as corruption with context. */
    static ChunkType fromCode(int code) {
        for (ChunkType t : values()) {
            if (t.code == code) return t;
        }
        return null;
    }
}
