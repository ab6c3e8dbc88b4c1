package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A dump that fails while a task dumper is still collecting: the supervisor abandons the sockets' state (connections
 * out of repair mode, the network lock gone) while that dumper may yet reach a connection. What it meets afterwards
 * is left as it is: before, its repair made the lock's table again and put the socket in repair mode, and nothing
 * took either back (the tree ran on with a connection in repair mode, the table stayed).
 */
class SocketDumpStateEndTest {
    private static SocketDumpState ended() {
        SocketDumpState st = new SocketDumpState(new SocketDumpState.Options(true, false, false),
                Pid.of((int) ProcessHandle.current().pid()), List.of());
        st.abandon();
        return st;
    }

    @Test
    void aConnectionReachedAfterTheDumpEndedIsNeitherLockedNorRepaired() {
        SocketDumpState st = ended();
        SockAddr local = SockAddr.inet(InetAddress.getLoopbackAddress(), 40001);
        SockAddr remote = SockAddr.inet(InetAddress.getLoopbackAddress(), 40002);
        try (Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0)) {
            KernelException e = assertThrows(KernelException.class,
                    () -> st.repair(1, s, local, remote, SockDiag.TCP_ESTABLISHED));
            assertTrue(e.getMessage().contains("the dump is over"), e.getMessage());
            assertFalse(st.inRepair(s));
        }
    }

    @Test
    void aTunFileHandedOverAfterTheDumpEndedIsClosedAtOnce() throws Exception {
        SocketDumpState st = ended();
        Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0);
        java.nio.file.Path fd = java.nio.file.Path.of("/proc/self/fd/" + s.value());
        String was = java.nio.file.Files.readSymbolicLink(fd).toString();
        st.persistAtKill(s, "cryo-none");
        assertFalse(java.nio.file.Files.exists(fd, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && java.nio.file.Files.readSymbolicLink(fd).toString().equals(was),
                "closed at once, not kept for a kill that will not come");
    }

    /**
     * A migration's source is killed only once its copy runs on the destination: nothing waits there for the
     * device. Before, the kill made a host tun device persistent as for a restore to come, and it outlived the
     * migrated tree on the source's host (here: still in /sys/class/net once its last file, the tree's, is closed).
     * A dump for a restore still keeps it.
     */
    @Test
    void aMigrationsKillLeavesNoTunDevicePersistentWhereADumpsKeepsIt() throws Exception {
        for (boolean migrating : new boolean[] {true, false}) {
            String name = "cryovs55" + (migrating ? "m" : "d");
            java.nio.file.Path sys = java.nio.file.Path.of("/sys/class/net", name);
            Pid self = Pid.of((int) ProcessHandle.current().pid());
            try {
                try (Fd tree = dev.cryo.kernel.Sys.open("/dev/net/tun", dev.cryo.kernel.Fcntl.O_RDWR);
                     Fd pidfd = dev.cryo.kernel.Sys.pidfdOpen(self)) {
                    dev.cryo.kernel.net.TunDevices.attach(tree, name, dev.cryo.kernel.net.TunDevices.IFF_TUN);
                    SocketDumpState st = new SocketDumpState(new SocketDumpState.Options(false, false, false), self,
                            List.of(), migrating);
                    st.persistAtKill(dev.cryo.kernel.Sys.pidfdGetfd(pidfd, self, tree.value()), name);
                    st.killing();
                    st.release(true, !migrating);
                } // the tree's file: its last
                assertEquals(!migrating, java.nio.file.Files.exists(sys), (migrating ? "a migration" : "a dump")
                        + " left tun device " + name + (migrating ? "" : " not") + " persistent");
            } finally {
                if (java.nio.file.Files.exists(sys)) {
                    try (Fd f = dev.cryo.kernel.Sys.open("/dev/net/tun", dev.cryo.kernel.Fcntl.O_RDWR)) {
                        dev.cryo.kernel.net.TunDevices.attach(f, name, dev.cryo.kernel.net.TunDevices.IFF_TUN);
                        dev.cryo.kernel.net.TunDevices.persist(f, name, false);
                    }
                }
            }
        }
    }
}
