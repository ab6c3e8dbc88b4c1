package dev.cryo.engine.restore;

import dev.cryo.engine.image.IndexEntry;

/**
 * Pages of one chunk that a restore writes: all of it, or the part a later chunk did not replace
 * (pre-copy images carry some pages more than once; the last copy wins).
 */
public record PageSlice(IndexEntry chunk, int firstPage, int pages) {
    static final long PAGE = 4096;

    public static PageSlice whole(IndexEntry e) {
        return new PageSlice(e, 0, e.pageCount());
    }

    public long address() {
        return chunk.vaddr() + firstPage * PAGE;
    }

    public long end() {
        return address() + pages * PAGE;
    }

    /** The part of this slice in [start, end), or null if none. */
    PageSlice within(long start, long end) {
        long s = Math.max(start, address());
        long e = Math.min(end, end());
        if (s >= e) {
            return null;
        }
        return new PageSlice(chunk, (int) ((s - chunk.vaddr()) / PAGE), (int) ((e - s) / PAGE));
    }
}
