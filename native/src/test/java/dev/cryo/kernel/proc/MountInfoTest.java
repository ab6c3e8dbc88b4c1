package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class MountInfoTest {
    /** Lines captured in an `unshare -m --pid --fork --mount-proc` shell on the development machine. */
    private static final String TEXT = """
            47 46 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
            67 47 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard
            71 49 0:40 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
            73 72 254:0 /etc /mnt/my\\040dir ro,relatime master:1 unbindable - ext4 /dev/vda rw,discard
            """;

    @Test
    void parsesPointsOptionsTagsAndEscapes() {
        List<MountInfo.Mount> m = MountInfo.parse("/proc/1/mountinfo", TEXT);
        assertEquals(4, m.size());
        assertEquals("/", m.get(0).point());
        assertEquals(254, m.get(0).major());
        assertEquals("rw,discard,resv_strict,resuid=65534,resgid=65534", m.get(0).superOptions());
        assertEquals(1, m.get(1).sharedGroup());
        assertEquals("proc", m.get(2).fsType());
        assertEquals("rw,nosuid,nodev,noexec,relatime", m.get(2).options());
        assertEquals(49, m.get(2).parent());
        assertEquals("/mnt/my dir", m.get(3).point());
        assertEquals("/etc", m.get(3).root());
        assertEquals(1, m.get(3).masterGroup());
        assertTrue(m.get(3).unbindable());
        assertEquals(0, m.get(3).sharedGroup());
    }

    @Test
    void aLineWithoutItsSeparatorIsNamedWithItsLine() {
        ProcFormatException e = assertThrows(ProcFormatException.class,
                () -> MountInfo.parse("/proc/1/mountinfo", "47 46 254:0 / / rw\n48 47 0:1 / /x rw - tmpfs\n"));
        assertTrue(e.getMessage().startsWith("/proc/1/mountinfo line 1: "), e.getMessage());
    }
}
