package dev.cryo.kernel.proc;

import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static dev.cryo.kernel.proc.Fixtures.assertBad;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ProcNetRawTest {
    @Test
    void ipv4RawSocketsBoundAndConnected() {
        Map<Long, SockDiag.InetSocket> m = ProcNetRaw.parse("/proc/net/raw", Fixtures.text("net-raw"), SockAddr.AF_INET);
        assertEquals(2, m.size());
        SockDiag.InetSocket icmp = m.get(5350068L);
        assertArrayEquals(new byte[] {127, 0, 0, 1}, icmp.local().address());
        assertEquals(1, icmp.local().port(), "the local port is the protocol");
        assertEquals(7, icmp.state(), "not connected");
        SockDiag.InetSocket connected = m.get(5350070L);
        assertEquals(SockDiag.TCP_ESTABLISHED, connected.state());
        assertArrayEquals(new byte[] {127, 0, 0, 2}, connected.remote().address());
        assertEquals(0x340, connected.rqueue());
    }

    @Test
    void ipv6AddressesAreFourWords() {
        Map<Long, SockDiag.InetSocket> m = ProcNetRaw.parse("/proc/net/raw6", Fixtures.text("net-raw6"), SockAddr.AF_INET6);
        SockDiag.InetSocket s = m.get(5315067L);
        assertEquals(58, s.local().port());
        byte[] loopback = new byte[16];
        loopback[15] = 1;
        assertArrayEquals(loopback, s.remote().address());
    }

    @Test
    void malformedLines() {
        assertBad("/proc/net/raw line 2: ", () -> ProcNetRaw.parse("/proc/net/raw",
                Fixtures.text("net-raw").replace("0100007F:0001", "0100007F"), SockAddr.AF_INET));
        assertBad("/proc/net/raw line 3: 4 fields", () -> ProcNetRaw.parse("/proc/net/raw",
                "header\n  1: 0100007F:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 0\n a b c d\n",
                SockAddr.AF_INET));
    }
}
