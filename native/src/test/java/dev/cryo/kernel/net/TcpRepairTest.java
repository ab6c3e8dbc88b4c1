package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A loopback connection is taken apart in repair mode, its socket closed silently, rebuilt from
 * the state read, and goes on: the peer sees every byte in order, no reset and no close.
 */
class TcpRepairTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Reads until {@code want} bytes came or ~10 s passed (bounded). */
    private static String readSome(Fd s, int want) throws InterruptedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < 1000 && out.size() < want; i++) {
            byte[] got = Sockets.recv(s, 65536, Sockets.MSG_DONTWAIT);
            if (got == null) {
                Thread.sleep(10);
                continue;
            }
            if (got.length == 0) {
                throw new AssertionError("peer closed the connection");
            }
            out.writeBytes(got);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void connectionSurvivesRepairRebuild() throws Exception {
        runRebuild("127.0.0.1", false);
    }

    @Test
    void ipv6ConnectionSurvivesRepairRebuild() throws Exception {
        runRebuild("::1", false);
    }

    @Test
    void unacknowledgedDataIsResentAfterTheRebuildUnderTheNetworkLock() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        runRebuild("127.0.0.1", true);
    }

    /**
     * The rebuilt connection sends segments of the dumped size (the kernel's mss_cache, TCP_MAXSEG of a
     * connected socket): it sent 524-byte ones (repair mode's connect sized them from the 536-byte
     * default clamp, and nothing sized them again). A peer with a small receive buffer bounds the size
     * to half its window, below the 32767 TCP_MAXSEG takes: it comes back exactly; loopback's own
     * (65483, or half a large window) comes back as 32755.
     */
    @Test
    void theSegmentSizeComesBack() throws Exception {
        for (int peerBuffer : new int[] {6000, 0}) {
            try (Fd l = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0)) {
                if (peerBuffer > 0) {
                    Sockets.setInt(l, Sockets.SOL_SOCKET, Sockets.SO_RCVBUF, peerBuffer); // the accepted socket's too
                }
                Sockets.bind(l, SockAddr.inet(InetAddress.getByName("127.0.0.1"), 0));
                Sockets.listen(l, 1);
                Fd client = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0);
                Sockets.connect(client, Sockets.sockName(l));
                try (Fd server = Sockets.accept(l, 0)) {
                    SockAddr local = Sockets.sockName(client), remote = Sockets.peerName(client);
                    Sockets.send(client, new byte[4000], 0);
                    assertEquals(4000, readSome(server, 4000).length());
                    Thread.sleep(50); // let the acks settle
                    int dumped = Sockets.getInt(client, Sockets.SOL_TCP, Sockets.TCP_MAXSEG);
                    assertTrue(peerBuffer == 0 || dumped < 8000, "the window bounds the size: " + dumped);
                    TcpRepair.enter(client);
                    TcpRepair.Connection c = TcpRepair.read(client);
                    client.close();
                    try (Fd again = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0)) {
                        Sockets.setInt(again, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
                        TcpRepair.restore(again, local, remote, c);
                        // exact above TCP_MAXSEG's 32767 cap too: an IPv4 connection is sized again after its repair
                        assertEquals(dumped, Sockets.getInt(again, Sockets.SOL_TCP, Sockets.TCP_MAXSEG),
                                "segment size (peer's buffer " + peerBuffer + ")");
                    }
                }
            }
        }
    }

    private void runRebuild(String host, boolean lockFirst) throws Exception {
        InetAddress lo = InetAddress.getByName(host);
        int fam = lo.getAddress().length == 4 ? SockAddr.AF_INET : SockAddr.AF_INET6;
        String table = "cryo_test_" + ProcessHandle.current().pid();
        try (Fd l = Sockets.socket(fam, Sockets.SOCK_STREAM, 0)) {
            Sockets.bind(l, SockAddr.inet(lo, 0));
            Sockets.listen(l, 1);
            Fd client = Sockets.socket(fam, Sockets.SOCK_STREAM, 0);
            Sockets.connect(client, Sockets.sockName(l));
            try (Fd server = Sockets.accept(l, 0)) {
                SockAddr local = Sockets.sockName(client), remote = Sockets.peerName(client);
                Sockets.send(client, b("before "), 0);
                Sockets.send(server, b("unread by client "), 0);
                assertEquals("before ", readSome(server, 7));
                Thread.sleep(50); // let the acks settle
                if (lockFirst) {
                    NetworkLock.lock(table, List.of(new NetworkLock.Flow(local, remote)));
                    assertTrue(NetworkLock.isLocked(table));
                    Sockets.send(client, b("in flight "), 0); // dropped: stays unacknowledged
                    Thread.sleep(50);
                }
                TcpRepair.enter(client);
                TcpRepair.Connection c = TcpRepair.read(client);
                assertEquals("unread by client ", new String(c.recvQueue(), StandardCharsets.UTF_8));
                assertEquals(lockFirst ? "in flight " : "", new String(c.sendQueue(), StandardCharsets.UTF_8));
                assertTrue(c.mss() > 0);
                client.close(); // in repair mode: no FIN, no reset
                Fd again = Sockets.socket(fam, Sockets.SOCK_STREAM, 0);
                try (again) {
                    Sockets.setInt(again, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
                    TcpRepair.restore(again, local, remote, c);
                    assertEquals(1, Sockets.getInt(again, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR),
                            "leaving repair mode cleared SO_REUSEADDR");
                    if (lockFirst) {
                        NetworkLock.unlock(table);
                        assertFalse(NetworkLock.isLocked(table));
                    }
                    assertEquals(local, Sockets.sockName(again));
                    assertEquals("unread by client ", readSome(again, 17));
                    Sockets.send(again, b("after"), 0);
                    String expect = (lockFirst ? "in flight " : "") + "after";
                    assertEquals(expect, readSome(server, expect.length()));
                    Sockets.send(server, b("reply"), 0);
                    assertEquals("reply", readSome(again, 5));
                    assertEquals(0, Sockets.getInt(server, Sockets.SOL_SOCKET, Sockets.SO_ERROR), "no reset at the peer");
                }
            } finally {
                if (lockFirst) {
                    NetworkLock.unlock(table);
                }
            }
        }
    }
}
