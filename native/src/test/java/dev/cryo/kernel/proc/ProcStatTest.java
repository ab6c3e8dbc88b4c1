package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProcStatTest {
    @Test
    void parsesRealStat() {
        ProcStat s = ProcStat.parse("/proc/4490/stat", Fixtures.text("sleep-stat"));
        assertEquals(4490, s.pid());
        assertEquals("sleep", s.comm());
        assertEquals('S', s.state());
        assertEquals(4481, s.ppid());
        assertEquals(4481, s.pgrp());
        assertEquals(2887, s.session());
        assertEquals(0, s.ttyNr());
        assertEquals(-1, s.tpgid());
        assertEquals(4194304, s.flags());
        assertEquals(20, s.priority());
        assertEquals(0, s.nice());
        assertEquals(1, s.numThreads());
        assertEquals(241619, s.starttime());
        assertEquals(2990080, s.vsize());
        assertEquals(380, s.rss());
        assertEquals(-1L, s.rsslim()); // 18446744073709551615 as a u64 bit pattern
        assertEquals(0x55f5ef213000L, s.startCode()); // the r-xp line of sleep-maps
        assertEquals(94514767296009L, s.endCode());
        assertEquals(140723407680096L, s.startStack());
        assertEquals(17, s.exitSignal());
        assertEquals(1, s.processor());
        assertEquals(94514767310096L, s.startData());
        assertEquals(94514767311360L, s.endData());
        assertEquals(0x55f5f1352000L, s.startBrk()); // the [heap] line of sleep-maps
        assertEquals(140723407682240L, s.argStart());
        assertEquals(140723407682249L, s.argEnd());
        assertEquals(140723407682249L, s.envStart());
        assertEquals(140723407683561L, s.envEnd());
        assertEquals(0, s.exitCode());
        assertEquals("6", s.field(33)); // sigignore
        assertEquals("sleep", s.field(2));
    }

    @Test
    void taskStatHasTheSameShape() {
        ProcStat s = ProcStat.parse("/proc/4490/task/4490/stat", Fixtures.text("sleep-task-stat"));
        assertEquals(4490, s.pid());
        assertEquals(140723407683561L, s.envEnd());
    }

    @Test
    void nameWithSpacesAndParenRunsToLastParen() {
        ProcStat s = ProcStat.parse("/proc/4486/stat", Fixtures.text("stat-weird-name"));
        assertEquals(4486, s.pid());
        assertEquals("we ird) name", s.comm());
        assertEquals('S', s.state());
        assertEquals(4485, s.ppid());
        assertEquals(4481, s.pgrp());
    }

    @Test
    void truncatedStatNamesPathLineAndCount() {
        ProcFormatException e = assertBad("/proc/4242/stat line 1", () -> ProcStat.parse("/proc/4242/stat", "4242 (x) S 1 2 3\n"));
        assertTrue(e.getMessage().contains("expected at least 50 fields after the name"), e.getMessage());
        assertTrue(e.getMessage().contains("found 4"), e.getMessage());
        assertEquals(1, e.line());
        assertEquals("/proc/4242/stat", e.path());
    }

    @Test
    void malformedStats() {
        String good = Fixtures.text("sleep-stat");
        assertBad("/proc/1/stat line 1: no '(comm)'", () -> ProcStat.parse("/proc/1/stat", "4490 sleep S 1"));
        assertBad("/proc/1/stat line 1: field 1 (pid)", () -> ProcStat.parse("/proc/1/stat", "x" + good));
        assertBad("/proc/1/stat line 1: field 4", () -> ProcStat.parse("/proc/1/stat", good.replace(" S 4481", " S zz")));
        assertBad("/proc/1/stat line 1: field 3 (state)", () -> ProcStat.parse("/proc/1/stat", good.replace(" S ", " SS ")));
        assertBad("/proc/1/stat line 2", () -> ProcStat.parse("/proc/1/stat", good + "extra\n"));
    }
}
