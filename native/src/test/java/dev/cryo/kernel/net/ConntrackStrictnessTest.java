package dev.cryo.kernel.net;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConntrackStrictnessTest {
    /** Captured from a net namespace with a connection 127.0.0.1:37000 -> 127.0.0.1:7777 and a ping. */
    private static final String TABLE = "ipv4     2 icmp     1 29 src=127.0.0.1 dst=127.0.0.2 type=8 code=0 id=9024"
            + " src=127.0.0.2 dst=127.0.0.1 type=0 code=0 id=9024 mark=0 zone=0 use=2\n"
            + "ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=37000 dport=7777"
            + " src=127.0.0.1 dst=127.0.0.1 sport=7777 dport=37000 [ASSURED] mark=0 zone=0 use=2\n"
            + "ipv6     10 tcp      6 431999 ESTABLISHED src=0000:0000:0000:0000:0000:0000:0000:0001"
            + " dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=40000 dport=80 src=0000:0000:0000:0000:0000:0000:0000:0001"
            + " dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=80 dport=40000 [ASSURED] mark=0 zone=0 use=2\n";

    private static SockAddr a(String ip, int port) throws Exception {
        return SockAddr.inet(InetAddress.getByName(ip), port);
    }

    @Test
    void aConnectionIsFoundByItsOriginalTupleEitherWay() throws Exception {
        assertTrue(ConntrackStrictness.tracks(TABLE, a("127.0.0.1", 37000), a("127.0.0.1", 7777)), "the client's end");
        assertTrue(ConntrackStrictness.tracks(TABLE, a("127.0.0.1", 7777), a("127.0.0.1", 37000)), "the server's end");
        assertTrue(ConntrackStrictness.tracks(TABLE, a("::1", 80), a("::1", 40000)), "IPv6, written in full");
        assertTrue(ConntrackStrictness.tracks(TABLE, a("::ffff:127.0.0.1", 37000), a("::ffff:127.0.0.1", 7777)),
                "a v4-mapped socket");
        assertFalse(ConntrackStrictness.tracks(TABLE, a("127.0.0.1", 37001), a("127.0.0.1", 7777)));
        assertFalse(ConntrackStrictness.tracks(TABLE, a("127.0.0.2", 9024), a("127.0.0.1", 0)), "not an icmp entry");
        assertFalse(ConntrackStrictness.tracks(null, a("127.0.0.1", 37000), a("127.0.0.1", 7777)));
    }
}
