package dev.cryo.engine.image;

/**
 * One chunk as listed in the index: enough to seek to it and to know what it holds without
 * reading it. For RECORD chunks pid/pageCount/vaddr are 0.
 *
 * @param number       0-based chunk number, equal to the position in the index
 * @param offset       file offset of the chunk header
 * @param storedLength payload bytes stored after the 40-byte chunk header
 * @param rawLength    payload bytes after decompression
 */
public record IndexEntry(int number, ChunkType type, int flags, long offset, int storedLength,
                         int rawLength, int pid, long vaddr, int pageCount) {

    /** The payload is a zstd frame. */
    public boolean compressed() {
        return (flags & ImageFormat.FLAG_ZSTD) != 0;
    }

    /** A pages chunk whose pages each hold its one payload byte repeated ({@link ImageFormat#FLAG_FILL}). */
    public boolean fill() {
        return (flags & ImageFormat.FLAG_FILL) != 0;
    }

    /** A record chunk whose record goes on in the next chunk ({@link ImageFormat#FLAG_CONTINUED}). */
    public boolean continued() {
        return (flags & ImageFormat.FLAG_CONTINUED) != 0;
    }

    /** Header plus stored payload. */
    public long totalLength() {
        return ChunkHeader.SIZE + Integer.toUnsignedLong(storedLength);
    }

    /** "chunk 17 (pages of pid 4242 at 0x7f12a000, offset 1048640)" */
    public String describe() {
        String kind = type == ChunkType.PAGES
                ? (fill() ? "filled " : "") + "pages of pid " + Integer.toUnsignedString(pid) + " at " + Hex.addr(vaddr)
                : type.label;
        return "chunk " + number + " (" + kind + ", offset " + offset + ")";
    }
}
