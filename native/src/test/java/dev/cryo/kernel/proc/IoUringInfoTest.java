package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoUringInfoTest {
    @Test
    void aRingWithTwoCompletionsUnreaped() {
        IoUringInfo r = IoUringInfo.parse("fdinfo", Fixtures.text("fdinfo-io-uring"));
        assertEquals(8, r.sqEntries());
        assertEquals(16, r.cqEntries());
        assertEquals(5, r.sqHead());
        assertEquals(5, r.sqTail());
        assertEquals(5, r.cachedSqHead());
        assertEquals(3, r.cqHead());
        assertEquals(5, r.cqTail());
        assertEquals(5, r.cachedCqTail());
        assertEquals(List.of(), r.sqes());
        assertEquals(List.of("3: user_data:103, res:0, flag:0", "4: user_data:104, res:0, flag:0"), r.cqes());
        assertFalse(IoUringInfo.bigCqe(r.cqes().get(0)));
        assertEquals(-1, r.sqThread());
        assertEquals(0, r.userFiles());
        assertEquals(0, r.userBufs());
        assertFalse(r.personalities());
        assertEquals(0, r.polls());
        assertEquals(0, r.overflowed());
    }

    /**
     * What the kernel prints while the ring's lock is held (a task submitting): no line of the ring. It is read
     * again until they are there, and a read that never has them is named as such.
     */
    @Test
    void anFdinfoWithoutTheRingsLinesIsReadAgain() {
        String busy = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t40280458\n";
        int[] reads = {0};
        IoUringInfo r = IoUringInfo.read("fdinfo", () -> ++reads[0] < 3 ? busy : Fixtures.text("fdinfo-io-uring"));
        assertEquals(3, reads[0]);
        assertEquals(8, r.sqEntries());
        ProcFormatException e = assertThrows(ProcFormatException.class, () -> IoUringInfo.read("fdinfo", () -> busy));
        assertTrue(e.getMessage().endsWith("in " + IoUringInfo.BUSY_READS + " reads (the kernel leaves them out while the"
                + " ring's lock is held)"), e.getMessage());
    }

    @Test
    void countersPastTwoToTheThirtyOneAndTheListsThatFollow() {
        String text = Fixtures.text("fdinfo-io-uring").replace("SqHead:\t5", "SqHead:\t4294967295")
                .replace("PollList:\n", "PollList:\n  op=6, task_works=0\n")
                .replace("UserBufs:\t0\n", "UserBufs:\t0\nPersonalities:\n    1\n\tUid:\t0\t\t0\t\t0\t\t0\n\tCapEff:\t0\n")
                .replace("CqOverflowList:\n", "CqOverflowList:\n  user_data=9, res=0, flags=0\n");
        IoUringInfo r = IoUringInfo.parse("fdinfo", text);
        assertEquals(-1, r.sqHead());
        assertTrue(r.personalities());
        assertEquals(1, r.polls());
        assertEquals(1, r.overflowed());
    }

    @Test
    void registeredFileAndBufferTablesWithTheirEmptySlots() {
        String text = Fixtures.text("fdinfo-io-uring")
                .replace("UserFiles:\t0\n", "UserFiles:\t5\n    1: pipe:[9886632]\n    2: /tmp/a\\040b: c\n")
                .replace("UserBufs:\t0\n", "UserBufs:\t4\n    0: <none>\n    1: 0x7f630ef22000/8192\n    2: 0x55fc16e3c0a0/1000\n"
                        + "    3: <none>\n");
        IoUringInfo r = IoUringInfo.parse("fdinfo", text);
        assertEquals(5, r.userFiles());
        assertEquals(List.of(new IoUringInfo.RegisteredFile(1, "pipe:[9886632]"), new IoUringInfo.RegisteredFile(2, "/tmp/a\\040b: c")),
                r.files());
        assertEquals(4, r.userBufs());
        assertEquals(List.of(new IoUringInfo.RegisteredBuffer(1, 0x7f630ef22000L, 8192),
                new IoUringInfo.RegisteredBuffer(2, 0x55fc16e3c0a0L, 1000)), r.buffers());
        assertEquals(0, r.polls());
    }

    @Test
    void anotherKindOfFdIsNamed() {
        ProcFormatException e = assertThrows(ProcFormatException.class,
                () -> IoUringInfo.parse("/proc/1/fdinfo/3", Fixtures.text("fdinfo-eventfd")));
        assertTrue(e.getMessage().contains("/proc/1/fdinfo/3"), e.getMessage());
    }
}
