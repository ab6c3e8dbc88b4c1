package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PagemapTest {
    @Test
    void decodesPresentEntry() {
        long e = (1L << 63) | (1L << 61) | (1L << 56) | (1L << 55) | 0x12345L;
        assertTrue(Pagemap.present(e));
        assertFalse(Pagemap.swapped(e));
        assertTrue(Pagemap.fileOrSharedAnon(e));
        assertTrue(Pagemap.exclusive(e));
        assertTrue(Pagemap.softDirty(e));
        assertEquals(0x12345L, Pagemap.pfn(e));
        assertEquals("present file/shared exclusive soft-dirty pfn 0x12345", Pagemap.describe(e));
    }

    @Test
    void decodesSwappedEntry() {
        long e = (1L << 62) | (0xabcL << 5) | 3;
        assertFalse(Pagemap.present(e));
        assertTrue(Pagemap.swapped(e));
        assertEquals(3, Pagemap.swapType(e));
        assertEquals(0xabcL, Pagemap.swapOffset(e));
        assertFalse(Pagemap.softDirty(e));
        assertEquals("not present", Pagemap.describe(0));
    }

    @Test
    void fileOffsetIsUnsigned() {
        assertEquals(0x55f5ef211L * 8, Pagemap.fileOffset(0x55f5ef211000L));
        assertEquals(0xffffffffff600L * 8, Pagemap.fileOffset(0xffffffffff600000L));
        assertEquals(8, Pagemap.fileOffset(0x1fffL));
    }
}
