package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProcNetNetlinkTest {
    @Test
    void aRoutingSocketWithADumpAnswerQueued() {
        Map<Long, ProcNetNetlink.Entry> m = ProcNetNetlink.parse("/proc/net/netlink", Fixtures.text("net-netlink"));
        assertEquals(12, m.size());
        ProcNetNetlink.Entry asked = m.get(26287L);
        assertEquals(0, asked.protocol());
        assertEquals(11999, asked.portId());
        assertEquals(4352, asked.unreadBytes());
        assertTrue(asked.dumping());
        assertTrue(asked.unread());
        ProcNetNetlink.Entry uevents = m.get(26288L);
        assertEquals(15, uevents.protocol());
        assertFalse(uevents.unread());
    }

    @Test
    void aShortLineNamesPathAndLine() {
        assertBad("/proc/net/netlink line 2", () -> ProcNetNetlink.parse("/proc/net/netlink",
                "sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode\n0000 0 0 00000000 0\n"));
    }
}
