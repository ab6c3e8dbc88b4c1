package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProcStatusTest {
    @Test
    void parsesRealStatus() {
        ProcStatus s = ProcStatus.parse("/proc/4490/status", Fixtures.text("sleep-status"));
        assertEquals("sleep", s.name());
        assertEquals(0022, s.umask());
        assertEquals('S', s.state());
        assertEquals(4490, s.tgid());
        assertEquals(4490, s.pid());
        assertEquals(4481, s.ppid());
        assertEquals(0, s.tracerPid());
        assertEquals(new IdSet(0, 0, 0, 0), s.uids());
        assertEquals(new IdSet(0, 0, 0, 0), s.gids());
        assertEquals(List.of(), s.groups());
        assertEquals(List.of(4490), s.nsTgid());
        assertEquals(List.of(4490), s.nsPid());
        assertEquals(1, s.threads());
        assertEquals(0, s.sigPnd());
        assertEquals(0, s.shdPnd());
        assertEquals(0, s.sigBlk());
        assertEquals(0, s.sigCgt());
        assertEquals(0x000001fffeffffffL, s.capPrm());
        assertEquals(0x000001fffeffffffL, s.capEff());
        assertEquals(0x000001fffeffffffL, s.capBnd());
        assertEquals(0, s.capInh());
        assertEquals(0, s.capAmb());
        assertFalse(s.noNewPrivs());
        assertEquals(0, s.seccomp());
        // unknown keys are kept, in file order
        assertEquals("Name", s.fields().keySet().iterator().next());
        assertTrue(s.value("Kthread").isPresent());
        assertTrue(s.value("VmRSS").orElseThrow().endsWith("kB"));
        assertTrue(s.value("NoSuchKey").isEmpty());
    }

    @Test
    void nameKeepsSpacesAndParen() {
        ProcStatus s = ProcStatus.parse("/proc/4486/status", Fixtures.text("status-weird-name"));
        assertEquals("we ird) name", s.name());
        assertEquals(4486, s.pid());
    }

    @Test
    void parsesSignalMasksAndGroups() {
        String t = Fixtures.text("sleep-status")
                .replace("SigBlk:\t0000000000000000", "SigBlk:\t8000000000010002")
                .replace("Groups:\t \n", "Groups:\t4 24 27 \n")
                .replace("NoNewPrivs:\t0", "NoNewPrivs:\t1")
                .replace("Seccomp:\t0", "Seccomp:\t2");
        ProcStatus s = ProcStatus.parse("status", t);
        assertEquals(0x8000000000010002L, s.sigBlk());
        assertEquals(List.of(4, 24, 27), s.groups());
        assertTrue(s.noNewPrivs());
        assertEquals(2, s.seccomp());
    }

    @Test
    void malformedStatus() {
        String good = Fixtures.text("sleep-status");
        // Uid: is line 9 of the fixture
        assertBad("/proc/9/status line 9: Uid: expected 4 ids, found 3",
                () -> ProcStatus.parse("/proc/9/status", good.replace("Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0")));
        assertBad("/proc/9/status line 2: Umask", () -> ProcStatus.parse("/proc/9/status", good.replace("Umask:\t0022", "Umask:\t0089")));
        assertBad("/proc/9/status: missing 'SigCgt:' line",
                () -> ProcStatus.parse("/proc/9/status", good.replaceAll("SigCgt:[^\n]*\n", "")));
        assertBad("/proc/9/status line 1: expected 'Key:<tab>value'", () -> ProcStatus.parse("/proc/9/status", "garbage\n" + good));
        int sigBlkLine = lineOf(good, "SigBlk:");
        assertBad("/proc/9/status line " + sigBlkLine + ": SigBlk: expected a hex number",
                () -> ProcStatus.parse("/proc/9/status", good.replace("SigBlk:\t0000000000000000", "SigBlk:\tzz")));
    }

    private static int lineOf(String text, String prefix) {
        List<String> lines = Text.lines(text);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(prefix)) {
                return i + 1;
            }
        }
        throw new AssertionError(prefix);
    }
}
