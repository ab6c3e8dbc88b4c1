package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AuxvTest {
    @Test
    void parsesRealAuxv() {
        Auxv a = Auxv.parse("/proc/4490/auxv", Fixtures.bytes("sleep-auxv"));
        assertEquals(22, a.entries().size()); // 23 pairs in the file, the last is AT_NULL
        assertEquals(new Auxv.Entry(Auxv.AT_SYSINFO_EHDR, 0x7fc4bac04000L), a.entries().get(0)); // the [vdso] of sleep-maps
        assertEquals(4096, a.value(Auxv.AT_PAGESZ).orElseThrow());
        assertEquals(100, a.value(Auxv.AT_CLKTCK).orElseThrow());
        assertEquals(0x55f5ef213600L, a.value(Auxv.AT_ENTRY).orElseThrow());
        assertEquals(0x7fc4bac06000L, a.value(Auxv.AT_BASE).orElseThrow());
        assertEquals(0, a.value(Auxv.AT_SECURE).orElseThrow());
        assertTrue(a.value(1234).isEmpty());
        long[] w = a.words();
        assertEquals(46, w.length);
        assertEquals(0, w[44]);
        assertEquals(Auxv.AT_SYSINFO_EHDR, w[0]);
    }

    @Test
    void malformedAuxv() {
        byte[] good = Fixtures.bytes("sleep-auxv");
        assertBad("/proc/8/auxv: length 367 is not a multiple of 16",
                () -> Auxv.parse("/proc/8/auxv", Arrays.copyOf(good, good.length - 1)));
        assertBad("/proc/8/auxv: no AT_NULL entry in 352 bytes",
                () -> Auxv.parse("/proc/8/auxv", Arrays.copyOf(good, good.length - 16)));
    }
}
