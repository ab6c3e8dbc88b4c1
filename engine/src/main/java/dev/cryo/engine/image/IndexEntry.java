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
public record IndexEntry(int number, ChunkType type, boolean compressed, long offset, int storedLength,
                         int rawLength, int pid, long vaddr, int pageCount) {

    /** Header plus stored payload. */
    public long totalLength() {
        return ChunkHeader.SIZE + Integer.toUnsignedLong(storedLength);
    }

    int flags() {
        return compressed ? ImageFormat.FLAG_ZSTD : 0;
    }

    /** "chunk 17 (pages of pid 4242 at 0x7f12a000, offset 1048640)" */
    public String describe() {
        String kind = type == ChunkType.PAGES
                ? "pages of pid " + Integer.toUnsignedString(pid) + " at " + Hex.addr(vaddr)
                : type.label;
        return "chunk " + number + " (" + kind + ", offset " + offset + ")";
    }
}
