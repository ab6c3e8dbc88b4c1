package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MapsEntryTest {
    private final List<MapsEntry> maps = MapsEntry.parse("/proc/4490/maps", Fixtures.text("sleep-maps"));

    @Test
    void parsesFileBackedLine() {
        assertEquals(37, maps.size());
        MapsEntry m = maps.get(0);
        assertEquals(0x55f5ef211000L, m.start());
        assertEquals(0x55f5ef213000L, m.end());
        assertTrue(m.read());
        assertFalse(m.write());
        assertFalse(m.exec());
        assertFalse(m.shared());
        assertEquals(0, m.offset());
        assertEquals(0xfe, m.devMajor());
        assertEquals(0, m.devMinor());
        assertEquals(260875, m.inode());
        assertEquals("/usr/bin/sleep", m.path());
        assertFalse(m.deleted());
        assertTrue(m.isFileBacked());
        assertEquals(8192, m.size());
        assertEquals(2, m.pages());
        assertEquals("r--p", m.perms());
        MapsEntry text = maps.get(1);
        assertTrue(text.exec());
        assertEquals(0x2000, text.offset());
        assertTrue(maps.get(24).shared()); // gconv-modules.cache r--s
    }

    @Test
    void classifiesSpecialAreas() {
        MapsEntry heap = maps.get(5);
        assertTrue(heap.isHeap());
        assertTrue(heap.isAnonymous());
        MapsEntry anon = maps.get(16);
        assertEquals("", anon.path());
        assertTrue(anon.isAnonymous());
        assertFalse(anon.isFileBacked());
        assertTrue(maps.get(27).isVvar());
        assertEquals("[vvar_vclock]", maps.get(28).path());
        assertTrue(maps.get(28).isVvar());
        assertTrue(maps.get(29).isVdso());
        assertTrue(maps.get(35).isStack());
        MapsEntry vsyscall = maps.get(36);
        assertTrue(vsyscall.isVsyscall());
        assertEquals(0xffffffffff600000L, vsyscall.start());
        assertEquals(0xffffffffff601000L, vsyscall.end());
        assertEquals(1, vsyscall.pages());
        assertTrue(vsyscall.exec());
        assertFalse(vsyscall.read());
        assertTrue(vsyscall.contains(0xffffffffff600800L));
        assertFalse(vsyscall.contains(0x1000L));
    }

    @Test
    void deletedFileWithSpaces() {
        List<MapsEntry> m = MapsEntry.parse("maps", Fixtures.text("maps-deleted"));
        MapsEntry shm = m.get(1);
        assertEquals("/tmp/cryo map with spaces", shm.path());
        assertTrue(shm.deleted());
        assertTrue(shm.shared());
        assertTrue(shm.write());
        assertEquals(2146525, shm.inode());
        assertFalse(m.get(0).deleted());
    }

    @Test
    void malformedMaps() {
        String good = Fixtures.text("sleep-maps");
        assertBad("/proc/7/maps line 1: start address: expected a hex number, found '55f5ef2g1000'",
                () -> MapsEntry.parse("/proc/7/maps", good.replaceFirst("55f5ef211000", "55f5ef2g1000")));
        assertBad("/proc/7/maps line 3: expected 5 fields before the path, found 2",
                () -> MapsEntry.parse("/proc/7/maps", good.replace("55f5ef218000-55f5ef21a000 r--p 00007000 fe:00 260875                     /usr/bin/sleep",
                        "55f5ef218000-55f5ef21a000 r--p")));
        assertBad("/proc/7/maps line 2: permissions", () -> MapsEntry.parse("/proc/7/maps", "1000-2000 r--p 0 00:00 0\n1000-2000 rwz 0 00:00 0\n"));
        assertBad("/proc/7/maps line 1: device", () -> MapsEntry.parse("/proc/7/maps", "1000-2000 r--p 0 0000 0\n"));
        assertBad("/proc/7/maps line 1: address range", () -> MapsEntry.parse("/proc/7/maps", "2000-1000 r--p 0 00:00 0\n"));
        assertBad("/proc/7/maps line 1: inode", () -> MapsEntry.parse("/proc/7/maps", "1000-2000 r--p 0 00:00 x /a\n"));
    }
}
