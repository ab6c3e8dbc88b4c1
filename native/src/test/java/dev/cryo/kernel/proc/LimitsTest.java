package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LimitsTest {
    @Test
    void parsesRealLimits() {
        Limits l = Limits.parse("/proc/4490/limits", Fixtures.text("sleep-limits"));
        assertEquals(16, l.rows().size());
        for (int r = 0; r < Limits.RLIM_NLIMITS; r++) {
            assertEquals(r, l.rows().get(r).resource());
        }
        Limits.Limit cpu = l.get(Limits.RLIMIT_CPU);
        assertEquals("Max cpu time", cpu.name());
        assertTrue(cpu.softUnlimited());
        assertEquals(Limits.INFINITY, cpu.hard());
        assertEquals("seconds", cpu.units());
        assertEquals(8388608, l.get(Limits.RLIMIT_STACK).soft());
        assertEquals(Limits.INFINITY, l.get(Limits.RLIMIT_STACK).hard());
        assertEquals(0, l.get(Limits.RLIMIT_CORE).soft());
        assertEquals(20000, l.get(Limits.RLIMIT_NOFILE).soft());
        assertEquals(20000, l.get(Limits.RLIMIT_NOFILE).hard());
        assertEquals("files", l.get(Limits.RLIMIT_NOFILE).units());
        assertEquals(819200, l.get(Limits.RLIMIT_MSGQUEUE).soft());
        assertEquals("", l.get(Limits.RLIMIT_NICE).units()); // no units column
        assertEquals(0, l.get(Limits.RLIMIT_RTPRIO).hard());
        assertEquals("us", l.get(Limits.RLIMIT_RTTIME).units());
    }

    @Test
    void malformedLimits() {
        String good = Fixtures.text("sleep-limits");
        assertBad("/proc/6/limits line 9: Max open files: expected an unsigned decimal number, found 'lots'",
                () -> Limits.parse("/proc/6/limits", good.replace("20000                20000", "20000                lots")));
        assertBad("/proc/6/limits line 1: expected the", () -> Limits.parse("/proc/6/limits", good.substring(good.indexOf('\n') + 1)));
        assertBad("/proc/6/limits line 2: unknown limit", () -> Limits.parse("/proc/6/limits", good.replace("Max cpu time", "Max gpu time")));
        assertBad("/proc/6/limits: no row for 'Max nice priority'",
                () -> Limits.parse("/proc/6/limits", good.replaceAll("Max nice priority[^\n]*\n", "")));
        assertBad("/proc/6/limits line 15: Max nice priority: expected soft, hard",
                () -> Limits.parse("/proc/6/limits", good.replaceAll("(Max nice priority +)0 ", "$1")));
    }
}
