package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.OwnSyscalls;
import dev.cryo.kernel.SyscallNr;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * SOL_SOCKET options read together through io_uring are byte for byte what getsockopt reads one by
 * one, those a socket does not offer null both ways, on sockets of several kinds with options set
 * away from their defaults; 70 of them take two io_uring_enter (64 at a time) and no getsockopt.
 */
class SocketOptionReadsTest {
    @Test
    void manyOptionsReadTogetherAreWhatGetsockoptReads() {
        Assumptions.assumeTrue(SocketOptionReads.available(), "io_uring socket commands (Linux 6.7) here");
        int[] names = new int[70], sizes = new int[70];
        for (int i = 0; i < names.length; i++) {
            names[i] = i + 1; // SO_DEBUG (1) on, some not offered, some unknown to the kernel
            sizes[i] = i % 4 == 0 ? 16 : i % 4 == 1 ? 8 : 4;
        }
        Fd[] pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_STREAM);
        try (Fd tcp = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0);
             Fd udp = Sockets.socket(SockAddr.AF_INET6, Sockets.SOCK_DGRAM, 0); Fd a = pair[0]; Fd b = pair[1]) {
            Sockets.setInt(tcp, Sockets.SOL_SOCKET, Sockets.SO_KEEPALIVE, 1);
            Sockets.setInt(tcp, Sockets.SOL_SOCKET, Sockets.SO_RCVLOWAT, 7);
            Sockets.setBytes(tcp, Sockets.SOL_SOCKET, Sockets.SO_LINGER, new byte[] {1, 0, 0, 0, 5, 0, 0, 0});
            Sockets.setInt(udp, Sockets.SOL_SOCKET, Sockets.SO_BROADCAST, 1);
            Sockets.setInt(a, Sockets.SOL_SOCKET, Sockets.SO_PASSCRED, 1);
            for (Fd s : new Fd[] {tcp, udp, a}) {
                long[] before = OwnSyscalls.now();
                byte[][] together = SocketOptionReads.read(s, names, sizes);
                assertNotNull(together, "the ring is this thread's alone");
                assertEquals(2, OwnSyscalls.since(before, SyscallNr.IO_URING_ENTER), OwnSyscalls.since(before));
                assertEquals(0, OwnSyscalls.since(before, SyscallNr.GETSOCKOPT), OwnSyscalls.since(before));
                int offered = 0;
                for (int i = 0; i < names.length; i++) {
                    byte[] alone = Sockets.getBytesOrNull(s, Sockets.SOL_SOCKET, names[i], sizes[i]);
                    assertArrayEquals(alone, together[i], "option " + names[i] + " of " + s + ": "
                            + Arrays.toString(alone) + " one by one, " + Arrays.toString(together[i]) + " together");
                    offered += alone == null ? 0 : 1;
                }
                assertNotNull(together[Sockets.SO_TYPE - 1]);
                org.junit.jupiter.api.Assertions.assertTrue(offered > 30, offered + " options offered");
            }
        }
    }
}
