package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.nio.charset.StandardCharsets;

/**
 * AF_PACKET sockets (tcpdump, dhclient, arping, keepalived): their constants, their address
 * (struct sockaddr_ll), memberships, and the interface names their indexes stand for in the
 * socket's own network namespace (an index means nothing in another namespace or after a device
 * was made again).
 */
public final class PacketSockets {
    private PacketSockets() {}

    public static final int SOL_PACKET = 263;
    public static final int PACKET_ADD_MEMBERSHIP = 1, PACKET_RX_RING = 5, PACKET_COPY_THRESH = 7,
            PACKET_AUXDATA = 8, PACKET_ORIGDEV = 9, PACKET_VERSION = 10, PACKET_RESERVE = 12, PACKET_TX_RING = 13,
            PACKET_LOSS = 14, PACKET_TIMESTAMP = 17, PACKET_FANOUT = 18, PACKET_TX_HAS_OFF = 19,
            PACKET_QDISC_BYPASS = 20, PACKET_IGNORE_OUTGOING = 23, PACKET_VNET_HDR_SZ = 24;
    /** Fanout group types that pick a member with a BPF program (set with PACKET_FANOUT_DATA). */
    public static final int PACKET_FANOUT_CBPF = 6, PACKET_FANOUT_EBPF = 7;
    /** Membership types (struct packet_mreq's mr_type). */
    public static final int PACKET_MR_MULTICAST = 0, PACKET_MR_PROMISC = 1, PACKET_MR_ALLMULTI = 2, PACKET_MR_UNICAST = 3;
    private static final int SIOCGIFNAME = 0x8910, SIOCGIFINDEX = 0x8933, SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914,
            IFNAMSIZ = 16, IFREQ = 40, IFF_UP = 1;

    /** Binds to {@code protocol} (host order; 0: receive nothing) on interface {@code ifindex} (0: every one). */
    public static void bind(Fd s, int protocol, int ifindex) {
        Memory m = new Memory(20); // struct sockaddr_ll
        m.clear();
        m.setShort(0, (short) SockAddr.AF_PACKET);
        m.setShort(2, Short.reverseBytes((short) protocol));
        m.setInt(4, ifindex);
        Sys.call(() -> "bind(" + s + ", packet protocol 0x" + Integer.toHexString(protocol) + " ifindex " + ifindex + ")",
                SyscallNr.BIND, s.value(), Sys.address(m), 20, 0);
    }

    /** Binds an obsolete SOCK_PACKET socket to interface {@code ifName} (struct sockaddr with the name in sa_data). */
    public static void bindSpkt(Fd s, String ifName) {
        byte[] name = ifName.getBytes(StandardCharsets.US_ASCII);
        if (name.length > 13) {
            throw new IllegalArgumentException("interface name " + ifName + " does not fit sa_data");
        }
        Memory m = new Memory(16); // struct sockaddr: family, 14 bytes of name
        m.clear();
        m.setShort(0, (short) SockAddr.AF_PACKET);
        m.write(2, name, 0, name.length);
        Sys.call(() -> "bind(" + s + ", SOCK_PACKET on " + ifName + ")", SyscallNr.BIND, s.value(), Sys.address(m), 16, 0);
    }

    /** Sends a whole frame (its link-layer header included, from a SOCK_RAW socket) out of interface {@code ifindex}. */
    public static void sendTo(Fd s, byte[] frame, int ifindex) {
        Memory a = new Memory(20);
        a.clear();
        a.setShort(0, (short) SockAddr.AF_PACKET);
        a.setInt(4, ifindex);
        a.setByte(11, (byte) 6); // sll_halen
        Memory f = new Memory(frame.length);
        f.write(0, frame, 0, frame.length);
        Sys.call(() -> "sendto(" + s + ", " + frame.length + " bytes, ifindex " + ifindex + ")", SyscallNr.SENDTO,
                s.value(), Sys.address(f), frame.length, 0, Sys.address(a), 20);
    }

    /** The interface index and protocol (host order) the socket is bound to, from getsockname. */
    public static int[] boundTo(Fd s) {
        Memory m = new Memory(32);
        m.clear();
        Memory len = new Memory(4);
        len.setInt(0, 32);
        Sys.call(() -> "getsockname(" + s + ")", SyscallNr.GETSOCKNAME, s.value(), Sys.address(m), Sys.address(len), 0);
        return new int[] {m.getInt(4), Short.reverseBytes(m.getShort(2)) & 0xffff};
    }

    /** The name of interface {@code ifindex} in the socket's network namespace. */
    public static String ifName(Fd s, int ifindex) {
        Memory r = new Memory(IFREQ);
        r.clear();
        r.setInt(IFNAMSIZ, ifindex);
        Sys.call(() -> "ioctl(" + s + ", SIOCGIFNAME, " + ifindex + ")", SyscallNr.IOCTL, s.value(), SIOCGIFNAME,
                Sys.address(r), 0);
        return r.getString(0, StandardCharsets.US_ASCII.name());
    }

    /** The index of interface {@code name} in the socket's network namespace. */
    public static int ifIndex(Fd s, String name) {
        Memory r = new Memory(IFREQ);
        r.clear();
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        r.write(0, n, 0, Math.min(n.length, IFNAMSIZ - 1));
        Sys.call(() -> "ioctl(" + s + ", SIOCGIFINDEX, " + name + ")", SyscallNr.IOCTL, s.value(), SIOCGIFINDEX,
                Sys.address(r), 0);
        return r.getInt(IFNAMSIZ);
    }

    /** Whether interface {@code name} of the socket's network namespace is up. */
    public static boolean isUp(Fd s, String name) {
        return (ifFlags(s, name, SIOCGIFFLAGS, 0).getShort(IFNAMSIZ) & IFF_UP) != 0;
    }

    /** Brings interface {@code name} of the socket's network namespace up or down. */
    public static void setUp(Fd s, String name, boolean up) {
        short flags = ifFlags(s, name, SIOCGIFFLAGS, 0).getShort(IFNAMSIZ);
        ifFlags(s, name, SIOCSIFFLAGS, up ? flags | IFF_UP : flags & ~IFF_UP);
    }

    private static Memory ifFlags(Fd s, String name, int request, int flags) {
        Memory r = new Memory(IFREQ);
        r.clear();
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        r.write(0, n, 0, Math.min(n.length, IFNAMSIZ - 1));
        r.setShort(IFNAMSIZ, (short) flags);
        Sys.call(() -> "ioctl(" + s + ", " + (request == SIOCGIFFLAGS ? "SIOCGIFFLAGS" : "SIOCSIFFLAGS") + ", " + name + ")",
                SyscallNr.IOCTL, s.value(), request, Sys.address(r), 0);
        return r;
    }

    /** PACKET_ADD_MEMBERSHIP (struct packet_mreq, its address up to MAX_ADDR_LEN, 32 bytes). */
    public static void addMembership(Fd s, int ifindex, int type, byte[] address) {
        int len = 8 + Math.max(8, address.length);
        Memory m = new Memory(8 + 32);
        m.clear();
        m.setInt(0, ifindex);
        m.setShort(4, (short) type);
        m.setShort(6, (short) address.length);
        m.write(8, address, 0, Math.min(address.length, 32));
        Sys.call(() -> "setsockopt(" + s + ", PACKET_ADD_MEMBERSHIP, ifindex " + ifindex + " " + membershipName(type) + ")",
                SyscallNr.SETSOCKOPT, s.value(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, Sys.address(m), len, 0);
    }

    public static String membershipName(int type) {
        return switch (type) {
            case PACKET_MR_MULTICAST -> "multicast";
            case PACKET_MR_PROMISC -> "promiscuous";
            case PACKET_MR_ALLMULTI -> "all-multicast";
            case PACKET_MR_UNICAST -> "unicast";
            default -> "type " + type;
        };
    }
}
