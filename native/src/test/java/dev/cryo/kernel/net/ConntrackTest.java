package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.ConntrackAbi.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

class ConntrackTest {
    private static final byte[] A = {10, 0, 0, 1}, B = {10, 0, 0, 2}, C = {10, 0, 0, 3};

    private static byte[] tcpInfo(int state) {
        NetlinkWriter w = new NetlinkWriter();
        int t = w.nest(CTA_PROTOINFO_TCP);
        w.bytes(CTA_PROTOINFO_TCP_STATE, new byte[] {(byte) state});
        w.bytes(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, new byte[] {0x23, (byte) 0xff});
        w.bytes(CTA_PROTOINFO_TCP_FLAGS_REPLY, new byte[] {0x23, (byte) 0xff});
        w.close(t);
        return w.toArray();
    }

    /** A connection A:40000 to B:81 DNATed to C:8080, established. */
    static ConntrackEntry dnat() {
        return new ConntrackEntry(
                new ConntrackEntry.Tuple(A, B, 6, new int[] {CTA_PROTO_SRC_PORT, 40000, CTA_PROTO_DST_PORT, 81}, -1),
                new ConntrackEntry.Tuple(C, A, 6, new int[] {CTA_PROTO_SRC_PORT, 8080, CTA_PROTO_DST_PORT, 40000}, -1),
                0, IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED | IPS_DST_NAT, 3600, 0x2a, new byte[0], tcpInfo(3),
                new int[0], "");
    }

    /** A ping from A to B. */
    static ConntrackEntry ping() {
        return new ConntrackEntry(
                new ConntrackEntry.Tuple(A, B, 1, new int[] {CTA_PROTO_ICMP_ID, 7, CTA_PROTO_ICMP_TYPE, 8,
                        CTA_PROTO_ICMP_CODE, 0}, -1),
                new ConntrackEntry.Tuple(B, A, 1, new int[] {CTA_PROTO_ICMP_ID, 7, CTA_PROTO_ICMP_TYPE, 0,
                        CTA_PROTO_ICMP_CODE, 0}, -1),
                0, IPS_SEEN_REPLY | IPS_CONFIRMED, 30, 0, new byte[0], new byte[0], new int[0], "");
    }

    @Test
    void entriesMadeAgainInANewNamespaceReadBackTheSameWithTheirNat() {
        assumeTrue(new java.io.File("/proc/net/nf_conntrack").exists(), "conntrack in this kernel");
        List<ConntrackEntry> made = Namespaces.fresh("net", () -> {
            Conntrack.create(List.of(dnat(), ping()));
            assertEquals(0, Conntrack.expectations().size());
            return Conntrack.entries();
        });
        assertEquals(2, made.size(), made.toString());
        ConntrackEntry tcp = made.stream().filter(e -> e.orig().proto() == 6).findFirst().orElseThrow();
        assertEquals(dnat().identity(), tcp.identity());
        assertEquals("tcp 10.0.0.1:40000 -> 10.0.0.2:81, reply tcp 10.0.0.3:8080 -> 10.0.0.1:40000, ESTABLISHED"
                + " [SEEN_REPLY ASSURED CONFIRMED DST_NAT] mark 0x2a", tcp.identity());
        assertTrue(tcp.timeout() > 3500 && tcp.timeout() <= 3600, "the remaining timeout: " + tcp.timeout());
        assertEquals(ping().identity(), made.stream().filter(e -> e.orig().proto() == 1).findFirst().orElseThrow().identity());
    }

    /** fd00::1 port 40000 to fd00::2 port 443 in zone 7, masqueraded to fd00::9 port 61000, marked. */
    static ConntrackEntry masqueraded6() {
        byte[] a = new byte[16], b = new byte[16], c = new byte[16];
        a[0] = b[0] = c[0] = (byte) 0xfd;
        a[15] = 1;
        b[15] = 2;
        c[15] = 9;
        return new ConntrackEntry(
                new ConntrackEntry.Tuple(a, b, 17, new int[] {CTA_PROTO_SRC_PORT, 40000, CTA_PROTO_DST_PORT, 443}, -1),
                new ConntrackEntry.Tuple(b, c, 17, new int[] {CTA_PROTO_SRC_PORT, 443, CTA_PROTO_DST_PORT, 61000}, -1),
                7, IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED | IPS_SRC_NAT, 120, 0x63727930, new byte[0], new byte[0],
                new int[0], "");
    }

    @Test
    void anIpv6EntryInAZoneWithSourceNatComesBackTheSame() {
        assumeTrue(new java.io.File("/proc/net/nf_conntrack").exists(), "conntrack in this kernel");
        List<ConntrackEntry> made = Namespaces.fresh("net", () -> {
            Conntrack.create(List.of(masqueraded6()));
            return Conntrack.entries();
        });
        assertEquals(List.of(masqueraded6().identity()), made.stream().map(ConntrackEntry::identity).toList());
        assertEquals("udp fd00:0:0:0:0:0:0:1:40000 -> fd00:0:0:0:0:0:0:2:443, reply udp fd00:0:0:0:0:0:0:2:443 ->"
                + " fd00:0:0:0:0:0:0:9:61000 [SEEN_REPLY ASSURED CONFIRMED SRC_NAT] zone 7 mark 0x63727930",
                made.get(0).identity());
    }

    @Test
    void anEntryTheKernelHasAlreadyIsRefusedByName() {
        assumeTrue(new java.io.File("/proc/net/nf_conntrack").exists(), "conntrack in this kernel");
        KernelException e = assertThrows(KernelException.class, () -> Namespaces.fresh("net", () -> {
            Conntrack.create(List.of(ping(), ping()));
            return null;
        }));
        assertTrue(e.getMessage().startsWith("could not make conntrack entry icmp 10.0.0.1 -> 10.0.0.2 id 7 type 8 code 0")
                && e.getMessage().contains("EEXIST"), e.getMessage());
    }

    @Test
    void whatCtnetlinkCannotSetAgainIsNamed() {
        for (int[] refused : new int[][] {{CTA_SECCTX}, {CTA_COUNTERS_ORIG}, {CTA_TIMESTAMP}, {99}}) {
            ByteBuffer body = message(refused[0]);
            ConntrackEntry.NotCarried e = assertThrows(ConntrackEntry.NotCarried.class, () -> ConntrackEntry.parse(body));
            assertEquals("icmp 10.0.0.1 -> 10.0.0.2 id 7 type 8 code 0", e.entry());
        }
        assertEquals(ping().identity(), ConntrackEntry.parse(message(CTA_ID)).identity(), "its id is the kernel's own");
    }

    /**
     * An entry a helper expected is made again tied to its master (made first, in a fresh namespace): the kernel sets
     * its EXPECTED bit from the master, and refused a status that set it (EBUSY) before cryo left the bit out.
     */
    @Test
    void anEntryAHelperExpectedIsMadeAgainTiedToItsMaster() {
        assumeTrue(new java.io.File("/proc/net/nf_conntrack").exists(), "conntrack in this kernel");
        ConntrackEntry master = ping();
        ConntrackEntry.Tuple orig = new ConntrackEntry.Tuple(new byte[] {10, 0, 0, 1}, new byte[] {10, 0, 0, 2}, 1,
                new int[] {CTA_PROTO_ICMP_ID, 8, CTA_PROTO_ICMP_TYPE, 8, CTA_PROTO_ICMP_CODE, 0}, -1);
        ConntrackEntry expected = new ConntrackEntry(orig, new ConntrackEntry.Tuple(orig.dst(), orig.src(), 1,
                new int[] {CTA_PROTO_ICMP_ID, 8, CTA_PROTO_ICMP_TYPE, 0, CTA_PROTO_ICMP_CODE, 0}, -1), 0,
                master.status() | IPS_EXPECTED, 30, 0, new byte[0], new byte[0], new int[0], "", master.orig());
        List<ConntrackEntry> made = Namespaces.fresh("net", () -> {
            Conntrack.create(List.of(master, expected));
            return Conntrack.entries();
        });
        ConntrackEntry back = made.stream().filter(e -> e.orig().equals(orig)).findFirst().orElseThrow();
        assertEquals(master.orig(), back.master(), back.identity());
        assertTrue((back.status() & IPS_EXPECTED) != 0, back.identity());
    }

    /** ping()'s entry as a dump gives it (after the netlink header), with an attribute {@code extra} holding a nest. */
    private static ByteBuffer message(int extra) {
        NetlinkWriter w = new NetlinkWriter();
        int m = w.message(0, 0, 1, NfTablesAbi.NFPROTO_IPV4, 0);
        ping().orig().write(w, CTA_TUPLE_ORIG);
        ping().reply().write(w, CTA_TUPLE_REPLY);
        w.be32(CTA_STATUS, (int) ping().status());
        w.be32(CTA_TIMEOUT, 30);
        int x = w.nest(extra);
        w.be32(1, 1);
        w.close(x);
        w.end(m);
        byte[] b = w.toArray();
        return ByteBuffer.wrap(b, 16, b.length - 16).slice().order(ByteOrder.nativeOrder());
    }
}
