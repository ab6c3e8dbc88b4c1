package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SmapsEntryTest {
    @Test
    void parsesRealSmaps() {
        List<SmapsEntry> smaps = SmapsEntry.parse("/proc/4490/smaps", Fixtures.text("sleep-smaps"));
        List<MapsEntry> maps = MapsEntry.parse("/proc/4490/maps", Fixtures.text("sleep-maps"));
        assertEquals(37, smaps.size());
        for (int i = 0; i < maps.size(); i++) {
            assertEquals(maps.get(i), smaps.get(i).map());
        }
        SmapsEntry first = smaps.get(0);
        assertEquals(8, first.kb("Size"));
        assertEquals(8, first.rssKb());
        assertEquals(0, first.swapKb());
        assertEquals(List.of("rd", "mr", "mw", "me"), List.copyOf(first.vmFlags()));
        assertEquals("0", first.other().get("THPeligible"));
        assertEquals(22, first.kb().size());

        SmapsEntry stack = smaps.get(35);
        assertTrue(stack.map().isStack());
        assertEquals(132, stack.kb("Size"));
        assertEquals(12, stack.rssKb());
        assertEquals(12, stack.kb("Anonymous"));
        assertTrue(stack.isGrowsDown());
        assertFalse(stack.isDontDump());

        SmapsEntry vvar = smaps.get(27);
        assertTrue(vvar.map().isVvar());
        assertTrue(vvar.isDontDump());
        assertTrue(vvar.hasFlag("io"));
        assertEquals(List.of("ex"), List.copyOf(smaps.get(36).vmFlags()));
    }

    @Test
    void deletedSharedMapping() {
        List<SmapsEntry> smaps = SmapsEntry.parse("smaps", Fixtures.text("smaps-deleted"));
        assertEquals(2, smaps.size());
        assertTrue(smaps.get(0).map().deleted());
        assertTrue(smaps.get(0).hasFlag("sh"));
        assertEquals(8, smaps.get(0).kb("Private_Dirty"));
    }

    @Test
    void malformedSmaps() {
        String good = Fixtures.text("smaps-deleted");
        assertBad("/proc/3/smaps line 5: Rss: expected a decimal number, found 'x8'",
                () -> SmapsEntry.parse("/proc/3/smaps", good.replaceFirst("Rss: {19}8 kB", "Rss: x8 kB")));
        assertBad("/proc/3/smaps line 1: 'Size:' before the first area line",
                () -> SmapsEntry.parse("/proc/3/smaps", "Size: 8 kB\n"));
        assertBad("/proc/3/smaps line 1: area", () -> SmapsEntry.parse("/proc/3/smaps", good.replaceFirst("VmFlags:[^\n]*\n", "")));
        assertBad("/proc/3/smaps line 26: start address",
                () -> SmapsEntry.parse("/proc/3/smaps", good.replace("7ffd85eb7000-", "7ffd85eb7zzz-")));
        assertBad("/proc/3/smaps line 25: VmFlags: expected two-letter flags",
                () -> SmapsEntry.parse("/proc/3/smaps", good.replace("VmFlags: rd wr sh", "VmFlags: rdx wr sh")));
    }
}
