package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.LibC;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Socket syscalls on sockets this process holds (its own, or a task's taken with pidfd_getfd),
 * with errno turned into {@link SyscallException} naming the call.
 */
public final class Sockets {
    private Sockets() {}

    public static final int SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_RAW = 3, SOCK_SEQPACKET = 5, SOCK_PACKET = 10;
    public static final int SOCK_NONBLOCK = 04000, SOCK_CLOEXEC = 02000000;
    public static final int SOL_SOCKET = 1, SOL_IP = 0, SOL_TCP = 6, SOL_IPV6 = 41, SOL_UDP = 17;
    public static final int IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_UDPLITE = 136, IPPROTO_MPTCP = 262;
    /** UDP-Lite's checksum coverage (linux/udp.h): how much of a datagram its checksum covers, sent and required. */
    public static final int SOL_UDPLITE = 136, UDPLITE_SEND_CSCOV = 10, UDPLITE_RECV_CSCOV = 11;
    /** A netlink protocol (linux/netlink.h): netfilter's (nfnetlink_log, nfnetlink_queue, ctnetlink). */
    public static final int NETLINK_NETFILTER = 12;
    /** rtnetlink (linux/rtnetlink.h): its protocol and the notification of a link's new state (struct ifinfomsg follows). */
    public static final int NETLINK_ROUTE = 0, RTM_NEWLINK = 16;
    /** rtnetlink's other notifications about devices and addresses (a struct ifinfomsg or ifaddrmsg follows: the device's index at offset 4). */
    public static final int RTM_DELLINK = 17, RTM_NEWADDR = 20, RTM_DELADDR = 21;
    /** A route's notifications (a struct rtmsg follows: its protocol at offset 5), the kernel's own routes' protocol. */
    public static final int RTM_NEWROUTE = 24, RTM_DELROUTE = 25, RTPROT_KERNEL = 2;
    /**
     * A route's attributes (linux/rtnetlink.h, after the 12 bytes of struct rtmsg), its unicast type, the flag of a
     * gateway taken as on the link, the main table, the protocol ip route add gives when none is named.
     */
    public static final int RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_PREFSRC = 7, RTA_TABLE = 15,
            RTA_PREF = 20, RTN_UNICAST = 1, RTNH_F_ONLINK = 4, RT_TABLE_MAIN = 254, RTPROT_BOOT = 3;
    /** An address's own attribute (after the 8 bytes of struct ifaddrmsg), and the scope of a link-local one. */
    public static final int IFA_ADDRESS = 1, RT_SCOPE_LINK = 253;
    /**
     * rtnetlink's notification groups (enum rtnetlink_groups) of what a net namespace's configuration is made of:
     * devices, addresses, routes, policy rules, IPv6 device state and prefixes, per-device settings, nexthop objects.
     */
    public static final int RTNLGRP_LINK = 1, RTNLGRP_IPV4_IFADDR = 5, RTNLGRP_IPV4_ROUTE = 7, RTNLGRP_IPV4_RULE = 8,
            RTNLGRP_IPV6_IFADDR = 9, RTNLGRP_IPV6_ROUTE = 11, RTNLGRP_IPV6_IFINFO = 12, RTNLGRP_IPV6_PREFIX = 18,
            RTNLGRP_IPV6_RULE = 19, RTNLGRP_IPV4_NETCONF = 24, RTNLGRP_IPV6_NETCONF = 25, RTNLGRP_NEXTHOP = 32;
    /** IPsec's netlink protocol and its groups of security associations and policies (linux/xfrm.h). */
    public static final int NETLINK_XFRM = 6, XFRMNLGRP_SA = 3, XFRMNLGRP_POLICY = 4;
    /**
     * SOL_NETLINK's options (linux/netlink.h): groups joined beyond bind's first 32 (ADD_MEMBERSHIP,
     * read back as a bitmap by LIST_MEMBERSHIPS) and the flags a program sets (iproute2 and
     * systemd-networkd ask for extended acks and strict checking, keepalived for NO_ENOBUFS).
     */
    public static final int SOL_NETLINK = 270, NETLINK_ADD_MEMBERSHIP = 1, NETLINK_PKTINFO = 3,
            NETLINK_BROADCAST_ERROR = 4, NETLINK_NO_ENOBUFS = 5, NETLINK_LISTEN_ALL_NSID = 8,
            NETLINK_LIST_MEMBERSHIPS = 9, NETLINK_CAP_ACK = 10, NETLINK_EXT_ACK = 11, NETLINK_GET_STRICT_CHK = 12;
    /** The netlink message header (linux/netlink.h): request flags and the types of the kernel's own answers. */
    public static final int NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_DUMP = 0x300, NLMSG_ERROR = 2, NLMSG_DONE = 3;
    /** A new object's request flags; an error answer's flags (the request cut to its header, extended-ack attributes follow) and its message attribute. */
    public static final int NLM_F_CREATE = 0x400, NLM_F_APPEND = 0x800, NLM_F_CAPPED = 0x100, NLM_F_ACK_TLVS = 0x200,
            NLMSGERR_ATTR_MSG = 1;
    /** A new object's flag that refuses one of its name (NLM_F_EXCL, a request's meaning of 0x200). */
    public static final int NLM_F_EXCL = 0x200;
    /**
     * A link's attributes (linux/if_link.h, after the 16 bytes of struct ifinfomsg), its linkinfo's, a veth's peer
     * (linux/veth.h: a struct ifinfomsg and the peer's own link attributes), and a device's up flag.
     */
    public static final int IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_MASTER = 10, IFLA_LINKINFO = 18,
            IFLA_NET_NS_PID = 19, IFLA_NEW_IFINDEX = 49, IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, VETH_INFO_PEER = 1,
            IFF_UP = 1;
    /** An address's attributes (linux/if_addr.h, after the 8 bytes of struct ifaddrmsg) and the flags ip addr add takes. */
    public static final int IFA_LOCAL = 2, IFA_LABEL = 3, IFA_FLAGS = 8, IFA_F_NODAD = 0x02, IFA_F_NOPREFIXROUTE = 0x200;
    public static final int SO_REUSEADDR = 2, SO_TYPE = 3, SO_ERROR = 4, SO_BROADCAST = 6, SO_SNDBUF = 7,
            SO_RCVBUF = 8, SO_KEEPALIVE = 9, SO_OOBINLINE = 10, SO_DONTROUTE = 5, SO_NO_CHECK = 11, SO_PRIORITY = 12, SO_LINGER = 13,
            SO_REUSEPORT = 15, SO_PASSCRED = 16, SO_PEERCRED = 17, SO_RCVLOWAT = 18, SO_RCVTIMEO = 20,
            SO_SNDTIMEO = 21, SO_BINDTODEVICE = 25, SO_PEERNAME = 28, SO_TIMESTAMP = 29, SO_ACCEPTCONN = 30, SO_PASSSEC = 34,
            SO_MARK = 36, SO_PROTOCOL = 38, SO_DOMAIN = 39, SO_PEEK_OFF = 42,
            SO_ATTACH_FILTER = 26, SO_LOCK_FILTER = 44, SO_ATTACH_REUSEPORT_CBPF = 51, SO_DETACH_REUSEPORT_BPF = 68,
            SO_SNDBUFFORCE = 32, SO_RCVBUFFORCE = 33;
    public static final int TCP_NODELAY = 1, TCP_MAXSEG = 2, TCP_CORK = 3, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5,
            TCP_KEEPCNT = 6, TCP_INFO = 11, TCP_QUICKACK = 12, TCP_USER_TIMEOUT = 18, TCP_REPAIR = 19, TCP_ULP = 31,
            TCP_REPAIR_QUEUE = 20, TCP_QUEUE_SEQ = 21, TCP_REPAIR_OPTIONS = 22, TCP_TIMESTAMP = 24,
            TCP_REPAIR_WINDOW = 29;
    /** The smallest TCP_MAXSEG setsockopt takes (TCP_MIN_MSS): a smaller one read back is the kernel's own. */
    public static final int TCP_MIN_MSS = 88;
    public static final int IP_TOS = 1, IP_TTL = 2, IPV6_V6ONLY = 26, IP_FREEBIND = 15, IP_TRANSPARENT = 19;
    // further options a program may set (socket options that differ from a fresh socket's are carried)
    public static final int SO_DEBUG = 1, SO_TIMESTAMPNS = 35, SO_TIMESTAMPING = 37, SO_RXQ_OVFL = 40,
            SO_WIFI_STATUS = 41, SO_NOFCS = 43, SO_SELECT_ERR_QUEUE = 45, SO_BUSY_POLL = 46, SO_MAX_PACING_RATE = 47,
            SO_ZEROCOPY = 60, SO_TIMESTAMP_NEW = 63, SO_TIMESTAMPNS_NEW = 64, SO_PREFER_BUSY_POLL = 69,
            SO_BUSY_POLL_BUDGET = 70, SO_BUF_LOCK = 72, SO_TXREHASH = 74, SO_RCVMARK = 75, SO_PASSPIDFD = 76,
            SO_TXTIME = 61;
    /**
     * Priority of received packets as a control message (6.14), unix sockets' acceptance of passed fds (6.16: off
     * refuses SCM_RIGHTS; on in a new socket), and the CPU a TCP listener prefers its SO_REUSEPORT group's connections of.
     */
    public static final int SO_RCVPRIORITY = 82, SO_PASSRIGHTS = 83, SO_INCOMING_CPU = 49;
    /** A connection's retransmission timeout's ceiling and floor and its delayed ack's ceiling (6.15, 6.16). */
    public static final int TCP_RTO_MAX_MS = 44, TCP_RTO_MIN_US = 45, TCP_DELACK_MAX_US = 46;
    /** A TCP listener's own key for fast open cookies (16 bytes, or 32 with the backup key). */
    public static final int TCP_FASTOPEN_KEY = 33;
    /** SO_TIMESTAMPING's flag that numbers a socket's timestamps (by datagram, or a TCP socket's by byte). */
    public static final int SOF_TIMESTAMPING_OPT_ID = 1 << 7;
    /** A raw socket's: IPv4 packets with the router alert option come to it (RSVP, IGMP); no getsockopt reads it. */
    public static final int IP_ROUTER_ALERT = 5;
    /** Memory reserved for the socket, IPv6 flow labels received and sent, TCP's saved SYN and queue-length cmsg. */
    public static final int SO_RESERVE_MEM = 73, IPV6_FLOWINFO = 11, IPV6_FLOWINFO_SEND = 33, TCP_SAVE_SYN = 27,
            TCP_INQ = 36;
    /** The peer's supplementary groups and a pidfd of the peer, as the kernel recorded them with SO_PEERCRED. */
    public static final int SO_PEERGROUPS = 59, SO_PEERPIDFD = 77;
    public static final int IP_HDRINCL = 3, IP_OPTIONS = 4, IP_RECVOPTS = 6, IP_RETOPTS = 7, IP_PKTINFO = 8,
            IP_MTU_DISCOVER = 10, IP_RECVERR = 11, IP_RECVTTL = 12, IP_RECVTOS = 13, IP_PASSSEC = 18,
            IP_RECVORIGDSTADDR = 20, IP_MINTTL = 21, IP_NODEFRAG = 22, IP_CHECKSUM = 23, IP_BIND_ADDRESS_NO_PORT = 24,
            IP_RECVFRAGSIZE = 25, IP_RECVERR_RFC4884 = 26, IP_MULTICAST_IF = 32, IP_MULTICAST_TTL = 33,
            IP_MULTICAST_LOOP = 34, IP_MULTICAST_ALL = 49, IP_UNICAST_IF = 50, IP_LOCAL_PORT_RANGE = 51;
    public static final int IPV6_2292PKTINFO = 2, IPV6_2292HOPOPTS = 3, IPV6_2292DSTOPTS = 4, IPV6_2292RTHDR = 5,
            IPV6_CHECKSUM = 7, IPV6_2292HOPLIMIT = 8, IPV6_UNICAST_HOPS = 16, IPV6_MULTICAST_IF = 17,
            IPV6_MULTICAST_HOPS = 18, IPV6_MULTICAST_LOOP = 19, IPV6_MTU_DISCOVER = 23, IPV6_RECVERR = 25,
            IPV6_MULTICAST_ALL = 29, IPV6_RECVERR_RFC4884 = 31, IPV6_HDRINCL = 36, IPV6_RECVPKTINFO = 49,
            IPV6_RECVHOPLIMIT = 51, IPV6_RECVHOPOPTS = 53, IPV6_RECVRTHDR = 56, IPV6_RECVDSTOPTS = 58,
            IPV6_RECVPATHMTU = 60, IPV6_DONTFRAG = 62, IPV6_RECVTCLASS = 66, IPV6_TCLASS = 67,
            IPV6_AUTOFLOWLABEL = 70, IPV6_ADDR_PREFERENCES = 72, IPV6_MINHOPCOUNT = 73, IPV6_RECVORIGDSTADDR = 74,
            IPV6_TRANSPARENT = 75, IPV6_UNICAST_IF = 76, IPV6_RECVFRAGSIZE = 77, IPV6_FREEBIND = 78;
    /** A raw IPv6 socket's router alerts only from its own net namespace (an MLD daemon's in a container). */
    public static final int IPV6_ROUTER_ALERT_ISOLATE = 30;
    /** A sticky source address and interface for what an IPv6 socket sends (struct in6_pktinfo); no getsockopt reads it. */
    public static final int IPV6_PKTINFO = 50;
    /** IPv6's sticky extension headers (RFC 3542): sent before every packet; getsockopt gives each back whole. */
    public static final int IPV6_HOPOPTS = 54, IPV6_RTHDRDSTOPTS = 55, IPV6_RTHDR = 57, IPV6_DSTOPTS = 59,
            IPV6_EXT_HEADER_MAX = 2048;
    public static final int TCP_SYNCNT = 7, TCP_LINGER2 = 8, TCP_DEFER_ACCEPT = 9, TCP_WINDOW_CLAMP = 10,
            TCP_CONGESTION = 13, TCP_THIN_LINEAR_TIMEOUTS = 16, TCP_FASTOPEN = 23, TCP_NOTSENT_LOWAT = 25,
            TCP_FASTOPEN_CONNECT = 30, TCP_FASTOPEN_NO_COOKIE = 34, TCP_TX_DELAY = 37;
    public static final int UDP_CORK = 1, UDP_ENCAP = 100, UDP_NO_CHECK6_TX = 101, UDP_NO_CHECK6_RX = 102,
            UDP_SEGMENT = 103, UDP_GRO = 104;
    /** Raw sockets: SOL_RAW's ICMP_FILTER (IPv4 ICMP), SOL_ICMPV6's ICMPV6_FILTER. */
    public static final int SOL_RAW = 255, SOL_ICMPV6 = 58, ICMP_FILTER = 1, ICMPV6_FILTER = 1;
    public static final int IPPROTO_ICMP = 1, IPPROTO_ICMPV6 = 58, IPPROTO_RAW = 255;
    public static final int MSG_OOB = 1, MSG_PEEK = 2, MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000, MSG_MORE = 0x8000,
            MSG_CTRUNC = 8, MSG_CMSG_CLOEXEC = 0x40000000;
    /** linux/vm_sockets.h: options at level AF_VSOCK (each a u64). */
    public static final int SO_VM_SOCKETS_BUFFER_SIZE = 0, SO_VM_SOCKETS_BUFFER_MIN_SIZE = 1,
            SO_VM_SOCKETS_BUFFER_MAX_SIZE = 2;
    public static final int SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;
    public static final int SIOCINQ = 0x541B, SIOCOUTQ = 0x5411, SIOCOUTQNSD = 0x894B, SIOCGSKNS = 0x894C;
    /** SIOCPROTOPRIVATE + 0 on a unix socket: an O_PATH fd of the file it is bound to (Linux 6.1). */
    public static final int SIOCUNIXFILE = 0x89E0;
    private static final int SCM_RIGHTS = 1, SCM_CREDENTIALS = 2;

    public static Fd socket(int family, int type, int protocol) {
        return new Fd((int) Sys.call(() -> "socket(" + family + ", " + type + ", " + protocol + ")",
                SyscallNr.SOCKET, family, type | SOCK_CLOEXEC, protocol, 0));
    }

    /** A connected pair, both ends close-on-exec. */
    public static Fd[] socketpair(int family, int type) {
        Memory fds = new Memory(8);
        Sys.call(() -> "socketpair(" + family + ", " + type + ")", SyscallNr.SOCKETPAIR, family, type | SOCK_CLOEXEC,
                0, Sys.address(fds));
        return new Fd[]{new Fd(fds.getInt(0)), new Fd(fds.getInt(4))};
    }

    public static void bind(Fd s, SockAddr addr) {
        byte[] raw = addr.encode();
        Memory m = mem(raw);
        Sys.call(() -> "bind(" + s + ", " + addr + ")", SyscallNr.BIND, s.value(), Sys.address(m), raw.length, 0);
    }

    /**
     * Binds an IPv4/IPv6 socket to its dumped address even when that address is not local (any
     * more): the program may have bound it with IP_FREEBIND and cleared the option since. On
     * EADDRNOTAVAIL the bind is done with IP_FREEBIND set, then the option is put back as it was.
     */
    public static void bindInet(Fd s, SockAddr addr) {
        try {
            bind(s, addr);
        } catch (SyscallException e) {
            if (!e.is(Errno.EADDRNOTAVAIL)) {
                throw e;
            }
            int was = getInt(s, SOL_IP, IP_FREEBIND);
            setInt(s, SOL_IP, IP_FREEBIND, 1);
            bind(s, addr);
            setInt(s, SOL_IP, IP_FREEBIND, was);
        }
    }

    public static void connect(Fd s, SockAddr addr) {
        byte[] raw = addr.encode();
        Memory m = mem(raw);
        Sys.call(() -> "connect(" + s + ", " + addr + ")", SyscallNr.CONNECT, s.value(), Sys.address(m), raw.length, 0);
    }

    /**
     * connect(AF_UNSPEC): dissolves a TCP socket's association (tcp_disconnect), so it can be
     * connected again. Its receive queue is dropped.
     */
    public static void disconnect(Fd s) {
        Memory m = new Memory(16);
        m.clear();
        Sys.call(() -> "connect(" + s + ", AF_UNSPEC)", SyscallNr.CONNECT, s.value(), Sys.address(m), 16, 0);
    }

    public static void listen(Fd s, int backlog) {
        Sys.call(() -> "listen(" + s + ", " + backlog + ")", SyscallNr.LISTEN, s.value(), backlog, 0, 0);
    }

    public static Fd accept(Fd s, int flags) {
        return new Fd((int) Sys.call(() -> "accept4(" + s + ")", SyscallNr.ACCEPT4, s.value(), 0, 0, flags | SOCK_CLOEXEC));
    }

    public static void shutdown(Fd s, int how) {
        Sys.call(() -> "shutdown(" + s + ", " + how + ")", SyscallNr.SHUTDOWN, s.value(), how, 0, 0);
    }

    public static SockAddr sockName(Fd s) {
        return name(s, false);
    }

    /**
     * Shuts a socket down as sock_diag's shutdown mask says (1 = reading, 2 = writing, 3 = both);
     * {@code unconnected}: the kernel then records the shutdown but answers ENOTCONN, which is expected.
     */
    public static void shutdownMask(Fd s, int mask, boolean unconnected) {
        int how = mask == 3 ? SHUT_RDWR : mask == 2 ? SHUT_WR : SHUT_RD;
        try {
            shutdown(s, how);
        } catch (SyscallException e) {
            if (!(unconnected && e.is(Errno.ENOTCONN))) {
                throw e;
            }
        }
    }

    /** "read", "write" or "read+write" for a sock_diag shutdown mask. */
    public static String shutdownName(int mask) {
        return mask == 3 ? "read+write" : mask == 2 ? "write" : "read";
    }

    private static final int CLONE_FS = 0x200;

    /**
     * Binds {@code s} to a relative unix path, resolved in {@code dir}, so the socket's name stays
     * relative as the program bound it.
     */
    public static void bindIn(Fd s, String dir, SockAddr name) {
        inDirectory(dir, "binding " + s + " to " + name, () -> bind(s, name));
    }

    /** Connects {@code s} to a unix socket bound to a relative path, resolved in {@code dir}. */
    public static void connectIn(Fd s, String dir, SockAddr name) {
        inDirectory(dir, "connecting " + s + " to " + name, () -> connect(s, name));
    }

    /**
     * Runs {@code call} with {@code dir} as cwd, on a thread of its own that unshares its cwd
     * (CLONE_FS) before entering {@code dir}: the JVM's other threads keep theirs.
     */
    private static void inDirectory(String dir, String what, Runnable call) {
        RuntimeException[] failed = new RuntimeException[1];
        Thread t = new Thread(() -> {
            try {
                Sys.call(() -> "unshare(CLONE_FS)", SyscallNr.UNSHARE, CLONE_FS, 0, 0, 0);
                Memory d = new Memory(dir.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
                d.setString(0, dir, "UTF-8");
                Sys.call(() -> "chdir(" + dir + ")", SyscallNr.CHDIR, Sys.address(d), 0, 0, 0);
                call.run();
            } catch (RuntimeException e) {
                failed[0] = e;
            }
        }, "cryo-in-dir");
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new dev.cryo.kernel.KernelException("interrupted while " + what);
        }
        if (failed[0] != null) {
            throw failed[0];
        }
    }

    /** The peer's address, or null when the socket is not connected. */
    public static SockAddr peerName(Fd s) {
        try {
            return name(s, true);
        } catch (SyscallException e) {
            if (e.is(Errno.ENOTCONN)) {
                return null;
            }
            throw e;
        }
    }

    /**
     * The peer a TCP connection over on both sides still names: getpeername says ENOTCONN once it is
     * closed, but the kernel keeps the address and SO_PEERNAME reads it. Null when it names none.
     */
    public static SockAddr keptPeerName(Fd s, int family) {
        try {
            // the kernel refuses a buffer longer than the address (EINVAL): exactly a sockaddr_in or _in6
            byte[] raw = getBytes(s, SOL_SOCKET, SO_PEERNAME, family == SockAddr.AF_INET ? 16 : 28);
            SockAddr a = SockAddr.decode(raw, raw.length);
            return a.port() == 0 ? null : a;
        } catch (SyscallException e) {
            if (e.is(Errno.ENOTCONN)) {
                return null;
            }
            throw e;
        }
    }

    private static SockAddr name(Fd s, boolean peer) {
        Memory buf = new Memory(128);
        buf.clear();
        Memory len = new Memory(4);
        len.setInt(0, 128);
        Sys.call(() -> (peer ? "getpeername(" : "getsockname(") + s + ")",
                peer ? SyscallNr.GETPEERNAME : SyscallNr.GETSOCKNAME, s.value(), Sys.address(buf), Sys.address(len), 0);
        int n = Math.min(len.getInt(0), 128);
        return SockAddr.decode(buf.getByteArray(0, n), n);
    }

    public static int getInt(Fd s, int level, int opt) {
        byte[] b = getBytes(s, level, opt, 4);
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }

    /** getsockopt into a buffer of {@code size} bytes; returns as many bytes as the kernel wrote. */
    public static byte[] getBytes(Fd s, int level, int opt, int size) {
        byte[] v = getBytesOrNull(s, level, opt, size);
        if (v == null) {
            throw new SyscallException("getsockopt(" + s + ", " + level + ", " + opt + ")", Native.getLastError());
        }
        return v;
    }

    private static final int OPTION_BYTES = 256;
    private static final ThreadLocal<Memory> OPTION = ThreadLocal.withInitial(() -> new Memory(OPTION_BYTES));

    /**
     * {@link #getBytes}, or null when the call fails (errno left for the caller): reading every option
     * of a server's hundreds of sockets, those a socket does not offer cost no exception each.
     */
    public static byte[] getBytesOrNull(Fd s, int level, int opt, int size) {
        int at = Math.max(size, 4); // the value, then its length
        // a buffer of the thread's: JNA registers every new Memory in a shared map, a third of the cost here
        Memory buf = at + 4 <= OPTION_BYTES ? OPTION.get() : new Memory(at + 4L);
        buf.clear(at + 4L);
        buf.setInt(at, size);
        long base = Sys.address(buf);
        if (LibC.syscall(SyscallNr.GETSOCKOPT, s.value(), level, opt, base, base + at, 0) == -1) {
            return null;
        }
        return buf.getByteArray(0, Math.min(buf.getInt(at), size));
    }

    private static final int SO_GET_FILTER = SO_ATTACH_FILTER; // the same number reads it back
    /** Bytes of one classic BPF instruction (struct sock_filter). */
    public static final int BPF_INSN = 8;

    /**
     * The classic BPF program attached to the socket (SO_ATTACH_FILTER), {@link #BPF_INSN} bytes per
     * instruction, empty without one; null when an eBPF program is attached (SO_ATTACH_BPF): the
     * kernel keeps no original to give back (EACCES).
     */
    public static byte[] filter(Fd s) {
        Memory len = new Memory(4);
        len.setInt(0, 0); // a zero length asks for the count only
        try {
            Sys.call(() -> "getsockopt(" + s + ", SO_GET_FILTER)", SyscallNr.GETSOCKOPT, s.value(), SOL_SOCKET,
                    SO_GET_FILTER, 0, Sys.address(len), 0);
        } catch (SyscallException e) {
            if (e.is(Errno.EACCES)) {
                return null;
            }
            return new byte[0]; // a kind of socket that has none
        }
        int count = len.getInt(0);
        if (count <= 0) {
            return new byte[0];
        }
        Memory prog = new Memory((long) count * BPF_INSN);
        len.setInt(0, count); // in instructions, not bytes
        Sys.call(() -> "getsockopt(" + s + ", SO_GET_FILTER, " + count + ")", SyscallNr.GETSOCKOPT, s.value(),
                SOL_SOCKET, SO_GET_FILTER, Sys.address(prog), Sys.address(len), 0);
        return prog.getByteArray(0, len.getInt(0) * BPF_INSN);
    }

    /** Attaches a classic BPF program (as {@link #filter} read it) with SO_ATTACH_FILTER. */
    public static void attachFilter(Fd s, byte[] program) {
        attachClassic(s, SO_ATTACH_FILTER, "SO_ATTACH_FILTER", program);
    }

    /** Gives the socket's SO_REUSEPORT group a classic BPF program that picks the socket of each packet. */
    public static void attachReuseportFilter(Fd s, byte[] program) {
        attachClassic(s, SO_ATTACH_REUSEPORT_CBPF, "SO_ATTACH_REUSEPORT_CBPF", program);
    }

    /** A classic program for a SO_REUSEPORT group that picks its member {@code index} (in the order they joined) for every packet. */
    public static byte[] pickMember(int index) {
        return java.nio.ByteBuffer.allocate(BPF_INSN).order(java.nio.ByteOrder.nativeOrder())
                .putShort((short) 0x06).put((byte) 0).put((byte) 0).putInt(index).array(); // BPF_RET | BPF_K
    }

    /** Takes the program of the socket's SO_REUSEPORT group away (SO_DETACH_REUSEPORT_BPF). */
    public static void detachReuseportFilter(Fd s) {
        setInt(s, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, 0);
    }

    private static void attachClassic(Fd s, int option, String name, byte[] program) {
        Memory prog = mem(program);
        Memory fprog = new Memory(16); // struct sock_fprog: u16 len, padding, pointer
        fprog.clear();
        fprog.setShort(0, (short) (program.length / BPF_INSN));
        fprog.setPointer(8, prog);
        Sys.call(() -> "setsockopt(" + s + ", " + name + ", " + program.length / BPF_INSN + " instructions)",
                SyscallNr.SETSOCKOPT, s.value(), SOL_SOCKET, option, Sys.address(fprog), 16, 0);
    }

    /** A u64 option (vsock's buffer sizes). */
    public static long getLong(Fd s, int level, int opt) {
        return java.nio.ByteBuffer.wrap(getBytes(s, level, opt, 8)).order(java.nio.ByteOrder.nativeOrder()).getLong();
    }

    public static void setLong(Fd s, int level, int opt, long value) {
        setBytes(s, level, opt, java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.nativeOrder()).putLong(value).array());
    }

    public static void setInt(Fd s, int level, int opt, int value) {
        Memory m = OPTION.get(); // the thread's buffer, as getsockopt's: a restore sets tens of thousands
        m.setInt(0, value);
        Sys.call(() -> "setsockopt(" + s + ", " + level + ", " + opt + ", " + value + ")", SyscallNr.SETSOCKOPT,
                s.value(), level, opt, Sys.address(m), 4, 0);
    }

    public static void setBytes(Fd s, int level, int opt, byte[] value) {
        Memory m = value.length <= OPTION_BYTES ? OPTION.get() : mem(value);
        m.write(0, value, 0, value.length);
        Sys.call(() -> "setsockopt(" + s + ", " + level + ", " + opt + ", " + value.length + " bytes)",
                SyscallNr.SETSOCKOPT, s.value(), level, opt, Sys.address(m), value.length, 0);
    }

    public static int ioctlInt(Fd s, int request, String name) {
        Memory m = OPTION.get();
        m.setInt(0, 0);
        Sys.call(() -> "ioctl(" + s + ", " + name + ")", SyscallNr.IOCTL, s.value(), request, Sys.address(m), 0);
        return m.getInt(0);
    }

    /** The file a bound unix socket's name made, as an O_PATH fd (SIOCUNIXFILE), whatever its name resolves to now. */
    public static Fd unixFile(Fd s) {
        return new Fd((int) Sys.call(() -> "ioctl(" + s + ", SIOCUNIXFILE)", SyscallNr.IOCTL, s.value(), SIOCUNIXFILE, 0, 0));
    }

    /** The network namespace of a socket, as an fd of the namespace (SIOCGSKNS). */
    public static Fd netns(Fd s) {
        return new Fd((int) Sys.call(() -> "ioctl(" + s + ", SIOCGSKNS)", SyscallNr.IOCTL, s.value(), SIOCGSKNS, 0, 0));
    }

    /** The inode of the network namespace of a socket ({@link #netns}, fstat), as its /proc link names it ("net:[N]"). */
    public static long netnsInode(Fd s) {
        try (Fd ns = netns(s)) {
            return Sys.inode(ns);
        }
    }

    /** send(2) of all of {@code data}; fewer bytes only if the socket would block. */
    public static int send(Fd s, byte[] data, int flags) {
        Memory m = mem(data);
        return (int) Sys.call(() -> "send(" + s + ", " + data.length + " bytes)", SyscallNr.SENDTO, s.value(),
                Sys.address(m), data.length, flags | MSG_NOSIGNAL, 0, 0);
    }

    public static int sendTo(Fd s, byte[] data, int flags, SockAddr to) {
        Memory m = mem(data);
        byte[] raw = to.encode();
        Memory a = mem(raw);
        return (int) Sys.call(() -> "sendto(" + s + ", " + data.length + " bytes, " + to + ")", SyscallNr.SENDTO,
                s.value(), Sys.address(m), data.length, flags | MSG_NOSIGNAL, Sys.address(a), raw.length);
    }

    /** recv(2); null when a non-blocking receive finds nothing (EAGAIN). */
    public static byte[] recv(Fd s, int max, int flags) {
        Memory m = new Memory(Math.max(max, 1));
        long r = LibC.syscall(SyscallNr.RECVFROM, s.value(), Sys.address(m), max, flags, 0, 0);
        if (r == -1) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return null;
            }
            throw new SyscallException("recv(" + s + ", " + max + " bytes)", errno);
        }
        return m.getByteArray(0, (int) Math.min(r, max));
    }

    /**
     * SO_PEERCRED: the pid (in this process's pid namespace), euid and egid the kernel recorded
     * for the socket's peer at socketpair(), connect() or listen(); pid 0, uid and gid -1: none.
     */
    public static Ucred peerCred(Fd s) {
        ByteBuffer b = ByteBuffer.wrap(getBytes(s, SOL_SOCKET, SO_PEERCRED, 12)).order(ByteOrder.nativeOrder());
        return new Ucred(b.getInt(), b.getInt(), b.getInt());
    }

    /**
     * SO_PEERGROUPS: the supplementary groups (as this process's user namespace maps them) the kernel
     * recorded with {@link #peerCred}; empty when the socket has no peer credentials.
     */
    public static int[] peerGroups(Fd s) {
        Memory len = new Memory(4);
        len.setInt(0, 0); // a zero length asks for the size (ERANGE)
        try {
            Sys.call(() -> "getsockopt(" + s + ", SO_PEERGROUPS)", SyscallNr.GETSOCKOPT, s.value(), SOL_SOCKET,
                    SO_PEERGROUPS, 0, Sys.address(len), 0);
            return new int[0];
        } catch (SyscallException e) {
            if (e.is(Errno.ENODATA)) {
                return new int[0];
            }
            if (!e.is(Errno.ERANGE)) {
                throw e;
            }
        }
        int size = len.getInt(0);
        ByteBuffer b = ByteBuffer.wrap(getBytes(s, SOL_SOCKET, SO_PEERGROUPS, size)).order(ByteOrder.nativeOrder());
        int[] out = new int[b.remaining() / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getInt();
        }
        return out;
    }

    /** The sender credentials a unix message carries (SCM_CREDENTIALS); pid 0: none were attached. */
    public record Ucred(int pid, int uid, int gid) {
        public boolean present() {
            return pid != 0;
        }
    }

    /**
     * One message as recvmsg saw it: its bytes, its full length, the sender, the descriptors passed
     * with it ({@code fds}, open in this process and the caller's to close, when they were kept;
     * {@code fdsPassed} counts them either way), its credentials when SO_PASSCRED was on (else null),
     * and the address an IP datagram was sent to when IP_RECVORIGDSTADDR or IPV6_RECVORIGDSTADDR
     * was on (else null).
     */
    public record Message(byte[] data, int length, SockAddr from, int fdsPassed, List<Fd> fds, Ucred creds, int flags,
                          SockAddr to) {
        public Message {
            fds = List.copyOf(fds);
        }

        public boolean credentials() {
            return creds != null;
        }
    }

    /** Room for SCM_MAX_FD (253) descriptors and one struct ucred. */
    private static final int CONTROL_ROOM = 2048;

    /**
     * recvmsg(2) with room for a sender address and control messages; null on EAGAIN. File
     * descriptors passed with the message (SCM_RIGHTS, which MSG_PEEK duplicates too) are closed
     * at once and only counted.
     */
    public static Message recvMsg(Fd s, int max, int flags) {
        return recvMsg(s, max, flags, false);
    }

    /** recvmsg(2); {@code keepFds}: the passed descriptors stay open (close-on-exec) in {@link Message#fds}. */
    public static Message recvMsg(Fd s, int max, int flags, boolean keepFds) {
        Memory data = new Memory(Math.max(max, 1));
        Memory name = new Memory(128);
        name.clear();
        Memory control = new Memory(CONTROL_ROOM);
        control.clear();
        Memory iov = new Memory(16);
        iov.setLong(0, Sys.address(data));
        iov.setLong(8, max);
        Memory hdr = new Memory(56);
        hdr.clear();
        hdr.setLong(0, Sys.address(name));
        hdr.setInt(8, 128);
        hdr.setLong(16, Sys.address(iov));
        hdr.setLong(24, 1);
        hdr.setLong(32, Sys.address(control));
        hdr.setLong(40, CONTROL_ROOM);
        long r = LibC.syscall(SyscallNr.RECVMSG, s.value(), Sys.address(hdr), flags | MSG_CMSG_CLOEXEC, 0, 0, 0);
        if (r == -1) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return null;
            }
            throw new SyscallException("recvmsg(" + s + ", " + max + " bytes)", errno);
        }
        int nameLen = Math.min(hdr.getInt(8), 128);
        long controlLen = hdr.getLong(40);
        int msgFlags = hdr.getInt(48);
        int count = 0;
        List<Fd> fds = new ArrayList<>();
        Ucred creds = null;
        SockAddr to = null;
        long off = 0;
        while (off + 16 <= controlLen) { // struct cmsghdr: u64 len, int level, int type
            long len = control.getLong(off);
            int level = control.getInt(off + 8);
            int type = control.getInt(off + 12);
            if (len < 16) {
                break;
            }
            if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                for (long p = off + 16; p + 4 <= off + len; p += 4) {
                    Fd fd = new Fd(control.getInt(p));
                    if (keepFds) {
                        fds.add(fd);
                    } else {
                        fd.close();
                    }
                    count++;
                }
            } else if (level == SOL_SOCKET && type == SCM_CREDENTIALS && len >= 28) {
                creds = new Ucred(control.getInt(off + 16), control.getInt(off + 20), control.getInt(off + 24));
            } else if ((level == SOL_IP && type == IP_RECVORIGDSTADDR && len >= 16 + 16)
                    || (level == SOL_IPV6 && type == IPV6_RECVORIGDSTADDR && len >= 16 + 28)) {
                int sl = level == SOL_IP ? 16 : 28; // struct sockaddr_in or sockaddr_in6
                to = SockAddr.decode(control.getByteArray(off + 16, sl), sl);
            }
            off += (len + 7) & ~7L;
        }
        int n = (int) Math.min(r, max);
        return new Message(data.getByteArray(0, n), (int) r, SockAddr.decode(name.getByteArray(0, nameLen), nameLen),
                count, fds, creds, msgFlags, to);
    }

    /**
     * sendmsg(2) of {@code data} with {@code fds} (SCM_RIGHTS, none if empty) and {@code creds}
     * (SCM_CREDENTIALS, none if null: root may name any live pid and any uid/gid), to {@code to}
     * (null: the connected peer). Returns the bytes sent, fewer only if a non-blocking send would block.
     */
    public static int sendMsg(Fd s, byte[] data, List<Fd> fds, Ucred creds, SockAddr to, int flags) {
        Memory buf = mem(data);
        Memory iov = new Memory(16);
        iov.setLong(0, Sys.address(buf));
        iov.setLong(8, data.length);
        int rights = fds.isEmpty() ? 0 : 16 + ((4 * fds.size() + 7) & ~7);
        int cred = creds == null ? 0 : 32;
        Memory control = new Memory(Math.max(rights + cred, 1));
        control.clear();
        if (rights > 0) {
            control.setLong(0, 16 + 4L * fds.size());
            control.setInt(8, SOL_SOCKET);
            control.setInt(12, SCM_RIGHTS);
            for (int i = 0; i < fds.size(); i++) {
                control.setInt(16 + 4L * i, fds.get(i).value());
            }
        }
        if (cred > 0) {
            control.setLong(rights, 28);
            control.setInt(rights + 8, SOL_SOCKET);
            control.setInt(rights + 12, SCM_CREDENTIALS);
            control.setInt(rights + 16, creds.pid());
            control.setInt(rights + 20, creds.uid());
            control.setInt(rights + 24, creds.gid());
        }
        Memory hdr = new Memory(56);
        hdr.clear();
        Memory name = null;
        if (to != null) {
            byte[] raw = to.encode();
            name = mem(raw);
            hdr.setLong(0, Sys.address(name));
            hdr.setInt(8, raw.length);
        }
        hdr.setLong(16, Sys.address(iov));
        hdr.setLong(24, 1);
        if (rights + cred > 0) {
            hdr.setLong(32, Sys.address(control));
            hdr.setLong(40, rights + cred);
        }
        int sent = (int) Sys.call(() -> "sendmsg(" + s + ", " + data.length + " bytes, " + fds.size() + " fds"
                        + (creds == null ? "" : ", credentials of pid " + creds.pid()) + (to == null ? "" : ", " + to) + ")",
                SyscallNr.SENDMSG, s.value(), Sys.address(hdr), flags | MSG_NOSIGNAL, 0);
        return sent;
    }

    /** Sends {@code fds} over a unix socket in one SCM_RIGHTS message carrying one byte. */
    public static void sendFds(Fd s, List<Fd> fds, SockAddr to) {
        sendMsg(s, new byte[] {'F'}, fds, null, to, 0);
    }

    /**
     * Every message or byte run in a socket's receive queue, in order, without consuming any:
     * MSG_PEEK stepped with SO_PEEK_OFF, whose previous value is put back.
     * For stream sockets the runs are split wherever the kernel split them; concatenate them.
     * Passed descriptors are closed and only counted.
     */
    public static List<Message> peekQueue(Fd s, int maxMessage) {
        return peekQueue(s, maxMessage, false);
    }

    /**
     * {@link #peekQueue(Fd, int)}; {@code keepFds}: the descriptors passed with the messages stay
     * open in this process (the caller closes them). Unix sockets are peeked with SO_PASSCRED on,
     * so every message shows the credentials it carries (pid 0: none) and a stream run never
     * glues bytes of two senders. A stream run that passes descriptors ends with the buffer they
     * came with, but may begin with earlier bytes of the same sender: a peek goes on past the end
     * of a buffer into the next one up to the first that passes descriptors, and returns them, so
     * where their own bytes begin cannot be seen without consuming (CRIU sees the same).
     */
    public static List<Message> peekQueue(Fd s, int maxMessage, boolean keepFds) {
        synchronized (PEEKING[(int) Long.remainderUnsigned(Sys.inode(s), PEEKING.length)]) {
            return peekQueueAlone(s, maxMessage, keepFds);
        }
    }

    /**
     * One peek of a socket's queue at a time, by inode (striped): the peek offset (SO_PEEK_OFF) and the options a
     * peek sets are the socket's, shared by every fd of it, so two peeks at once (two dumpers' copies of one socket:
     * a unix socket's dump and another task's look for sockets in flight) each skipped what the other had read.
     */
    private static final Object[] PEEKING = java.util.stream.IntStream.range(0, 64).mapToObj(i -> new Object()).toArray();

    private static List<Message> peekQueueAlone(Fd s, int maxMessage, boolean keepFds) {
        int saved = getInt(s, SOL_SOCKET, SO_PEEK_OFF);
        // a unix datagram or seqpacket socket whose peer is gone reads 0 at the end of its queue, like
        // an empty message: with SO_PASSCRED on for the peek, every real message comes with credentials
        boolean stream = isStream(s);
        boolean unix = getInt(s, SOL_SOCKET, SO_DOMAIN) == SockAddr.AF_UNIX;
        boolean unixMessages = !stream && unix;
        int savedCreds = unix ? getInt(s, SOL_SOCKET, SO_PASSCRED) : 0;
        // an IP datagram shows the address it was sent to (that of a wildcard-bound socket's varies)
        int domain = getInt(s, SOL_SOCKET, SO_DOMAIN);
        boolean ip = !stream && (domain == SockAddr.AF_INET || domain == SockAddr.AF_INET6);
        int savedDst4 = ip ? getInt(s, SOL_IP, IP_RECVORIGDSTADDR) : 0;
        int savedDst6 = ip && domain == SockAddr.AF_INET6 ? getInt(s, SOL_IPV6, IPV6_RECVORIGDSTADDR) : 0;
        // a unix stream socket holding an error (ECONNRESET: its peer closed with bytes unread) gives it to the
        // receive that finds no more bytes, a peek too: peeked only up to its unread bytes, which leaves it
        long bound = stream && unix && (dev.cryo.kernel.Terminals.poll(s, 0) & dev.cryo.kernel.Terminals.POLLERR) != 0
                ? ioctlInt(s, SIOCINQ, "SIOCINQ") : -1;
        long peeked = 0;
        List<Message> out = new ArrayList<>();
        setInt(s, SOL_SOCKET, SO_PEEK_OFF, 0);
        if (unix) {
            setInt(s, SOL_SOCKET, SO_PASSCRED, 1);
        }
        if (ip) {
            setInt(s, SOL_IP, IP_RECVORIGDSTADDR, 1); // a dual-stack socket's IPv4 datagrams answer to this one
            if (domain == SockAddr.AF_INET6) {
                setInt(s, SOL_IPV6, IPV6_RECVORIGDSTADDR, 1);
            }
        }
        try {
            while (bound < 0 || peeked < bound) {
                Message m = recvMsg(s, maxMessage, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC, keepFds);
                if (m == null || (m.length() == 0 && m.fdsPassed() == 0 && (stream || (unixMessages && !m.credentials())))) {
                    return out;
                }
                out.add(m);
                peeked += m.length();
                if (out.size() > 1_000_000) {
                    throw new IllegalStateException("socket queue of " + s + " does not end");
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.forEach(m -> m.fds().forEach(Fd::close));
            throw e;
        } finally {
            setInt(s, SOL_SOCKET, SO_PEEK_OFF, saved);
            if (unix) {
                setInt(s, SOL_SOCKET, SO_PASSCRED, savedCreds);
            }
            if (ip) {
                setInt(s, SOL_IP, IP_RECVORIGDSTADDR, savedDst4);
                if (domain == SockAddr.AF_INET6) {
                    setInt(s, SOL_IPV6, IPV6_RECVORIGDSTADDR, savedDst6);
                }
            }
        }
    }

    private static boolean isStream(Fd s) {
        return getInt(s, SOL_SOCKET, SO_TYPE) == SOCK_STREAM;
    }

    private static Memory mem(byte[] raw) {
        Memory m = new Memory(Math.max(raw.length, 1));
        m.write(0, raw, 0, raw.length);
        return m;
    }
}
