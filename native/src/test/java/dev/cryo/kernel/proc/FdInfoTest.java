package dev.cryo.kernel.proc;

import dev.cryo.kernel.Fcntl;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FdInfoTest {
    @Test
    void pipeEnds() {
        FdInfo r = FdInfo.parse("/proc/1/fdinfo/3", Fixtures.text("fdinfo-pipe-read"));
        assertEquals(0, r.pos());
        assertEquals(02000000, r.flags());
        assertTrue(r.cloexec());
        assertEquals(0, r.accessMode()); // O_RDONLY
        assertEquals(16, r.mntId());
        assertEquals(9775, r.ino());
        assertTrue(r.other().isEmpty());
        FdInfo w = FdInfo.parse("/proc/1/fdinfo/4", Fixtures.text("fdinfo-pipe-write"));
        assertEquals(1, w.accessMode()); // O_WRONLY
        assertEquals(r.ino(), w.ino());
    }

    @Test
    void eventfdKeepsItsLines() {
        FdInfo e = FdInfo.parse("fdinfo", Fixtures.text("fdinfo-eventfd"));
        assertEquals(02004002, e.flags()); // O_CLOEXEC | O_NONBLOCK | O_RDWR
        assertEquals(1030, e.ino());
        assertEquals("5", e.value("eventfd-count").orElseThrow());
        assertEquals("1", e.value("eventfd-id").orElseThrow());
        assertEquals("0", e.value("eventfd-semaphore").orElseThrow());
        assertEquals(List.of("eventfd-count", "eventfd-id", "eventfd-semaphore"), List.copyOf(e.other().keySet()));
    }

    @Test
    void fileHasLargefileAndPosition() {
        FdInfo f = FdInfo.parse("fdinfo", Fixtures.text("fdinfo-file"));
        assertEquals(2, f.pos());
        assertEquals(02100001, f.flags());
        assertTrue((f.flags() & Fcntl.O_LARGEFILE) != 0);
        assertEquals(27, f.mntId());
        assertEquals(2146505, f.ino());
    }

    @Test
    void epollTargetsRepeat() {
        FdInfo ep = FdInfo.parse("fdinfo", Fixtures.text("fdinfo-epoll"));
        assertEquals(List.of("3 events:       19 data:                3  pos:0 ino:262f sdev:f"), ep.values("tfd"));
        String twice = Fixtures.text("fdinfo-epoll") + "tfd:        4 events:       19 data:                4  pos:0 ino:1 sdev:f\n";
        assertEquals(2, FdInfo.parse("fdinfo", twice).values("tfd").size());
        assertFalse(ep.value("eventfd-count").isPresent());
    }

    @Test
    void malformedFdInfo() {
        String good = Fixtures.text("fdinfo-file");
        assertBad("/proc/5/fdinfo/3 line 2: flags: expected an octal number, found '02100009'",
                () -> FdInfo.parse("/proc/5/fdinfo/3", good.replace("02100001", "02100009")));
        assertBad("/proc/5/fdinfo/3: missing 'mnt_id:' line", () -> FdInfo.parse("/proc/5/fdinfo/3", good.replace("mnt_id:\t27\n", "")));
        assertBad("/proc/5/fdinfo/3 line 3: expected 'key: value'", () -> FdInfo.parse("/proc/5/fdinfo/3", good.replace("mnt_id:\t27", "mnt_id 27")));
        assertBad("/proc/5/fdinfo/3 line 1: key 'pos' appears 2 times", () -> FdInfo.parse("/proc/5/fdinfo/3", good + "pos: 3\n"));
    }
}
