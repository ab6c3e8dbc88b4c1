package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Socket wrappers and sock_diag against real sockets of this process. */
class SocketsTest {
    private static long ino(Fd s) throws Exception {
        String t = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + s.value())).toString();
        return Long.parseLong(t.substring(t.indexOf('[') + 1, t.indexOf(']')));
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void addressesRoundTrip() throws Exception {
        for (SockAddr a : List.of(SockAddr.unixPath("/tmp/x.sock"), SockAddr.unix(b("\0abstract")),
                SockAddr.inet(InetAddress.getByName("127.0.0.1"), 8080), SockAddr.inet(InetAddress.getByName("::1"), 443),
                SockAddr.netlink(1234, 5))) {
            byte[] raw = a.encode();
            assertEquals(a, SockAddr.decode(raw, raw.length), a.toString());
        }
        assertEquals("@abstract", SockAddr.unix(b("\0abstract")).toString());
    }

    /** libqb binds names that fill sun_path, NUL-padded; a path may fill it too, without its NUL. */
    @Test
    void namesFillingAllOfSunPathEncodeToTheWholeStructure() throws Exception {
        byte[] abs = java.util.Arrays.copyOf(b("\0cmap"), SockAddr.SUN_PATH);
        byte[] path = b("/" + "p".repeat(SockAddr.SUN_PATH - 1));
        for (SockAddr a : List.of(SockAddr.unix(abs), SockAddr.unix(path))) {
            byte[] raw = a.encode();
            assertEquals(2 + SockAddr.SUN_PATH, raw.length, a.toString());
            assertEquals(a, SockAddr.decode(raw, raw.length), a.toString());
        }
        assertThrows(IllegalArgumentException.class, () -> SockAddr.unix(new byte[SockAddr.SUN_PATH + 1]).encode());
        byte[] name = java.util.Arrays.copyOf(b("\0cryo-full-" + ProcessHandle.current().pid()), SockAddr.SUN_PATH);
        try (Fd l = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0)) {
            Sockets.bind(l, SockAddr.unix(name));
            assertEquals(SockAddr.unix(name), Sockets.sockName(l));
        }
    }

    @Test
    void peeksBothQueuesOfAStreamPairWithoutConsuming() throws Exception {
        Fd[] p = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_STREAM);
        try (Fd a = p[0]; Fd c = p[1]) {
            Sockets.send(a, b("hello "), 0);
            Sockets.send(a, b("world"), 0);
            Sockets.send(c, b("back"), 0);
            Sockets.shutdown(c, Sockets.SHUT_WR);
            assertEquals("hello world", join(Sockets.peekQueue(c, 65536)));
            assertEquals("back", join(Sockets.peekQueue(a, 65536)));
            assertEquals("hello world", join(Sockets.peekQueue(c, 65536)), "peeking twice sees the same");
            assertEquals(-1, Sockets.getInt(c, Sockets.SOL_SOCKET, Sockets.SO_PEEK_OFF), "peek offset put back");

            try (SockDiag d = SockDiag.open()) {
                Map<Long, SockDiag.UnixSocket> all = d.unixSockets();
                SockDiag.UnixSocket sa = all.get(ino(a)), sc = all.get(ino(c));
                assertNotNull(sa);
                assertEquals(ino(c), sa.peerIno());
                assertEquals(ino(a), sc.peerIno());
                assertEquals(Sockets.SOCK_STREAM, sa.type());
                assertEquals(11, sc.rqueue(), "unread bytes at c");
                assertEquals(4, sa.rqueue());
                assertEquals(Sockets.SHUT_WR + 1, sc.shutdown(), "SEND_SHUTDOWN at c");
                assertTrue(sa.address().isUnbound());
            }
            assertEquals("hello world", new String(Sockets.recv(c, 100, 0), StandardCharsets.UTF_8));
        }
    }

    @Test
    void peeksDatagramsOneByOneAndSeesPassedFds() {
        Fd[] p = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM);
        try (Fd a = p[0]; Fd c = p[1]) {
            Sockets.send(a, b("one"), 0);
            Sockets.send(a, b(""), 0);
            Sockets.send(a, b("three"), 0);
            List<Sockets.Message> q = Sockets.peekQueue(c, 65536);
            assertEquals(3, q.size());
            assertEquals("one", new String(q.get(0).data(), StandardCharsets.UTF_8));
            assertEquals(0, q.get(1).length());
            assertEquals("three", new String(q.get(2).data(), StandardCharsets.UTF_8));
            Sockets.sendFds(a, List.of(a), null);
            // a zero-length datagram already peeked is skipped by later peeks (the kernel's
            // skb->peeked rule), so the second look sees three messages
            List<Sockets.Message> q2 = Sockets.peekQueue(c, 65536);
            assertEquals(1, q2.get(q2.size() - 1).fdsPassed(), "SCM_RIGHTS in flight is seen");
        }
    }

    /**
     * Two peeks of one queue at once, each through its own fd of the socket (two dumpers' copies: a unix socket's
     * dump, and the look for sockets in flight another task's dump makes): the peek offset is the socket's, so each
     * skipped what the other had read, and a dump's image could lack messages. They take turns now.
     */
    @Test
    void twoPeeksOfOneQueueAtOnceEachSeeItAll() throws Exception {
        Fd[] pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_SEQPACKET);
        dev.cryo.kernel.Pid self = dev.cryo.kernel.Pid.of((int) ProcessHandle.current().pid());
        try (Fd pidfd = dev.cryo.kernel.Sys.pidfdOpen(self); Fd other = dev.cryo.kernel.Sys.pidfdGetfd(pidfd, self, pair[0].value())) {
            int n = 200;
            for (int i = 0; i < n; i++) {
                Sockets.send(pair[1], b("m" + i), 0);
            }
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
            java.util.concurrent.ExecutorService two = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                for (int round = 0; round < 20; round++) {
                    List<java.util.concurrent.Future<Integer>> seen = List.of(pair[0], other).stream()
                            .map(fd -> two.submit(() -> {
                                start.await();
                                return Sockets.peekQueue(fd, 64).size();
                            })).toList();
                    for (java.util.concurrent.Future<Integer> f : seen) {
                        assertEquals(n, f.get(), "round " + round);
                    }
                }
            } finally {
                two.shutdownNow();
            }
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }

    @Test
    void diagShowsPendingConnectionsOfAListener() throws Exception {
        String name = "\0cryo-test-" + ProcessHandle.current().pid();
        try (Fd l = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0)) {
            Sockets.bind(l, SockAddr.unix(b(name)));
            Sockets.listen(l, 7);
            try (Fd c1 = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0);
                 Fd c2 = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0)) {
                Sockets.connect(c1, SockAddr.unix(b(name)));
                Sockets.connect(c2, SockAddr.unix(b(name)));
                Sockets.send(c1, b("queued before accept"), 0);
                try (SockDiag d = SockDiag.open()) {
                    Map<Long, SockDiag.UnixSocket> all = d.unixSockets();
                    SockDiag.UnixSocket ls = all.get(ino(l));
                    assertEquals(SockDiag.UNIX_LISTEN, ls.state());
                    assertEquals(2, ls.pendingConnections().length);
                    assertEquals(2, ls.rqueue());
                    assertEquals(7, ls.wqueue(), "backlog");
                    assertEquals(SockAddr.unix(b(name)), ls.address());
                    // diag names the connecting clients; a client's own peer (the embryo) has no inode yet
                    assertEquals(java.util.Set.of(ino(c1), ino(c2)),
                            java.util.Set.of(ls.pendingConnections()[0], ls.pendingConnections()[1]));
                    assertEquals(0, all.get(ino(c1)).peerIno());
                    assertTrue(all.get(ino(c1)).wqueue() > 0, "c1 sent before being accepted");
                    assertEquals(0, all.get(ino(c2)).wqueue());
                }
                try (Fd acc = Sockets.accept(l, 0)) {
                    assertEquals("queued before accept", join(Sockets.peekQueue(acc, 65536)));
                }
            }
        }
    }

    @Test
    void diagShowsTcpAndUdp() throws Exception {
        InetAddress lo = InetAddress.getByName("127.0.0.1");
        try (Fd l = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0);
             Fd u = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0)) {
            Sockets.bind(l, SockAddr.inet(lo, 0));
            Sockets.listen(l, 5);
            Sockets.bind(u, SockAddr.inet(lo, 0));
            SockAddr la = Sockets.sockName(l);
            try (Fd c = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0)) {
                Sockets.connect(c, la);
                try (SockDiag d = SockDiag.open()) {
                    Map<Long, SockDiag.InetSocket> tcp = d.inetSockets(SockAddr.AF_INET, Sockets.IPPROTO_TCP);
                    assertEquals(SockDiag.TCP_LISTEN, tcp.get(ino(l)).state());
                    assertEquals(la, tcp.get(ino(l)).local());
                    SockDiag.InetSocket cs = tcp.get(ino(c));
                    assertEquals(SockDiag.TCP_ESTABLISHED, cs.state());
                    assertEquals(la, cs.remote());
                    assertEquals(Sockets.sockName(c), cs.local());
                    Map<Long, SockDiag.InetSocket> udp = d.inetSockets(SockAddr.AF_INET, Sockets.IPPROTO_UDP);
                    assertEquals(Sockets.sockName(u), udp.get(ino(u)).local());
                }
            }
            assertNull(Sockets.peerName(u), "an unconnected socket has no peer");
        }
    }

    static String join(List<Sockets.Message> q) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        q.forEach(m -> out.writeBytes(m.data()));
        return out.toString(StandardCharsets.UTF_8);
    }
}
