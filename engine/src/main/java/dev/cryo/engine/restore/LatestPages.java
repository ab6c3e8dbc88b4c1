package dev.cryo.engine.restore;

import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.VmaImage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;

/**
 * The latest copy of every page of one task, kept as its page chunks come in image order: a
 * pre-copy image sends a page again each time it was written, and the later chunk wins. Built
 * chunk by chunk, so a migration's destination does this work while the rounds arrive and only
 * the frozen round's few chunks are left for the downtime.
 *
 * <p>A migration of 1 GiB brings 100,000 chunks and more, all kept until the restore: the slices
 * are held in parallel primitive arrays, with no object per chunk or slice (a TreeMap entry, a
 * boxed key and a slice per chunk, twice with placement, were ~10 MB that every young collection
 * of the receiving agent copied again, mig36). Chunks wait in arrival order until {@link #BATCH}
 * of them have come or {@link #settle} is called, then are merged into the slices at once (sorted
 * among themselves, the newest winning where they overlap; then one pass over the slices, from the
 * top, in place). The listing leaves the chunks still waiting unmerged (see {@link #within}).
 */
public final class LatestPages {
    private static final long PAGE = PageSlice.PAGE;
    /** Chunks merged at once: their place in the batch rides in the low bits of their (page-aligned) address when sorted. */
    static final int BATCH = (int) PAGE;

    /** Every chunk added, in image order; a slice names its chunk by its place here. */
    private IndexEntry[] chunks = new IndexEntry[256];
    private int count;
    /** Chunks [merged, count) are not in the slices yet. */
    private int merged;
    /** The chunks placed in the prepared stub as they arrived, or null when placement is not tracked. */
    private final BitSet placed;

    /** The latest slices of chunks [0, merged): disjoint, in address order. */
    private long[] start = new long[0];
    private int[] pages = new int[0], chunk = new int[0], first = new int[0];
    private int slices;
    /**
     * The positions of the slices whose chunk was not placed (placement tracked only), in address
     * order: the restore writes these, and only these in the areas the stub keeps (tens of thousands
     * of placed slices need not be listed in the downtime).
     */
    private int[] unplaced = new int[0];
    private int unplacedCount;

    // a batch's scratch, reused (grown as needed: a task of a few chunks keeps a few): sort keys, a heap
    // of the chunks covering the sweep's position, its segments (at most two per chunk)
    private long[] keys = new long[0];
    private int[] heap = new int[0];
    private long[] segStart = new long[0];
    private int[] segPages = new int[0], segChunk = new int[0], segFirst = new int[0];
    private int segs;
    /** The segments are those of chunks [merged, overlaid). */
    private int overlaid;

    public LatestPages() {
        this(false);
    }

    /** {@code trackPlacement}: chunks come with whether they were placed ({@link #add(IndexEntry, boolean)}). */
    public LatestPages(boolean trackPlacement) {
        this.placed = trackPlacement ? new BitSet() : null;
    }

    /** The next chunk of the task, in image order: its pages replace any earlier copy. */
    public void add(IndexEntry e) {
        add(e, false);
    }

    /** As {@link #add(IndexEntry)}; {@code placed}: its pages are in the prepared stub already. */
    public synchronized void add(IndexEntry e, boolean placed) {
        if ((e.vaddr() & (PAGE - 1)) != 0) {
            throw new IllegalArgumentException(e.describe() + " is not page aligned");
        }
        if (count == chunks.length) {
            chunks = Arrays.copyOf(chunks, count * 2);
        }
        if (placed && this.placed != null) {
            this.placed.set(count);
        }
        chunks[count++] = e;
        if (count - merged == BATCH) {
            merge();
        }
    }

    /** Whether chunks came with their placement ({@link #withinUnplaced} can answer). */
    public boolean tracksPlacement() {
        return placed != null;
    }

    /**
     * The pages to write, in address order: the latest slices cut to the task's final mappings that
     * take page data (pages of memory unmapped between pre-copy rounds are dropped).
     */
    public List<PageSlice> within(List<VmaImage> vmas) {
        return within(vmas, v -> false);
    }

    /**
     * As {@link #within}, less the placed slices in the areas {@code kept} says the prepared stub
     * keeps as placed (only with placement tracked).
     */
    public List<PageSlice> withinUnplaced(List<VmaImage> vmas, Predicate<VmaImage> kept) {
        if (placed == null) {
            throw new IllegalStateException("placement is not tracked");
        }
        return within(vmas, kept);
    }

    /**
     * The chunks since the last merge (a migration's frozen round: see {@link #settle}) are not merged
     * here, which takes a pass over every slice (10-20 ms for 100,000 at load 17, in the downtime):
     * their own latest pages lie over the slices, and the listing goes round what they cover.
     */
    private synchronized List<PageSlice> within(List<VmaImage> vmas, Predicate<VmaImage> kept) {
        overlay();
        List<VmaImage> sorted = new ArrayList<>(vmas);
        sorted.sort(Comparator.comparingLong(VmaImage::start));
        List<PageSlice> out = new ArrayList<>();
        for (VmaImage v : sorted) {
            if (v.kind().takesPages()) {
                // not the guard pages: they hold nothing, and writing one fails (EIO), but a pre-copy
                // round may have sent the page before it became one
                long from = v.start();
                long[] g = v.guards();
                for (int k = 0; k < g.length; k += 2) {
                    list(from, Math.max(from, g[k]), kept.test(v), out);
                    from = Math.max(from, g[k] + g[k + 1] * PAGE);
                }
                list(from, v.end(), kept.test(v), out);
            }
        }
        return out;
    }

    /**
     * The latest pages in [from, to): the slices (or the unplaced ones), less what the waiting
     * chunks' segments cover, and those segments (unplaced ones only, with {@code onlyUnplaced}).
     */
    private void list(long from, long to, boolean onlyUnplaced, List<PageSlice> out) {
        int n = onlyUnplaced ? unplacedCount : slices;
        int i = firstEndingAfter(from, onlyUnplaced, n);
        int j = firstSegmentEndingAfter(from);
        long cut = from; // slice i's pages below this are covered or outside
        while (true) {
            int s = i < n ? (onlyUnplaced ? unplaced[i] : i) : -1;
            boolean slice = s >= 0 && start[s] < to;
            boolean seg = j < segs && segStart[j] < to;
            if (!slice && !seg) {
                return;
            }
            long sliceFrom = slice ? Math.max(start[s], cut) : 0;
            if (seg && (!slice || segStart[j] <= sliceFrom)) {
                long segEnd = segStart[j] + segPages[j] * PAGE;
                if (!onlyUnplaced || placed == null || !placed.get(segChunk[j])) {
                    piece(segChunk[j], segStart[j], segFirst[j], Math.max(segStart[j], from), Math.min(segEnd, to), out);
                }
                while (i < n && sliceEnd(onlyUnplaced ? unplaced[i] : i) <= segEnd) { // wholly under the segment
                    i++;
                    cut = from;
                }
                cut = Math.max(cut, segEnd);
                j++;
            } else {
                long end = Math.min(sliceEnd(s), to);
                long upTo = seg ? Math.min(end, segStart[j]) : end;
                piece(chunk[s], start[s], first[s], sliceFrom, upTo, out);
                if (upTo == end) {
                    i++;
                    cut = from;
                } else {
                    cut = upTo; // the segment comes next
                }
            }
        }
    }

    /** The pages [from, to) of a slice or segment of chunk {@code c} that starts at {@code at} with its page {@code f}. */
    private void piece(int c, long at, int f, long from, long to, List<PageSlice> out) {
        if (from < to) {
            out.add(new PageSlice(chunks[c], f + (int) ((from - at) / PAGE), (int) ((to - from) / PAGE)));
        }
    }

    private long sliceEnd(int s) {
        return start[s] + pages[s] * PAGE;
    }

    private int firstSegmentEndingAfter(long address) {
        int lo = 0, hi = segs;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (segStart[mid] + segPages[mid] * PAGE <= address) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /**
     * Merges the chunks that came since the last merge: a migration's destination calls it when the
     * source freezes, so that what is left to the listing after the last chunk is the frozen round's.
     */
    public synchronized void settle() {
        merge();
    }

    /** The waiting chunks' own latest pages, in the segments (kept until more chunks come). */
    private void overlay() {
        if (overlaid != count) {
            latestOfBatch();
            overlaid = count;
        }
    }

    /** The first of the n slices (or of the unplaced ones) that ends after {@code address}. */
    private int firstEndingAfter(long address, boolean onlyUnplaced, int n) {
        int lo = 0, hi = n;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            int s = onlyUnplaced ? unplaced[mid] : mid;
            if (sliceEnd(s) <= address) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** Merges the waiting chunks into the slices. */
    private void merge() {
        if (merged == count) {
            return;
        }
        latestOfBatch();
        int total = slices + 2 * segs; // at most: each segment may split one slice in two
        if (start.length < total) {
            int grown = Math.max(total, start.length + start.length / 2);
            start = Arrays.copyOf(start, grown);
            pages = Arrays.copyOf(pages, grown);
            chunk = Arrays.copyOf(chunk, grown);
            first = Arrays.copyOf(first, grown);
        }
        // from the top down, written from the top of the arrays down: never over a slice not yet read
        int w = total - 1, i = slices - 1, j = segs - 1;
        long bEnd = i >= 0 ? sliceEnd(i) : 0; // slice i, less what segments above cut from its top
        while (i >= 0 || j >= 0) {
            if (i >= 0 && (j < 0 || bEnd > segStart[j] + segPages[j] * PAGE)) {
                long sEnd = j < 0 ? Long.MIN_VALUE : segStart[j] + segPages[j] * PAGE;
                long from = Math.max(start[i], sEnd);
                long s0 = start[i];
                int c = chunk[i], f = first[i];
                write(w--, from, (int) ((bEnd - from) / PAGE), c, f + (int) ((from - s0) / PAGE));
                if (from == s0) {
                    i--;
                    bEnd = i >= 0 ? sliceEnd(i) : 0;
                } else {
                    bEnd = from; // the rest of slice i, below the segment
                }
            } else {
                long sS = segStart[j];
                write(w--, sS, segPages[j], segChunk[j], segFirst[j]);
                j--;
                while (i >= 0 && start[i] >= sS) { // wholly under the segment
                    i--;
                    bEnd = i >= 0 ? sliceEnd(i) : 0;
                }
                if (i >= 0 && bEnd > sS) {
                    bEnd = sS;
                }
            }
        }
        slices = total - 1 - w;
        System.arraycopy(start, w + 1, start, 0, slices);
        System.arraycopy(pages, w + 1, pages, 0, slices);
        System.arraycopy(chunk, w + 1, chunk, 0, slices);
        System.arraycopy(first, w + 1, first, 0, slices);
        merged = count;
        segs = 0;
        overlaid = count;
        if (placed != null) {
            if (unplaced.length < slices) {
                unplaced = new int[Math.max(slices, unplaced.length + unplaced.length / 2)];
            }
            unplacedCount = 0;
            for (int s = 0; s < slices; s++) {
                if (!placed.get(chunk[s])) {
                    unplaced[unplacedCount++] = s;
                }
            }
        }
    }

    private void write(int at, long s, int n, int c, int f) {
        start[at] = s;
        pages[at] = n;
        chunk[at] = c;
        first[at] = f;
    }

    /**
     * The waiting chunks' own latest pages, as disjoint segments in address order: a sweep over their
     * starts, the newest chunk covering each stretch winning (a heap by place in the batch).
     */
    private void latestOfBatch() {
        int k = count - merged;
        if (keys.length < k) {
            int grown = Math.min(BATCH, Math.max(k, 2 * keys.length));
            keys = new long[grown];
            heap = new int[grown];
            segStart = new long[2 * grown];
            segPages = new int[2 * grown];
            segChunk = new int[2 * grown];
            segFirst = new int[2 * grown];
        }
        for (int b = 0; b < k; b++) {
            keys[b] = chunks[merged + b].vaddr() | b; // page-aligned: the low bits are free
        }
        Arrays.sort(keys, 0, k);
        segs = 0;
        int size = 0, next = 0;
        long at = 0;
        while (next < k || size > 0) {
            if (size == 0) {
                at = keys[next] & -PAGE;
            }
            while (next < k && (keys[next] & -PAGE) <= at) {
                size = push(size, (int) (keys[next++] & (PAGE - 1)));
            }
            while (size > 0 && batchEnd(heap[0]) <= at) {
                size = pop(size);
            }
            if (size == 0) {
                continue;
            }
            int top = heap[0];
            long until = batchEnd(top);
            if (next < k && (keys[next] & -PAGE) < until) {
                until = keys[next] & -PAGE;
            }
            segment(merged + top, at, until);
            at = until;
        }
    }

    private long batchEnd(int b) {
        IndexEntry e = chunks[merged + b];
        return e.vaddr() + e.pageCount() * PAGE;
    }

    private void segment(int c, long s, long e) {
        if (segs > 0 && segChunk[segs - 1] == c && segStart[segs - 1] + segPages[segs - 1] * PAGE == s) {
            segPages[segs - 1] += (int) ((e - s) / PAGE);
            return;
        }
        segStart[segs] = s;
        segPages[segs] = (int) ((e - s) / PAGE);
        segChunk[segs] = c;
        segFirst[segs] = (int) ((s - chunks[c].vaddr()) / PAGE);
        segs++;
    }

    // a max-heap of places in the batch: the newest chunk on top

    private int push(int size, int b) {
        int at = size++;
        while (at > 0 && heap[(at - 1) / 2] < b) {
            heap[at] = heap[(at - 1) / 2];
            at = (at - 1) / 2;
        }
        heap[at] = b;
        return size;
    }

    private int pop(int size) {
        int last = heap[--size];
        int at = 0;
        while (2 * at + 1 < size) {
            int child = 2 * at + 1;
            if (child + 1 < size && heap[child + 1] > heap[child]) {
                child++;
            }
            if (heap[child] <= last) {
                break;
            }
            heap[at] = heap[child];
            at = child;
        }
        heap[at] = last;
        return size;
    }
}
