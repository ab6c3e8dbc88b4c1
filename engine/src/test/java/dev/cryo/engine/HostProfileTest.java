package dev.cryo.engine;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class HostProfileTest {
    @Test
    void thisHostsProfileIsReadAndTravelsAsOneLine() {
        HostProfile here = HostProfile.local();
        assertTrue(here.sigFrame() > 512, "AT_MINSIGSTKSZ holds the XSAVE area: " + here.sigFrame());
        assertTrue(here.isa().contains("sse2") || here.isa().contains("sse"), here.isa().toString()); // any x86_64
        assertTrue(here.vdso().contains("[vdso]") && here.vdso().matches(".*code [0-9a-f]{16}"), here.vdso());
        assertEquals(here, HostProfile.decode(here.encode()));
        assertEquals(List.of(), here.mismatches(HostProfile.decode(here.encode()), "b"));
    }

    @Test
    void anotherCpuOrKernelIsNamed() {
        HostProfile a = new HostProfile(2776, Set.of("sse2", "avx2", "avx512f"), "[vdso] 2, code 00");
        HostProfile older = new HostProfile(2776, Set.of("sse2", "avx2"), "[vdso] 2, code 00");
        HostProfile bigger = new HostProfile(3632, Set.of("sse2", "avx2", "avx512f", "amx_tile"), "[vdso] 2, code 00");
        HostProfile otherKernel = new HostProfile(2776, Set.of("sse2", "avx2", "avx512f"), "[vdso] 2, code 11");
        assertEquals(List.of("b's CPU lacks avx512f, which this one has (a program may use them and would die of SIGILL"
                + " there)"), a.mismatches(older, "b"));
        assertEquals(List.of(), older.mismatches(a, "b"), "a CPU with more extensions takes the tree");
        assertTrue(a.mismatches(bigger, "b").get(0).contains("XSAVE area: a signal frame of 3632 bytes there, 2776 here"));
        assertTrue(a.mismatches(otherKernel, "b").get(0).startsWith("b runs another kernel build"));
        assertNull(HostProfile.decode(""), "an agent that sent nothing");
        assertNull(HostProfile.decode("sigframe=x;isa=;vdso="));
    }
}
