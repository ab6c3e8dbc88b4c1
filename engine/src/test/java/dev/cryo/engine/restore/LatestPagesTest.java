package dev.cryo.engine.restore;

import dev.cryo.engine.image.ChunkType;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.memory.MemoryKinds;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A pre-copy image holds some pages more than once: the last copy wins, pages outside the final mappings go. */
class LatestPagesTest {
    private static final long P = 4096, BASE = 0x10000000L;
    private int number;

    private IndexEntry chunk(long firstPage, int pages) {
        return new IndexEntry(number++, ChunkType.PAGES, 0, 0, (int) (pages * P), (int) (pages * P), 7,
                BASE + firstPage * P, pages);
    }

    private static VmaImage anon(long fromPage, long toPage) {
        return new VmaImage(BASE + fromPage * P, BASE + toPage * P, 3, 0x22, 0, MemoryKinds.ANON, null, 0, 0);
    }

    private static String show(List<PageSlice> slices) {
        StringBuilder b = new StringBuilder();
        for (PageSlice s : slices) {
            b.append(s.chunk().number()).append(':').append((s.address() - BASE) / P).append('+').append(s.pages()).append(' ');
        }
        return b.toString().trim();
    }

    /** A child forked after its parent's memory is in place writes only the pages it did not share. */
    @Test
    void pagesInheritedFromTheParentAreCutOut() {
        IndexEntry a = chunk(0, 8), b = chunk(8, 4), c = chunk(20, 2);
        List<long[]> shared = List.of(new long[] {BASE + 2 * P, BASE + 4 * P}, new long[] {BASE + 7 * P, BASE + 12 * P});
        assertEquals("0:0+2 0:4+3 2:20+2", show(PageSlice.outside(List.of(PageSlice.whole(a), PageSlice.whole(b),
                PageSlice.whole(c)), shared)));
        assertEquals("0:0+8", show(PageSlice.outside(List.of(PageSlice.whole(a)), List.of())));
    }

    /** A lazy restore leaves to come the slices lying whole in one of its areas (found by binary search). */
    @Test
    void aSliceIsLazyOnlyWhenOneLazyAreaHoldsItWhole() {
        List<long[]> areas = List.of(new long[] {BASE, BASE + 4 * P}, new long[] {BASE + 6 * P, BASE + 10 * P},
                new long[] {BASE + 10 * P, BASE + 12 * P}, new long[] {BASE + 20 * P, BASE + 21 * P});
        assertTrue(LazyPages.within(PageSlice.whole(chunk(0, 4)), areas));
        assertTrue(LazyPages.within(PageSlice.whole(chunk(7, 3)), areas));
        assertTrue(LazyPages.within(PageSlice.whole(chunk(10, 2)), areas));
        assertTrue(LazyPages.within(PageSlice.whole(chunk(20, 1)), areas));
        assertFalse(LazyPages.within(PageSlice.whole(chunk(3, 2)), areas), "runs past its area's end");
        assertFalse(LazyPages.within(PageSlice.whole(chunk(4, 2)), areas), "between two areas");
        assertFalse(LazyPages.within(PageSlice.whole(chunk(9, 2)), areas), "across two areas that touch");
        assertFalse(LazyPages.within(PageSlice.whole(chunk(5, 2)), areas), "starts before an area");
        assertFalse(LazyPages.within(PageSlice.whole(chunk(30, 1)), areas), "after the last area");
        assertFalse(LazyPages.within(PageSlice.whole(chunk(0, 1)), List.of()));
    }

    @Test
    void aPlainImageComesOutWholeChunkByChunk() {
        IndexEntry a = chunk(0, 4), b = chunk(4, 4);
        assertEquals("0:0+4 1:4+4", show(ImageContents.latest(List.of(a, b), List.of(anon(0, 16)))));
    }

    @Test
    void aLaterChunkReplacesThePagesItCoversAndLeavesTheRest() {
        IndexEntry round1 = chunk(0, 10), round2 = chunk(3, 2), round3 = chunk(4, 3);
        assertEquals("0:0+3 1:3+1 2:4+3 0:7+3",
                show(ImageContents.latest(List.of(round1, round2, round3), List.of(anon(0, 16)))));
    }

    @Test
    void aChunkCoveringSeveralEarlierOnesReplacesThemAll() {
        IndexEntry a = chunk(0, 2), b = chunk(2, 2), c = chunk(4, 2), all = chunk(1, 4);
        assertEquals("0:0+1 3:1+4 2:5+1", show(ImageContents.latest(List.of(a, b, c, all), List.of(anon(0, 16)))));
    }

    @Test
    void pagesOutsideTheFinalMappingsAreDropped() {
        IndexEntry a = chunk(0, 8), b = chunk(12, 4);
        // the task unmapped pages 2..5 and everything from 14 on between rounds
        assertEquals("0:0+2 0:6+2 1:12+2",
                show(ImageContents.latest(List.of(a, b), List.of(anon(0, 2), anon(6, 14)))));
    }

    @Test
    void aPageMadeAGuardAfterARoundSentItIsNotWritten() {
        IndexEntry round1 = chunk(0, 10), round2 = chunk(4, 1);
        // pages 2 and 6..7 became guard pages after the first round (MADV_GUARD_INSTALL): writing one fails
        VmaImage guarded = new VmaImage(BASE, BASE + 16 * P, 3, 0x22, 0, MemoryKinds.ANON, null, 0, 0, 0,
                new long[] {BASE + 2 * P, 1, BASE + 6 * P, 2});
        assertEquals("0:0+2 0:3+1 1:4+1 0:5+1 0:8+2",
                show(ImageContents.latest(List.of(round1, round2), List.of(guarded))));
    }

    @Test
    void aSharedFileMappingNeverTakesPageData() {
        IndexEntry a = chunk(0, 4);
        VmaImage shared = new VmaImage(BASE, BASE + 4 * P, 3, 0x01, 0, MemoryKinds.FILE_SHARED, null, 0, 0);
        assertEquals("", show(ImageContents.latest(List.of(a), List.of(shared))));
    }

    @Test
    void inAKeptAreaOnlyWhatWasNotPlacedIsWrittenAndCutsFollowTheirChunk() {
        LatestPages l = new LatestPages(true);
        l.add(chunk(0, 10), true);   // 0: placed in the stub
        l.add(chunk(3, 2), false);   // 1: came after the stub stopped taking pages
        l.add(chunk(20, 2), true);   // 2: placed, in an area the restore maps again
        l.add(chunk(8, 4), true);    // 3: placed, replaces the end of 0
        VmaImage kept = anon(0, 16), remapped = anon(16, 24);
        assertEquals("1:3+2 2:20+2", show(l.withinUnplaced(List.of(kept, remapped), v -> v == kept)));
        assertEquals("0:0+3 1:3+2 0:5+3 3:8+4 2:20+2", show(l.within(List.of(kept, remapped))));
        l.add(chunk(2, 3), true);    // 4: placed over the unplaced 1: nothing left to write there
        assertEquals("2:20+2", show(l.withinUnplaced(List.of(kept, remapped), v -> v == kept)));
    }

    /**
     * Page by page against a plain model (every page's latest chunk), over many batches: chunks of
     * random places and sizes in rounds over the same areas, some placed, as a busy migration sends them.
     */
    @Test
    void manyRoundsOfOverlappingChunksLeaveEachPageItsLatestCopy() {
        java.util.Random r = new java.util.Random(37);
        for (int trial = 0; trial < 20; trial++) {
            LatestPages l = new LatestPages(true);
            java.util.Map<Long, long[]> model = new java.util.HashMap<>(); // page -> {chunk number, page in chunk, placed}
            int chunks = trial < 4 ? 30 : 3 * LatestPages.BATCH + r.nextInt(LatestPages.BATCH);
            long span = trial % 2 == 0 ? 600 : 40_000;
            for (int c = 0; c < chunks; c++) {
                long at = r.nextInt((int) span);
                int n = 1 + (r.nextInt(10) == 0 ? r.nextInt(300) : r.nextInt(8));
                boolean placed = r.nextBoolean();
                IndexEntry e = chunk(at, n);
                l.add(e, placed);
                if (r.nextInt(500) == 0) {
                    l.settle(); // a round starts
                }
                for (int p = 0; p < n; p++) {
                    model.put(at + p, new long[] {e.number(), p, placed ? 1 : 0});
                }
            }
            VmaImage kept = anon(0, span / 3), other = anon(span / 3 + 5, span + 400);
            assertEquals(expected(model, List.of(kept, other), v -> false), pages(l.within(List.of(other, kept))));
            assertEquals(expected(model, List.of(kept, other), v -> v == kept),
                    pages(l.withinUnplaced(List.of(kept, other), v -> v == kept)));
            l.settle();
            assertEquals(expected(model, List.of(kept, other), v -> v == kept),
                    pages(l.withinUnplaced(List.of(kept, other), v -> v == kept)));
            assertEquals(expected(model, List.of(kept, other), v -> false), pages(l.within(List.of(other, kept))));
        }
    }

    private static List<String> expected(java.util.Map<Long, long[]> model, List<VmaImage> vmas,
                                         java.util.function.Predicate<VmaImage> kept) {
        List<String> out = new java.util.ArrayList<>();
        for (VmaImage v : vmas) {
            for (long page = (v.start() - BASE) / P; page < (v.end() - BASE) / P; page++) {
                long[] m = model.get(page);
                if (m != null && !(kept.test(v) && m[2] == 1)) {
                    out.add(page + "=" + m[0] + ":" + m[1]);
                }
            }
        }
        return out;
    }

    /** Page by page, in the order given: each page's chunk and its page in that chunk. */
    private static List<String> pages(List<PageSlice> slices) {
        List<String> out = new java.util.ArrayList<>();
        for (PageSlice s : slices) {
            for (int p = 0; p < s.pages(); p++) {
                out.add((s.address() - BASE) / P + p + "=" + s.chunk().number() + ":" + (s.firstPage() + p));
            }
        }
        return out;
    }

    /**
     * A migration's destination holds 100,000 chunks and more until the restore: kept without an
     * object per chunk, a round over the pages it holds already allocates next to nothing beyond the
     * chunks' list (the TreeMap of mig36 made a slice, a boxed key and a map entry per chunk, twice with
     * placement: 136 bytes; survivors that every young collection of the receiving agent copied).
     */
    @Test
    void aRoundOverPagesHeldAlreadyAllocatesNoObjectPerChunk() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int n = 20 * LatestPages.BATCH;
        List<IndexEntry> round1 = new java.util.ArrayList<>(), round2 = new java.util.ArrayList<>();
        for (int c = 0; c < n; c++) {
            round1.add(chunk(4L * c, 4));
        }
        for (int c = 0; c < n; c++) {
            round2.add(chunk(4L * c, 4)); // the same pages written again: as many slices as before
        }
        LatestPages l = new LatestPages(true);
        round1.forEach(e -> l.add(e, true));
        l.within(List.of(anon(0, 1))); // everything merged, the scratch grown
        long before = threads.getCurrentThreadAllocatedBytes();
        round2.forEach(e -> l.add(e, false));
        long perChunk = (threads.getCurrentThreadAllocatedBytes() - before) / n;
        assertTrue(perChunk < 32, perChunk + " bytes allocated per chunk added");
        List<PageSlice> unplaced = l.withinUnplaced(List.of(anon(0, 4L * n)), v -> true);
        assertEquals(n, unplaced.size());
        assertEquals(round2.get(n - 1), unplaced.get(n - 1).chunk());
    }
}
