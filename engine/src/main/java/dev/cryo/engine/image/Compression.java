package dev.cryo.engine.image;

/** How page payloads are stored. Records and the index are never compressed. */
public enum Compression {
    /** Pages go straight from the caller's buffer to the channel: the fast path. */
    NONE,
    /** Each page chunk is one zstd frame; stored raw instead when compression does not shrink it. */
    ZSTD
}
