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
        return new IndexEntry(number++, ChunkType.PAGES, false, 0, (int) (pages * P), (int) (pages * P), 7,
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
}
