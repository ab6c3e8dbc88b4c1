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

    /**
     * {@code slices} less their pages inside {@code ranges} (sorted, disjoint [start, end)): the
     * pages a child inherited from its parent are not written again.
     */
    public static java.util.List<PageSlice> outside(java.util.List<PageSlice> slices, java.util.List<long[]> ranges) {
        if (ranges.isEmpty()) {
            return slices;
        }
        java.util.List<PageSlice> out = new java.util.ArrayList<>(slices.size());
        for (PageSlice s : slices) {
            int lo = firstEndingAfter(ranges, s.address());
            long at = s.address();
            for (int i = lo; i < ranges.size() && ranges.get(i)[0] < s.end(); i++) {
                PageSlice before = s.within(at, ranges.get(i)[0]);
                if (before != null) {
                    out.add(before);
                }
                at = Math.max(at, ranges.get(i)[1]);
            }
            PageSlice rest = s.within(at, s.end());
            if (rest != null) {
                out.add(rest);
            }
        }
        return out;
    }

    /** The index of the first of {@code ranges} (sorted, disjoint [start, end)) ending after {@code address}. */
    public static int firstEndingAfter(java.util.List<long[]> ranges, long address) {
        int lo = 0, hi = ranges.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (ranges.get(mid)[1] <= address) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
