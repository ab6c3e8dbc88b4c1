package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;

class UnreadableSockStateTest {
    private static final int IP_ROUTER_ALERT = 5, IP_XFRM_POLICY = 17, IPV6_FLOWLABEL_MGR = 32;

    private static UnreadableSockState.Of of(Fd s) {
        return UnreadableSockState.of((int) ProcessHandle.current().pid()).get(s.value());
    }

    /** Each piece of state a program gives a socket that no getsockopt reads is seen on that socket alone. */
    @Test
    void seesWhatNoGetsockoptReads() {
        try (Fd plain = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0);
             Fd ipsec = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0);
             Fd raw = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_RAW, 46);
             Fd leased = Sockets.socket(SockAddr.AF_INET6, Sockets.SOCK_DGRAM, 0);
             Fd stamped = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0);
             Fd zerocopy = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0);
             Fd multicast = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0);
             Fd keyed = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0);
             Fd tcp = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0);
             Fd sticky = Sockets.socket(SockAddr.AF_INET6, Sockets.SOCK_DGRAM, 0)) {
            byte[] pktinfo = new byte[20]; // struct in6_pktinfo: ::1 on lo
            pktinfo[15] = 1;
            pktinfo[16] = 1;
            Sockets.setBytes(sticky, Sockets.SOL_IPV6, Sockets.IPV6_PKTINFO, pktinfo);
            // struct ip_mreqn: no group, no address, the interface by index (lo)
            Sockets.setBytes(multicast, Sockets.SOL_IP, Sockets.IP_MULTICAST_IF, new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0});
            Sockets.setBytes(keyed, Sockets.SOL_TCP, Sockets.TCP_FASTOPEN_KEY, new byte[16]);
            // struct xfrm_userpolicy_info: an IPv4 selector matching all, no lifetime limits, dir in, action allow
            ByteBuffer pol = ByteBuffer.allocate(168).order(ByteOrder.nativeOrder());
            pol.putShort(40, (short) SockAddr.AF_INET);
            for (int i = 0; i < 4; i++) {
                pol.putLong(56 + 8 * i, -1L);
            }
            Sockets.setBytes(ipsec, Sockets.SOL_IP, IP_XFRM_POLICY, pol.array());
            Sockets.setInt(raw, Sockets.SOL_IP, IP_ROUTER_ALERT, 1);
            // struct in6_flowlabel_req: to ::1, a label of this run's, IPV6_FL_A_GET with IPV6_FL_F_CREATE, IPV6_FL_S_EXCL
            ByteBuffer fl = ByteBuffer.allocate(32);
            fl.put(15, (byte) 1).putInt(16, 0x10000 | (int) (System.nanoTime() & 0xffff)).put(20, (byte) 0).put(21, (byte) 1).put(22, (byte) 1).put(26, (byte) 1);
            Sockets.setBytes(leased, Sockets.SOL_IPV6, IPV6_FLOWLABEL_MGR, fl.array());
            Sockets.bind(stamped, SockAddr.inet(InetAddress.getLoopbackAddress(), 0));
            Sockets.setInt(stamped, Sockets.SOL_SOCKET, Sockets.SO_TIMESTAMPING, 2 | 16 | 128 | 2048); // OPT_ID
            for (int i = 0; i < 3; i++) {
                Sockets.sendTo(stamped, new byte[] {1}, 0, Sockets.sockName(stamped));
            }
            Sockets.bind(zerocopy, SockAddr.inet(InetAddress.getLoopbackAddress(), 0));
            Sockets.setInt(zerocopy, Sockets.SOL_SOCKET, Sockets.SO_ZEROCOPY, 1);
            Sockets.sendTo(zerocopy, new byte[] {1}, 0x4000000, Sockets.sockName(zerocopy)); // MSG_ZEROCOPY
            assertEquals(1, of(zerocopy).zerocopyKey());
            assertEquals(new UnreadableSockState.Of(0, 0, 0, 0, 0), of(plain));
            assertEquals(new UnreadableSockState.Of(UnreadableSockState.XFRM_POLICY, 0, 0, 0, 0), of(ipsec));
            assertEquals(new UnreadableSockState.Of(UnreadableSockState.ROUTER_ALERT, 0, 0, 0, 0), of(raw));
            assertEquals(new UnreadableSockState.Of(UnreadableSockState.FLOW_LABEL, 0, 0, 0, 0), of(leased));
            // three sends numbered, their transmit timestamps waiting in the error queue
            assertEquals(new UnreadableSockState.Of(0, 3, 0, 3, 0), of(stamped));
            assertEquals(new UnreadableSockState.Of(0, 0, 0, 0, 1), of(multicast));
            assertEquals(new UnreadableSockState.Of(UnreadableSockState.OWN_FASTOPEN_KEY, 0, 0, 0, 0), of(keyed));
            assertEquals(new UnreadableSockState.Of(0, 0, 0, 0, 0), of(tcp));
            org.junit.jupiter.api.Assertions.assertArrayEquals(pktinfo, of(sticky).stickyPktinfo());
            assertEquals(null, of(leased).stickyPktinfo());
        }
    }
}
