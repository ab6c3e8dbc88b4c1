package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.MulticastMemberships;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SocketOptionReads;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.TcpMd5;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.cryo.kernel.net.PacketSockets.*;
import static dev.cryo.kernel.net.Sockets.*;

/**
 * The socket options a program may have set (buffer sizes, keepalive, linger, timeouts, mark,
 * bound device, TOS, TCP_NODELAY, ...): only those whose value differs from a fresh socket of the
 * same kind are carried, so restore changes nothing the program left alone (an explicit buffer
 * size would switch off TCP's autotuning). Set on the new socket before it is bound. The multicast
 * groups a datagram or raw socket joined, with their source filters, ride along as options too
 * (MCAST_MSFILTER's answer per group: {@link MulticastMemberships}). {@code reuseportIndex} (version 2):
 * the socket's index in its SO_REUSEPORT group, which the kernel picks a member by (-1: in none).
 */
public record SocketOptions(List<Option> options, int reuseportIndex) {
    public static final int RECORD_ID = 190;

    public SocketOptions {
        options = List.copyOf(options);
    }

    public SocketOptions(List<Option> options) {
        this(options, -1);
    }

    /** One option as getsockopt returned it. */
    public record Option(int level, int name, byte[] value) {}

    public static final SocketOptions NONE = new SocketOptions(List.of());

    private record Spec(int level, int name, int size, String label) {}

    private static Spec opt(int level, int name, String label) {
        return new Spec(level, name, 4, label);
    }

    // Every option a program can set and getsockopt reads back as it was set. Options the kernel
    // changes by itself once connected (the MSS, the window clamp) are in PRECONNECT only.
    private static final List<Spec> COMMON = List.of(
            opt(SOL_SOCKET, SO_DEBUG, "SO_DEBUG"),
            opt(SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"), opt(SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"),
            opt(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"), opt(SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"),
            opt(SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE"), opt(SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY"),
            new Spec(SOL_SOCKET, SO_LINGER, 8, "SO_LINGER"), opt(SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT"),
            new Spec(SOL_SOCKET, SO_RCVTIMEO, 16, "SO_RCVTIMEO"), new Spec(SOL_SOCKET, SO_SNDTIMEO, 16, "SO_SNDTIMEO"),
            opt(SOL_SOCKET, SO_MARK, "SO_MARK"), opt(SOL_SOCKET, SO_TIMESTAMP, "SO_TIMESTAMP"),
            opt(SOL_SOCKET, SO_TIMESTAMPNS, "SO_TIMESTAMPNS"), opt(SOL_SOCKET, SO_TIMESTAMP_NEW, "SO_TIMESTAMP_NEW"),
            opt(SOL_SOCKET, SO_TIMESTAMPNS_NEW, "SO_TIMESTAMPNS_NEW"),
            new Spec(SOL_SOCKET, SO_TIMESTAMPING, 8, "SO_TIMESTAMPING"),
            new Spec(SOL_SOCKET, SO_BINDTODEVICE, 16, "SO_BINDTODEVICE"),
            opt(SOL_SOCKET, SO_DONTROUTE, "SO_DONTROUTE"), opt(SOL_SOCKET, SO_NO_CHECK, "SO_NO_CHECK"),
            opt(SOL_SOCKET, SO_LOCK_FILTER, "SO_LOCK_FILTER"),
            opt(SOL_SOCKET, SO_RXQ_OVFL, "SO_RXQ_OVFL"), opt(SOL_SOCKET, SO_WIFI_STATUS, "SO_WIFI_STATUS"),
            opt(SOL_SOCKET, SO_NOFCS, "SO_NOFCS"), opt(SOL_SOCKET, SO_SELECT_ERR_QUEUE, "SO_SELECT_ERR_QUEUE"),
            opt(SOL_SOCKET, SO_BUSY_POLL, "SO_BUSY_POLL"), opt(SOL_SOCKET, SO_PREFER_BUSY_POLL, "SO_PREFER_BUSY_POLL"),
            opt(SOL_SOCKET, SO_BUSY_POLL_BUDGET, "SO_BUSY_POLL_BUDGET"),
            new Spec(SOL_SOCKET, SO_MAX_PACING_RATE, 8, "SO_MAX_PACING_RATE"),
            opt(SOL_SOCKET, SO_ZEROCOPY, "SO_ZEROCOPY"), opt(SOL_SOCKET, SO_TXREHASH, "SO_TXREHASH"),
            opt(SOL_SOCKET, SO_RCVMARK, "SO_RCVMARK"), opt(SOL_SOCKET, SO_PEEK_OFF, "SO_PEEK_OFF"),
            opt(SOL_SOCKET, SO_RESERVE_MEM, "SO_RESERVE_MEM"), opt(SOL_SOCKET, SO_RCVPRIORITY, "SO_RCVPRIORITY"),
            new Spec(SOL_SOCKET, SO_TXTIME, 8, "SO_TXTIME")); // struct sock_txtime: clock and flags
    /** The largest option value: a classic BPF filter of BPF_MAXINSNS (4096) instructions. */
    private static final int MAX_VALUE = 4096 * BPF_INSN;
    /**
     * Buffer sizes, and whether the program fixed them (SO_BUF_LOCK: a size set equal to the default
     * still stops the kernel's autotuning). An established connection's sizes are the kernel's unless locked.
     */
    private static final List<Spec> BUFFERS = List.of(opt(SOL_SOCKET, SO_BUF_LOCK, "SO_BUF_LOCK"),
            opt(SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"), opt(SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"));
    private static final List<Spec> UNIX = List.of(
            opt(SOL_SOCKET, SO_PASSCRED, "SO_PASSCRED"), opt(SOL_SOCKET, SO_PASSSEC, "SO_PASSSEC"),
            opt(SOL_SOCKET, SO_PASSPIDFD, "SO_PASSPIDFD"), opt(SOL_SOCKET, SO_PASSRIGHTS, "SO_PASSRIGHTS"));
    /** IPv4's options; an IPv6 socket takes them too (for its IPv4-mapped traffic), except a raw one. */
    private static final List<Spec> IP4 = List.of(
            opt(SOL_IP, IP_TOS, "IP_TOS"), opt(SOL_IP, IP_TTL, "IP_TTL"), opt(SOL_IP, IP_HDRINCL, "IP_HDRINCL"),
            new Spec(SOL_IP, IP_OPTIONS, 40, "IP_OPTIONS"), opt(SOL_IP, IP_RECVOPTS, "IP_RECVOPTS"),
            opt(SOL_IP, IP_RETOPTS, "IP_RETOPTS"), opt(SOL_IP, IP_PKTINFO, "IP_PKTINFO"),
            opt(SOL_IP, IP_MTU_DISCOVER, "IP_MTU_DISCOVER"), opt(SOL_IP, IP_RECVERR, "IP_RECVERR"),
            opt(SOL_IP, IP_RECVTTL, "IP_RECVTTL"), opt(SOL_IP, IP_RECVTOS, "IP_RECVTOS"),
            opt(SOL_IP, IP_FREEBIND, "IP_FREEBIND"), opt(SOL_IP, IP_PASSSEC, "IP_PASSSEC"),
            opt(SOL_IP, IP_TRANSPARENT, "IP_TRANSPARENT"), opt(SOL_IP, IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR"),
            opt(SOL_IP, IP_MINTTL, "IP_MINTTL"), opt(SOL_IP, IP_NODEFRAG, "IP_NODEFRAG"),
            opt(SOL_IP, IP_CHECKSUM, "IP_CHECKSUM"), opt(SOL_IP, IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT"),
            opt(SOL_IP, IP_RECVFRAGSIZE, "IP_RECVFRAGSIZE"), opt(SOL_IP, IP_RECVERR_RFC4884, "IP_RECVERR_RFC4884"),
            opt(SOL_IP, IP_UNICAST_IF, "IP_UNICAST_IF"), opt(SOL_IP, IP_LOCAL_PORT_RANGE, "IP_LOCAL_PORT_RANGE"));
    private static final List<Spec> IP6 = List.of(
            opt(SOL_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY"), opt(SOL_IPV6, IPV6_TCLASS, "IPV6_TCLASS"),
            opt(SOL_IPV6, IPV6_2292PKTINFO, "IPV6_2292PKTINFO"), opt(SOL_IPV6, IPV6_2292HOPOPTS, "IPV6_2292HOPOPTS"),
            opt(SOL_IPV6, IPV6_2292DSTOPTS, "IPV6_2292DSTOPTS"), opt(SOL_IPV6, IPV6_2292RTHDR, "IPV6_2292RTHDR"),
            opt(SOL_IPV6, IPV6_2292HOPLIMIT, "IPV6_2292HOPLIMIT"), opt(SOL_IPV6, IPV6_CHECKSUM, "IPV6_CHECKSUM"),
            opt(SOL_IPV6, IPV6_HDRINCL, "IPV6_HDRINCL"),
            opt(SOL_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"),
            opt(SOL_IPV6, IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER"),
            opt(SOL_IPV6, IPV6_RECVERR, "IPV6_RECVERR"), opt(SOL_IPV6, IPV6_RECVERR_RFC4884, "IPV6_RECVERR_RFC4884"),
            opt(SOL_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO"), opt(SOL_IPV6, IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT"),
            opt(SOL_IPV6, IPV6_RECVHOPOPTS, "IPV6_RECVHOPOPTS"), opt(SOL_IPV6, IPV6_RECVRTHDR, "IPV6_RECVRTHDR"),
            opt(SOL_IPV6, IPV6_RECVDSTOPTS, "IPV6_RECVDSTOPTS"), opt(SOL_IPV6, IPV6_RECVPATHMTU, "IPV6_RECVPATHMTU"),
            opt(SOL_IPV6, IPV6_DONTFRAG, "IPV6_DONTFRAG"), opt(SOL_IPV6, IPV6_RECVTCLASS, "IPV6_RECVTCLASS"),
            opt(SOL_IPV6, IPV6_AUTOFLOWLABEL, "IPV6_AUTOFLOWLABEL"),
            opt(SOL_IPV6, IPV6_ADDR_PREFERENCES, "IPV6_ADDR_PREFERENCES"),
            opt(SOL_IPV6, IPV6_MINHOPCOUNT, "IPV6_MINHOPCOUNT"),
            opt(SOL_IPV6, IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR"),
            opt(SOL_IPV6, IPV6_TRANSPARENT, "IPV6_TRANSPARENT"), opt(SOL_IPV6, IPV6_UNICAST_IF, "IPV6_UNICAST_IF"),
            opt(SOL_IPV6, IPV6_RECVFRAGSIZE, "IPV6_RECVFRAGSIZE"), opt(SOL_IPV6, IPV6_FREEBIND, "IPV6_FREEBIND"),
            opt(SOL_IPV6, IPV6_FLOWINFO, "IPV6_FLOWINFO"), opt(SOL_IPV6, IPV6_FLOWINFO_SEND, "IPV6_FLOWINFO_SEND"),
            opt(SOL_IPV6, IPV6_ROUTER_ALERT_ISOLATE, "IPV6_ROUTER_ALERT_ISOLATE"),
            // sticky extension headers (a multicast router's hop-by-hop router alert), up to 256 8-byte units each
            new Spec(SOL_IPV6, IPV6_HOPOPTS, IPV6_EXT_HEADER_MAX, "IPV6_HOPOPTS"),
            new Spec(SOL_IPV6, IPV6_RTHDRDSTOPTS, IPV6_EXT_HEADER_MAX, "IPV6_RTHDRDSTOPTS"),
            new Spec(SOL_IPV6, IPV6_RTHDR, IPV6_EXT_HEADER_MAX, "IPV6_RTHDR"),
            new Spec(SOL_IPV6, IPV6_DSTOPTS, IPV6_EXT_HEADER_MAX, "IPV6_DSTOPTS"));
    /**
     * Multicast options, for datagram and raw sockets: a stream socket refuses them (EINVAL), and an
     * accepted connection has them set by the kernel from its SYN (TTL, incoming interface).
     */
    private static final List<Spec> MULTICAST4 = List.of(
            opt(SOL_IP, IP_MULTICAST_IF, "IP_MULTICAST_IF"), opt(SOL_IP, IP_MULTICAST_TTL, "IP_MULTICAST_TTL"),
            opt(SOL_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"), opt(SOL_IP, IP_MULTICAST_ALL, "IP_MULTICAST_ALL"));
    private static final List<Spec> MULTICAST6 = List.of(
            opt(SOL_IPV6, IPV6_MULTICAST_IF, "IPV6_MULTICAST_IF"), opt(SOL_IPV6, IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"),
            opt(SOL_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"), opt(SOL_IPV6, IPV6_MULTICAST_ALL, "IPV6_MULTICAST_ALL"));
    /**
     * The multicast switches a stream socket takes too (the kernel keeps them, a listener's
     * connections inherit them); its TTL and interface it refuses.
     */
    private static final List<Spec> STREAM_MULTICAST4 = List.of(
            opt(SOL_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"), opt(SOL_IP, IP_MULTICAST_ALL, "IP_MULTICAST_ALL"));
    private static final List<Spec> STREAM_MULTICAST6 = List.of(
            opt(SOL_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"), opt(SOL_IPV6, IPV6_MULTICAST_ALL, "IPV6_MULTICAST_ALL"));
    private static final List<Spec> TCP = List.of(
            opt(SOL_TCP, TCP_NODELAY, "TCP_NODELAY"), opt(SOL_TCP, TCP_CORK, "TCP_CORK"),
            opt(SOL_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"), opt(SOL_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"),
            opt(SOL_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"), opt(SOL_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"),
            opt(SOL_TCP, TCP_SYNCNT, "TCP_SYNCNT"), opt(SOL_TCP, TCP_LINGER2, "TCP_LINGER2"),
            opt(SOL_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT"), new Spec(SOL_TCP, TCP_CONGESTION, 16, "TCP_CONGESTION"),
            opt(SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, "TCP_THIN_LINEAR_TIMEOUTS"),
            opt(SOL_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT"), opt(SOL_TCP, TCP_TX_DELAY, "TCP_TX_DELAY"),
            opt(SOL_TCP, TCP_SAVE_SYN, "TCP_SAVE_SYN"), opt(SOL_TCP, TCP_INQ, "TCP_INQ"),
            opt(SOL_TCP, TCP_RTO_MAX_MS, "TCP_RTO_MAX_MS"), opt(SOL_TCP, TCP_RTO_MIN_US, "TCP_RTO_MIN_US"),
            opt(SOL_TCP, TCP_DELACK_MAX_US, "TCP_DELACK_MAX_US"));
    /**
     * TCP options of a socket not connected yet: a connection's MSS and window clamp are the kernel's,
     * TCP_FASTOPEN needs a closed or listening socket, and TCP_FASTOPEN_CONNECT would turn the repair
     * mode's connect into a deferred one. TCP_QUICKACK off (delayed acks) is a connection's
     * own mode, which the kernel switches by itself as the traffic goes. SO_INCOMING_CPU: a listener's is the
     * program's (its SO_REUSEPORT group gives it the connections that come in on that CPU), a connection's the
     * CPU its last packet came in on.
     */
    private static final List<Spec> PRECONNECT = List.of(opt(SOL_SOCKET, SO_INCOMING_CPU, "SO_INCOMING_CPU"),
            opt(SOL_TCP, TCP_MAXSEG, "TCP_MAXSEG"), opt(SOL_TCP, TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP"),
            opt(SOL_TCP, TCP_FASTOPEN, "TCP_FASTOPEN"), opt(SOL_TCP, TCP_FASTOPEN_CONNECT, "TCP_FASTOPEN_CONNECT"),
            opt(SOL_TCP, TCP_FASTOPEN_NO_COOKIE, "TCP_FASTOPEN_NO_COOKIE"), opt(SOL_TCP, TCP_QUICKACK, "TCP_QUICKACK"));
    /**
     * A connection's window clamp: the kernel's (autotuning moves it) or the program's, set once the
     * connection is repaired ({@link #onceConnected}); the repair's connect would leave its own.
     */
    private static final Spec WINDOW_CLAMP = opt(SOL_TCP, TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP");
    private static final List<Spec> UDP = List.of(
            opt(SOL_UDP, UDP_CORK, "UDP_CORK"), opt(SOL_UDP, UDP_ENCAP, "UDP_ENCAP"),
            opt(SOL_UDP, UDP_NO_CHECK6_TX, "UDP_NO_CHECK6_TX"), opt(SOL_UDP, UDP_NO_CHECK6_RX, "UDP_NO_CHECK6_RX"),
            opt(SOL_UDP, UDP_SEGMENT, "UDP_SEGMENT"), opt(SOL_UDP, UDP_GRO, "UDP_GRO"));
    private static final List<Spec> UDPLITE = List.of(
            opt(SOL_UDPLITE, UDPLITE_SEND_CSCOV, "UDPLITE_SEND_CSCOV"), opt(SOL_UDPLITE, UDPLITE_RECV_CSCOV, "UDPLITE_RECV_CSCOV"));
    private static final List<Spec> RAW = List.of(
            opt(SOL_RAW, ICMP_FILTER, "ICMP_FILTER"), new Spec(SOL_ICMPV6, ICMPV6_FILTER, 32, "ICMPV6_FILTER"));
    /**
     * Packet sockets' options getsockopt reads back (the TPACKET version and reserve come before a
     * ring; the fanout group and memberships are set by the handler once bound).
     */
    private static final List<Spec> PACKET = List.of(
            opt(SOL_PACKET, PACKET_VERSION, "PACKET_VERSION"), opt(SOL_PACKET, PACKET_RESERVE, "PACKET_RESERVE"),
            opt(SOL_PACKET, PACKET_AUXDATA, "PACKET_AUXDATA"), opt(SOL_PACKET, PACKET_ORIGDEV, "PACKET_ORIGDEV"),
            opt(SOL_PACKET, PACKET_VNET_HDR_SZ, "PACKET_VNET_HDR_SZ"), opt(SOL_PACKET, PACKET_LOSS, "PACKET_LOSS"),
            opt(SOL_PACKET, PACKET_TIMESTAMP, "PACKET_TIMESTAMP"), opt(SOL_PACKET, PACKET_TX_HAS_OFF, "PACKET_TX_HAS_OFF"),
            opt(SOL_PACKET, PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS"),
            opt(SOL_PACKET, PACKET_IGNORE_OUTGOING, "PACKET_IGNORE_OUTGOING"));
    /** A netlink socket's flags (its groups beyond the first 32 are read by {@link #netlinkGroups}). */
    private static final List<Spec> NETLINK = List.of(
            opt(SOL_NETLINK, NETLINK_PKTINFO, "NETLINK_PKTINFO"), opt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, "NETLINK_BROADCAST_ERROR"),
            opt(SOL_NETLINK, NETLINK_NO_ENOBUFS, "NETLINK_NO_ENOBUFS"), opt(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, "NETLINK_LISTEN_ALL_NSID"),
            opt(SOL_NETLINK, NETLINK_CAP_ACK, "NETLINK_CAP_ACK"), opt(SOL_NETLINK, NETLINK_EXT_ACK, "NETLINK_EXT_ACK"),
            opt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, "NETLINK_GET_STRICT_CHK"));
    /** A raw IPv4 socket's router alert, which no getsockopt reads: found by SocketProbe, named here for show. */
    private static final Spec ROUTER_ALERT = opt(SOL_IP, IP_ROUTER_ALERT, "IP_ROUTER_ALERT");
    /** An IPv6 socket's sticky source and interface, which no getsockopt reads: found by SocketProbe likewise. */
    private static final Spec STICKY_PKTINFO = new Spec(SOL_IPV6, IPV6_PKTINFO, 20, "IPV6_PKTINFO");
    private static final List<List<Spec>> ALL = List.of(COMMON, BUFFERS, UNIX, IP4, IP6, MULTICAST4,
            MULTICAST6, STREAM_MULTICAST4, STREAM_MULTICAST6, TCP, PRECONNECT, List.of(WINDOW_CLAMP), UDP, UDPLITE,
            RAW, PACKET, NETLINK, List.of(ROUTER_ALERT, STICKY_PKTINFO));

    private static final Map<String, Map<Spec, byte[]>> DEFAULTS = new ConcurrentHashMap<>();

    /**
     * The options of {@code s} that differ from a fresh socket's. {@code unconnected}: false for an
     * established TCP connection, whose buffer sizes, MSS and window clamp the kernel tunes by itself.
     */
    public static SocketOptions dump(Fd s, int family, int type, int protocol, boolean unconnected) {
        return dump(s, family, type, protocol, unconnected, Sockets.filter(s), f -> MulticastMemberships.groupsOf(s, f));
    }

    /**
     * {@link #dump}, with what its probe read already: the socket's classic filter ({@link Sockets#filter}, not
     * null) and the groups joined in its net namespace, by family ({@code hostGroups}: a dump's, read once per
     * namespace, {@link SocketDumpState#hostGroups}).
     */
    static SocketOptions dump(Fd s, int family, int type, int protocol, boolean unconnected, byte[] filter,
                              java.util.function.IntFunction<List<MulticastMemberships.HostGroup>> hostGroups) {
        List<Spec> specs = specs(family, type, protocol, unconnected);
        if (!unconnected && bufferLocked(s)) {
            specs.addAll(BUFFERS);
        }
        Map<Spec, byte[]> fresh = fresh(family, type, protocol);
        List<Option> out = new ArrayList<>();
        byte[][] values = readAll(s, specs);
        for (int i = 0; i < specs.size(); i++) {
            Spec sp = specs.get(i);
            byte[] v = values[i];
            if (v != null && !Arrays.equals(v, fresh.get(sp)) && !kernelsSegmentSize(sp, v)) {
                out.add(new Option(sp.level(), sp.name(), v));
            }
        }
        if (out.stream().anyMatch(o -> o.level() == SOL_IP && o.name() == IP_TOS)
                && out.stream().noneMatch(o -> o.level() == SOL_SOCKET && o.name() == SO_PRIORITY)) {
            // a fresh socket's priority, kept all the same: setting the TOS at restore sets the priority from it
            byte[] priority = read(s, opt(SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY"));
            if (priority != null) {
                out.add(new Option(SOL_SOCKET, SO_PRIORITY, priority));
            }
        }
        if (filter != null && filter.length > 0) { // null (eBPF) is refused by SocketProbe
            out.add(new Option(SOL_SOCKET, SO_ATTACH_FILTER, filter));
        }
        if (family == SockAddr.AF_NETLINK) {
            byte[] groups = netlinkGroups(s);
            if (groups != null) {
                out.add(new Option(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups));
            }
        }
        if ((family == SockAddr.AF_INET || family == SockAddr.AF_INET6) && type != SOCK_STREAM) {
            int level = family == SockAddr.AF_INET ? SOL_IP : SOL_IPV6;
            for (MulticastMemberships.HostGroup g : hostGroups.apply(family)) {
                byte[] m = MulticastMemberships.membership(s, level, family, g);
                if (m != null) {
                    out.add(new Option(level, MulticastMemberships.MCAST_MSFILTER, m));
                }
            }
        }
        return new SocketOptions(out);
    }

    /** What a fresh socket of this kind reads for each of its options (not offered: absent). */
    private static Map<Spec, byte[]> fresh(int family, int type, int protocol) {
        return DEFAULTS.computeIfAbsent(family + "/" + type + "/" + protocol, k -> {
            try (Fd f = Sockets.socket(family, type, protocol)) {
                Map<Spec, byte[]> m = new ConcurrentHashMap<>();
                List<Spec> all = specs(family, type, protocol, true);
                byte[][] values = readAll(f, all);
                for (int i = 0; i < all.size(); i++) {
                    if (values[i] != null) {
                        m.put(all.get(i), values[i]);
                    }
                }
                return m;
            }
        });
    }

    /**
     * Gives back a fresh socket's SO_PASS* flags to an accepted unix socket, which took its listener's
     * (the kernel copies them at accept), so it starts as the fresh socket {@link #dump} compared with:
     * libqb's server turns SO_PASSCRED off on each connection once it has the client's credentials, and a
     * listener's SO_PASSRIGHTS off would otherwise stay off on a connection the program turned it on for.
     */
    public static void clearInherited(Fd accepted) {
        Map<Spec, byte[]> f = fresh(SockAddr.AF_UNIX, Sockets.getInt(accepted, SOL_SOCKET, SO_TYPE), 0);
        for (Spec sp : UNIX) {
            byte[] v = read(accepted, sp);
            if (v != null && f.get(sp) != null && !Arrays.equals(v, f.get(sp))) {
                Sockets.setBytes(accepted, sp.level(), sp.name(), f.get(sp));
            }
        }
    }

    /**
     * Whether TCP_MAXSEG read from a socket not connected yet is the kernel's segment size rather
     * than one the program set: without one of the program's it reads the kernel's, which IP_OPTIONS
     * on such a socket shrinks below anything setsockopt takes (68 bytes, and the restore failed).
     * The kernel makes it again when the options are set.
     */
    private static boolean kernelsSegmentSize(Spec sp, byte[] v) {
        return sp.level() == SOL_TCP && sp.name() == TCP_MAXSEG
                && java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.nativeOrder()).getInt() < TCP_MIN_MSS;
    }

    private static boolean bufferLocked(Fd s) {
        byte[] v = read(s, BUFFERS.get(0));
        return v != null && java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.nativeOrder()).getInt() != 0;
    }

    /**
     * {@link #read} of each of {@code specs}, in their order: the SOL_SOCKET ones together in one syscall
     * where io_uring serves ({@link SocketOptionReads}), a server's thousands of sockets being read while
     * its tree is frozen; the others one by one.
     */
    private static byte[][] readAll(Fd s, List<Spec> specs) {
        byte[][] out = new byte[specs.size()][];
        List<Integer> together = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            if (specs.get(i).level() == SOL_SOCKET && specs.get(i).size() <= SocketOptionReads.LARGEST) {
                together.add(i);
            } else {
                out[i] = read(s, specs.get(i));
            }
        }
        byte[][] read = null;
        if (together.size() > 1 && SocketOptionReads.available()) {
            int[] names = new int[together.size()], sizes = new int[together.size()];
            for (int k = 0; k < names.length; k++) {
                names[k] = specs.get(together.get(k)).name();
                sizes[k] = specs.get(together.get(k)).size();
            }
            read = SocketOptionReads.read(s, names, sizes); // null: its ring is another thread's now
        }
        for (int k = 0; k < together.size(); k++) {
            int i = together.get(k);
            out[i] = read != null ? read[k] : read(s, specs.get(i));
        }
        return out;
    }

    private static byte[] read(Fd s, Spec sp) {
        return Sockets.getBytesOrNull(s, sp.level(), sp.name(), sp.size()); // null: not offered by this kind of socket
    }

    private static List<Spec> specs(int family, int type, int protocol, boolean unconnected) {
        List<Spec> l = new ArrayList<>(COMMON);
        if (unconnected) {
            l.addAll(BUFFERS);
        }
        boolean inet = family == SockAddr.AF_INET || family == SockAddr.AF_INET6;
        if (family == SockAddr.AF_UNIX || family == SockAddr.AF_NETLINK) { // udevd, avahi, NetworkManager: netlink with creds
            l.addAll(UNIX);
        }
        if (family == SockAddr.AF_INET || (family == SockAddr.AF_INET6 && type != SOCK_RAW)) {
            l.addAll(IP4);
        }
        if (family == SockAddr.AF_INET6) {
            l.addAll(IP6);
        }
        if (inet && type != SOCK_STREAM) {
            l.addAll(family == SockAddr.AF_INET ? MULTICAST4 : MULTICAST6);
            if (family == SockAddr.AF_INET6 && type != SOCK_RAW) {
                l.addAll(MULTICAST4);
            }
        }
        if (inet && type == SOCK_STREAM) {
            l.addAll(STREAM_MULTICAST4); // an MPTCP socket offers none of these: not read, not carried
            if (family == SockAddr.AF_INET6) {
                l.addAll(STREAM_MULTICAST6);
            }
            l.addAll(TCP);
            if (unconnected) {
                l.addAll(PRECONNECT);
            } else {
                l.add(WINDOW_CLAMP);
            }
        }
        if (family == SockAddr.AF_NETLINK) {
            l.addAll(NETLINK);
        }
        if (inet && type == SOCK_DGRAM && protocol != IPPROTO_ICMP && protocol != IPPROTO_ICMPV6) {
            l.addAll(UDP);
        }
        if (inet && type == SOCK_DGRAM && protocol == IPPROTO_UDPLITE) {
            l.addAll(UDPLITE);
        }
        if (inet && type == SOCK_RAW) {
            l.addAll(RAW);
        }
        if (family == SockAddr.AF_PACKET) {
            l.addAll(PACKET);
        }
        return l;
    }

    /**
     * Sets every carried option on a new socket; buffer sizes exactly, as root may (the *FORCE
     * variants); the socket filter first, since SO_LOCK_FILTER forbids attaching one afterwards; the
     * priority last, since IP_TOS sets it from the TOS (rt_tos2priority: kamailio's IPTOS_LOWDELAY
     * with priority 0 came back with 6).
     */
    public void apply(Fd s) {
        byte[] filter = get(SOL_SOCKET, SO_ATTACH_FILTER);
        if (filter != null) {
            Sockets.attachFilter(s, filter);
        }
        for (Option o : options) {
            if (o.level() == SOL_SOCKET && (o.name() == SO_ATTACH_FILTER || o.name() == SO_ATTACH_REUSEPORT_CBPF
                    || o.name() == SO_PRIORITY)) {
                continue;
            } else if (isMembership(o)) {
                MulticastMemberships.join(s, o.level(), o.value());
            } else if (o.level() == SOL_NETLINK && o.name() == NETLINK_LIST_MEMBERSHIPS) {
                joinNetlinkGroups(s, o.value());
            } else if (o.level() == SOL_SOCKET && (o.name() == SO_SNDBUF || o.name() == SO_RCVBUF)) {
                int doubled = java.nio.ByteBuffer.wrap(o.value()).order(java.nio.ByteOrder.nativeOrder()).getInt();
                Sockets.setInt(s, SOL_SOCKET, o.name() == SO_SNDBUF ? SO_SNDBUFFORCE : SO_RCVBUFFORCE, doubled / 2);
            } else {
                Sockets.setBytes(s, o.level(), o.name(), o.value());
            }
        }
        byte[] priority = get(SOL_SOCKET, SO_PRIORITY);
        if (priority != null) {
            Sockets.setBytes(s, SOL_SOCKET, SO_PRIORITY, priority);
        }
    }

    /**
     * Gives the reuseport group its classic program, once the socket is in it: after the bind of a UDP
     * socket, the listen of a TCP one. Set before, the program makes the socket a group of its own,
     * which the kernel then does not let share the port (EADDRINUSE). Every member carries the same
     * program, and each one set replaces the group's with its equal. The kernel takes it from an
     * unbound socket only with SO_REUSEPORT set, which a socket may have cleared since: set for that instant.
     */
    public void attachReuseportFilter(Fd s) {
        byte[] program = get(SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF);
        if (program == null) {
            return;
        }
        boolean lend = Sockets.getInt(s, SOL_SOCKET, SO_REUSEPORT) == 0;
        if (lend) {
            Sockets.setInt(s, SOL_SOCKET, SO_REUSEPORT, 1);
        }
        Sockets.attachReuseportFilter(s, program);
        if (lend) {
            Sockets.setInt(s, SOL_SOCKET, SO_REUSEPORT, 0);
        }
    }

    /**
     * The groups a netlink socket joined, as NETLINK_LIST_MEMBERSHIPS' bitmap (32 groups a word, group
     * 1 first), when it joined one beyond the first 32, which bind's nl_groups cannot name (generic
     * netlink's, rtnetlink's from RTNLGRP_BRVLAN on); null otherwise.
     */
    private static byte[] netlinkGroups(Fd s) {
        byte[] b = Sockets.getBytesOrNull(s, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 1024);
        if (b == null) {
            return null;
        }
        for (int i = 4; i < b.length; i++) {
            if (b[i] != 0) {
                return b;
            }
        }
        return null;
    }

    /** Joins the groups of {@code bitmap} beyond the first 32 (bind joins those): NETLINK_ADD_MEMBERSHIP each. */
    private static void joinNetlinkGroups(Fd s, byte[] bitmap) {
        for (int group : netlinkGroupNumbers(bitmap)) {
            if (group > 32) {
                Sockets.setInt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
            }
        }
    }

    /** The group numbers (from 1) of a NETLINK_LIST_MEMBERSHIPS bitmap. */
    private static List<Integer> netlinkGroupNumbers(byte[] bitmap) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bitmap).order(java.nio.ByteOrder.nativeOrder());
        List<Integer> out = new ArrayList<>();
        for (int word = 0; word < bitmap.length / 4; word++) {
            int bits = b.getInt(word * 4);
            for (int bit = 0; bit < 32; bit++) {
                if ((bits & (1 << bit)) != 0) {
                    out.add(word * 32 + bit + 1);
                }
            }
        }
        return out;
    }

    /**
     * Whether {@code o} is set on a connection once it is repaired, not on the new socket: the
     * repair's connect would replace the window clamp, and would size the segments without the room
     * IP options take (set afterwards, the kernel sizes them again as it did for the dumped one).
     */
    public static boolean onceConnected(Option o) {
        return o.level() == SOL_TCP && o.name() == TCP_WINDOW_CLAMP || o.level() == SOL_IP && o.name() == IP_OPTIONS;
    }

    /** These options and {@code more}. */
    public SocketOptions with(List<Option> more) {
        List<Option> l = new ArrayList<>(options);
        l.addAll(more);
        return new SocketOptions(l, reuseportIndex);
    }

    /** These options, of a socket at {@code index} in its SO_REUSEPORT group. */
    public SocketOptions atReuseportIndex(int index) {
        return new SocketOptions(options, index);
    }

    /** The options {@code keep} accepts. */
    public SocketOptions filter(java.util.function.Predicate<Option> keep) {
        return new SocketOptions(options.stream().filter(keep).toList(), reuseportIndex);
    }

    /** A multicast group the socket joined, with its source filter: carried as MCAST_MSFILTER's answer. */
    private static boolean isMembership(Option o) {
        return (o.level() == SOL_IP || o.level() == SOL_IPV6) && o.name() == MulticastMemberships.MCAST_MSFILTER;
    }

    /** SO_REUSEADDR as the program left it: carried when on, since a fresh socket has it off. */
    public boolean reuseAddr() {
        byte[] v = get(SOL_SOCKET, SO_REUSEADDR);
        return v != null && java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.nativeOrder()).getInt() != 0;
    }

    /** The value of one carried option, or null. */
    public byte[] get(int level, int name) {
        for (Option o : options) {
            if (o.level() == level && o.name() == name) {
                return o.value();
            }
        }
        return null;
    }

    public Map<String, Object> show() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        if (reuseportIndex >= 0) {
            m.put("SO_REUSEPORT group index", reuseportIndex);
        }
        int groups = 0, keys = 0;
        for (Option o : options) {
            if (isMembership(o)) {
                m.put("multicast group " + ++groups, MulticastMemberships.describe(o.value(),
                        o.level() == SOL_IP ? SockAddr.AF_INET : SockAddr.AF_INET6));
                continue;
            }
            if (o.level() == SOL_TCP && o.name() == TcpMd5.TCP_MD5SIG_EXT) {
                m.put("TCP_MD5SIG key " + ++keys, TcpMd5.describe(o.value()));
                continue;
            }
            if (o.level() == SOL_NETLINK && o.name() == NETLINK_LIST_MEMBERSHIPS) {
                m.put("netlink groups", netlinkGroupNumbers(o.value()));
                continue;
            }
            boolean classic = o.level() == SOL_SOCKET && (o.name() == SO_ATTACH_FILTER || o.name() == SO_ATTACH_REUSEPORT_CBPF);
            String label = !classic ? "level " + o.level() + " option " + o.name()
                    : o.name() == SO_ATTACH_FILTER ? "SO_ATTACH_FILTER (instructions)" : "SO_ATTACH_REUSEPORT_CBPF (instructions)";
            for (List<Spec> l : ALL) {
                for (Spec sp : l) {
                    if (sp.level() == o.level() && sp.name() == o.name()) {
                        label = sp.label();
                    }
                }
            }
            m.put(label, classic ? o.value().length / BPF_INSN
                    : o.value().length == 4
                    ? java.nio.ByteBuffer.wrap(o.value()).order(java.nio.ByteOrder.nativeOrder()).getInt()
                    : hex(o.value()));
        }
        return m;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x));
        }
        return s.toString();
    }

    public static final RecordCodec<SocketOptions> CODEC = RecordCodec.of(SocketOptions.class, RECORD_ID, 2, (out, o) -> {
        out.writeVarInt(o.options().size(), true);
        for (Option x : o.options()) {
            out.writeVarInt(x.level(), true);
            out.writeVarInt(x.name(), true);
            ModelFields.writeBytes(out, x.value(), MAX_VALUE, "SocketOptions.value");
        }
        out.writeVarInt(o.reuseportIndex() + 1, true);
    }, (in, version) -> {
        int n = in.readVarInt(true);
        if (n < 0 || n > 160) {
            throw new com.esotericsoftware.kryo.KryoException("SocketOptions: " + n + " options");
        }
        List<Option> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(new Option(in.readVarInt(true), in.readVarInt(true), ModelFields.readBytes(in, MAX_VALUE, "SocketOptions.value")));
        }
        int index = version >= 2 ? in.readVarInt(true) - 1 : -1;
        if (index < -1 || index >= 1 << 16) {
            throw new com.esotericsoftware.kryo.KryoException("SocketOptions: SO_REUSEPORT group index " + index);
        }
        return new SocketOptions(l, index);
    });
}
