package dev.cryo.engine.namespaces;

import dev.cryo.kernel.proc.MountInfo;
import dev.cryo.kernel.proc.MountInfo.Mount;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The order a restore makes mounts in, on a systemd-nspawn container's table (captured, trimmed). */
class MountOrderTest {
    private static final String NSPAWN = """
            122 97 254:0 /tmp/r / rw,relatime shared:6 - ext4 /dev/vda rw
            128 122 0:47 / /run rw,nosuid,nodev shared:11 - tmpfs tmpfs rw,mode=755
            129 128 0:47 /host /run/host ro,nosuid,nodev,noexec shared:11 - tmpfs tmpfs rw,mode=755
            130 129 254:0 /usr/lib/os-release /run/host/os-release ro,nosuid,nodev,noexec,relatime shared:12 - ext4 /dev/vda rw
            131 129 254:0 /run/systemd/nspawn/propagate/r /run/host/incoming ro,relatime master:14 - ext4 /dev/vda rw
            132 128 254:0 /usr/lib/os-release /run/host/os-release rw,relatime shared:12 - ext4 /dev/vda rw
            133 128 254:0 /run/systemd/nspawn/propagate/r /run/host/incoming rw,relatime shared:14 - ext4 /dev/vda rw
            136 122 0:50 / /proc rw,nosuid,nodev,noexec,relatime shared:16 - proc proc rw
            137 136 0:50 /sys /proc/sys ro,nosuid,nodev,noexec,relatime shared:16 - proc proc rw
            58 137 0:47 /.#boot-id//deleted /proc/sys/kernel/random/boot_id ro,nosuid,nodev,noexec shared:11 - tmpfs tmpfs rw
            59 136 0:47 /.#boot-id//deleted /proc/sys/kernel/random/boot_id rw,nosuid,nodev shared:11 - tmpfs tmpfs rw
            """;

    private static List<Integer> ids(List<Mount> ms) {
        return ms.stream().map(Mount::id).toList();
    }

    @Test
    void aMountPropagationCopiedUnderAPeersBindIsMadeBeforeThatBind() {
        List<Mount> table = MountInfo.parse("mountinfo", NSPAWN);
        // 132 and 133, /run's copies of what was mounted in its peer /run/host, sit under /run/host: before it;
        // 59 sits on /proc under the later /proc/sys bind: before it
        assertEquals(List.of(122, 128, 132, 133, 129, 130, 131, 136, 59, 137, 58), ids(MountOrder.sorted(table)));
    }

    @Test
    void aTableInWhichNothingIsHiddenKeepsItsOrder() {
        List<Mount> table = MountInfo.parse("mountinfo", """
                1 0 8:1 / / rw - ext4 /dev/sda rw
                2 1 0:5 / /a rw - tmpfs t rw
                3 2 0:6 / /a/b rw - tmpfs t rw
                4 1 0:5 /x /c rw - tmpfs t rw
                5 4 0:7 / /c rw - tmpfs u rw
                """);
        assertEquals(List.of(1, 2, 3, 4, 5), ids(MountOrder.sorted(table)));
    }

    @Test
    void aPathCoveredByALaterMountIsNoBindSourceAnyMore() {
        List<Mount> table = MountInfo.parse("mountinfo", NSPAWN);
        Mount run = table.get(1), runHost = table.get(2), hidden = table.get(5);
        // a path under /run/host in /run: /run/host, made on /run, covers it; /run/host itself does not cover its own dirs
        Mount inRun = new Mount(-1, run.id(), 0, 47, "/", "/run/host/os-release", "", List.of(), "", "", "");
        assertTrue(MountOrder.covers(runHost, inRun, table));
        assertTrue(MountOrder.covers(runHost, hidden, table));
        assertFalse(MountOrder.covers(hidden, table.get(3), table), "/run's hidden copy does not cover /run/host's");
    }
}
