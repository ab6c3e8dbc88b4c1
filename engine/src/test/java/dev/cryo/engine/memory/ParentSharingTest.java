package dev.cryo.engine.memory;

import dev.cryo.engine.cgroups.CgroupMembership;
import dev.cryo.engine.model.Creds;
import dev.cryo.engine.model.MmImage;
import dev.cryo.engine.model.SecurityImage;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.TimersImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.proc.Pagemap;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ParentSharingTest {
    private static final long P = 4096, BASE = 0x7f00_0000_0000L;
    private static final int ANON = VmaImage.MAP_PRIVATE | VmaImage.MAP_ANONYMOUS;

    private static VmaImage anon(long fromPage, long toPage, int advice) {
        return new VmaImage(BASE + fromPage * P, BASE + toPage * P, 3, ANON, 0, MemoryKinds.ANON, null, 0, 0, advice);
    }

    @Test
    void onlyOneAnonymousFrameOrOneSwapSlotIsShared() {
        long present = Pagemap.PRESENT | 0x1234;
        assertTrue(ParentSharing.oneFrame(present, present));
        assertFalse(ParentSharing.oneFrame(present, Pagemap.PRESENT | 0x1235), "another frame");
        assertFalse(ParentSharing.oneFrame(Pagemap.PRESENT, Pagemap.PRESENT), "PFN unreadable (not root)");
        assertFalse(ParentSharing.oneFrame(present | Pagemap.FILE_OR_SHARED_ANON, present | Pagemap.FILE_OR_SHARED_ANON),
                "the file's own page is no copy");
        assertTrue(ParentSharing.oneFrame(Pagemap.SWAPPED | 0x40, Pagemap.SWAPPED | 0x40));
        assertFalse(ParentSharing.oneFrame(Pagemap.SWAPPED | 0x40, Pagemap.SWAPPED | 0x60));
        assertFalse(ParentSharing.oneFrame(Pagemap.SWAPPED | Pagemap.GUARD, Pagemap.SWAPPED | Pagemap.GUARD));
        assertFalse(ParentSharing.oneFrame(0, 0), "absent in both");
    }

    @Test
    void runsGoToTheirMappingsAndTheRestOfEachIsDropped() {
        List<VmaImage> vmas = ParentSharing.assign(List.of(anon(0, 16, 0), anon(16, 32, VmAdvice.DONTFORK)),
                new long[] {BASE + 2 * P, 3, BASE + 10 * P, 6, BASE + 20 * P, 1});
        assertArrayEquals(new long[] {BASE + 2 * P, 3, BASE + 10 * P, 6}, vmas.get(0).inherited());
        assertEquals(9, vmas.get(0).inheritedPages());
        assertEquals(0, vmas.get(1).inherited().length, "a fork does not carry a MADV_DONTFORK area");
        List<long[]> gaps = ParentSharing.notShared(vmas.get(0));
        assertEquals(2, gaps.size());
        assertArrayEquals(new long[] {BASE, BASE + 2 * P}, gaps.get(0));
        assertArrayEquals(new long[] {BASE + 5 * P, BASE + 10 * P}, gaps.get(1));
    }

    @Test
    void aChildKeepsOnlyWhatItsParentsImageMapsTheSameWay() {
        VmaImage child = anon(4, 8, 0).withInherited(new long[] {BASE + 4 * P, 4});
        assertTrue(ParentSharing.sameArea(anon(0, 16, 0), child), "inside a bigger area of the parent's");
        assertTrue(ParentSharing.sameArea(anon(0, 16, VmAdvice.LOCKED), child), "locks are not inherited anyway");
        assertFalse(ParentSharing.sameArea(anon(6, 16, 0), child), "not all of it");
        assertFalse(ParentSharing.sameArea(anon(0, 16, VmAdvice.HUGEPAGE), child), "other advice");
        assertFalse(ParentSharing.sameArea(anon(0, 16, VmAdvice.WIPEONFORK), child));
        assertFalse(ParentSharing.sameArea(new VmaImage(BASE, BASE + 16 * P, 3, ANON, 0, MemoryKinds.HEAP, null, 0, 0),
                child), "another kind");
    }

    @Test
    void theRestorePlansAForkedChildButNotOneThatRanAProgramNorOneOfASealingParent() {
        VmaImage shared = anon(0, 8, 0).withInherited(new long[] {BASE, 8});
        TaskImage parent = task(100, 1, true, List.of(anon(0, 8, 0)));
        TaskImage forked = task(101, 100, false, List.of(shared));
        TaskImage execed = task(102, 100, true, List.of(shared));
        Map<Integer, List<VmaImage>> plan = ParentSharing.plan(List.of(parent, forked, execed));
        assertEquals(Map.of(101, List.of(shared)), plan);
        TaskImage sealing = task(100, 1, true, List.of(anon(0, 8, 0), anon(8, 9, VmAdvice.SEALED)));
        assertTrue(ParentSharing.plan(List.of(sealing, forked)).isEmpty(), "the child could not unmap a sealed area");
        assertArrayEquals(new long[] {BASE, BASE + 8 * P}, ParentSharing.sharedRanges(List.of(shared)).get(0));
    }

    @Test
    void sharedPagesAreReadWithoutAPinAndTheRestAsBefore() {
        List<long[]> ranges = ParentSharing.merged(List.of(new long[] {BASE + 8 * P, BASE + 12 * P},
                new long[] {BASE + 2 * P, BASE + 4 * P}, new long[] {BASE + 4 * P, BASE + 5 * P}));
        assertEquals(2, ranges.size(), "touching ranges joined");
        assertArrayEquals(new long[] {BASE + 2 * P, BASE + 5 * P}, ranges.get(0));
        List<dev.cryo.engine.dump.PageRun> runs = ParentSharing.readUnpinned(List.of(
                new dev.cryo.engine.dump.PageRun(3, BASE, 10, false, true),
                new dev.cryo.engine.dump.PageRun(4, BASE + 20 * P, 2, false, true),
                new dev.cryo.engine.dump.PageRun(5, BASE + 3 * P, 1, true, true)), ranges);
        assertEquals(List.of(
                new dev.cryo.engine.dump.PageRun(3, BASE, 2, false, true),
                new dev.cryo.engine.dump.PageRun(3, BASE + 2 * P, 3, true, true),
                new dev.cryo.engine.dump.PageRun(3, BASE + 5 * P, 3, false, true),
                new dev.cryo.engine.dump.PageRun(3, BASE + 8 * P, 2, true, true),
                new dev.cryo.engine.dump.PageRun(4, BASE + 20 * P, 2, false, true),
                new dev.cryo.engine.dump.PageRun(5, BASE + 3 * P, 1, true, true)), runs);
    }

    private static TaskImage task(int pid, int ppid, boolean execed, List<VmaImage> vmas) {
        return new TaskImage(new TaskIds(pid, ppid, pid, pid), "t", null, "/", "/", 022, 0,
                new Creds(List.of(0, 0, 0, 0), List.of(0, 0, 0, 0), List.of(), 0, 0, 0, 0, 0),
                List.of(), List.of(), new MmImage(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new long[0]), List.of(), vmas,
                List.of(), List.of(), new SecurityImage(1, false, List.of()), TimersImage.NONE, 0, List.of(), execed, CgroupMembership.NONE);
    }
}
