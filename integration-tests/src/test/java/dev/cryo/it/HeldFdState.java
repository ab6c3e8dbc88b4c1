package dev.cryo.it;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Terminals;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

import static dev.cryo.kernel.Fcntl.*;
import static dev.cryo.kernel.net.Sockets.*;

/**
 * The state of a task's fd that only a syscall on the fd shows (fdinfo does not): read on a copy
 * taken with pidfd_getfd, which shares the task's open file and changes nothing of it (no read, no
 * set; closing the copy is not the file's last close). Per fd: the SIGIO owner and signal, a
 * lease, a pipe's capacity, a memfd's seals; a renewed file's (memfd, deleted, O_TMPFILE) mode,
 * owner and size, another file's mode and owner; a socket's options as getsockopt reads them back
 * (this list is the comparator's own, not cryo's: an option cryo forgets is seen here), its filter and
 * its reuseport group's program; a
 * terminal's termios, locked termios, window size, line discipline, exclusive mode, packet mode,
 * lock, session and foreground group; a POSIX message queue's attributes.
 */
final class HeldFdState {
    private HeldFdState() {}

    private static final int F_GETOWN_EX_TYPES = 3, F_GETLEASE = 1025;

    /** An option getsockopt reads without side effects, its value's size and what it is called. */
    private record Opt(int level, int name, int size, String label) {}

    private static Opt opt(int level, int name, String label) {
        return new Opt(level, name, 4, label);
    }

    /**
     * Every socket's. Left out: counters and kernel-chosen values (SO_MEMINFO, SO_COOKIE…; SO_INCOMING_CPU but a
     * listener's, {@link #LISTENER}), SO_ERROR (reading clears it).
     */
    private static final List<Opt> SOCKET = List.of(
            opt(SOL_SOCKET, SO_DEBUG, "SO_DEBUG"), opt(SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"),
            opt(SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"), opt(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"),
            opt(SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"), opt(SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE"),
            opt(SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY"), new Opt(SOL_SOCKET, SO_LINGER, 8, "SO_LINGER"),
            opt(SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT"), new Opt(SOL_SOCKET, SO_RCVTIMEO, 16, "SO_RCVTIMEO"),
            new Opt(SOL_SOCKET, SO_SNDTIMEO, 16, "SO_SNDTIMEO"), opt(SOL_SOCKET, SO_MARK, "SO_MARK"),
            opt(SOL_SOCKET, SO_TIMESTAMP, "SO_TIMESTAMP"), opt(SOL_SOCKET, SO_TIMESTAMPNS, "SO_TIMESTAMPNS"),
            new Opt(SOL_SOCKET, SO_TIMESTAMPING, 8, "SO_TIMESTAMPING"),
            new Opt(SOL_SOCKET, SO_BINDTODEVICE, 16, "SO_BINDTODEVICE"), opt(SOL_SOCKET, SO_DONTROUTE, "SO_DONTROUTE"),
            opt(SOL_SOCKET, SO_NO_CHECK, "SO_NO_CHECK"), opt(SOL_SOCKET, SO_LOCK_FILTER, "SO_LOCK_FILTER"),
            opt(SOL_SOCKET, SO_RXQ_OVFL, "SO_RXQ_OVFL"), opt(SOL_SOCKET, SO_WIFI_STATUS, "SO_WIFI_STATUS"),
            opt(SOL_SOCKET, SO_NOFCS, "SO_NOFCS"), opt(SOL_SOCKET, SO_SELECT_ERR_QUEUE, "SO_SELECT_ERR_QUEUE"),
            opt(SOL_SOCKET, SO_BUSY_POLL, "SO_BUSY_POLL"), opt(SOL_SOCKET, SO_PREFER_BUSY_POLL, "SO_PREFER_BUSY_POLL"),
            opt(SOL_SOCKET, SO_BUSY_POLL_BUDGET, "SO_BUSY_POLL_BUDGET"),
            new Opt(SOL_SOCKET, SO_MAX_PACING_RATE, 8, "SO_MAX_PACING_RATE"), opt(SOL_SOCKET, SO_ZEROCOPY, "SO_ZEROCOPY"),
            opt(SOL_SOCKET, SO_TXREHASH, "SO_TXREHASH"), opt(SOL_SOCKET, SO_RCVMARK, "SO_RCVMARK"),
            opt(SOL_SOCKET, SO_PEEK_OFF, "SO_PEEK_OFF"), opt(SOL_SOCKET, SO_PASSCRED, "SO_PASSCRED"),
            opt(SOL_SOCKET, SO_PASSSEC, "SO_PASSSEC"), opt(SOL_SOCKET, SO_PASSPIDFD, "SO_PASSPIDFD"),
            opt(SOL_SOCKET, SO_RESERVE_MEM, "SO_RESERVE_MEM"), opt(SOL_SOCKET, SO_BUF_LOCK, "SO_BUF_LOCK"),
            opt(SOL_SOCKET, SO_RCVPRIORITY, "SO_RCVPRIORITY"), opt(SOL_SOCKET, SO_PASSRIGHTS, "SO_PASSRIGHTS"),
            new Opt(SOL_SOCKET, SO_TXTIME, 8, "SO_TXTIME"));
    /** Buffer sizes: a TCP connection's move (autotuning) unless the program fixed them (SO_BUF_LOCK). */
    private static final List<Opt> BUFFERS = List.of(opt(SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"),
            opt(SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"));
    private static final List<Opt> IP4 = List.of(
            opt(SOL_IP, IP_TOS, "IP_TOS"), opt(SOL_IP, IP_TTL, "IP_TTL"), opt(SOL_IP, IP_HDRINCL, "IP_HDRINCL"),
            new Opt(SOL_IP, IP_OPTIONS, 40, "IP_OPTIONS"), opt(SOL_IP, IP_RECVOPTS, "IP_RECVOPTS"),
            opt(SOL_IP, IP_RETOPTS, "IP_RETOPTS"), opt(SOL_IP, IP_PKTINFO, "IP_PKTINFO"),
            opt(SOL_IP, IP_MTU_DISCOVER, "IP_MTU_DISCOVER"), opt(SOL_IP, IP_RECVERR, "IP_RECVERR"),
            opt(SOL_IP, IP_RECVTTL, "IP_RECVTTL"), opt(SOL_IP, IP_RECVTOS, "IP_RECVTOS"),
            opt(SOL_IP, IP_FREEBIND, "IP_FREEBIND"), opt(SOL_IP, IP_PASSSEC, "IP_PASSSEC"),
            opt(SOL_IP, IP_TRANSPARENT, "IP_TRANSPARENT"), opt(SOL_IP, IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR"),
            opt(SOL_IP, IP_MINTTL, "IP_MINTTL"), opt(SOL_IP, IP_NODEFRAG, "IP_NODEFRAG"),
            opt(SOL_IP, IP_CHECKSUM, "IP_CHECKSUM"), opt(SOL_IP, IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT"),
            opt(SOL_IP, IP_RECVFRAGSIZE, "IP_RECVFRAGSIZE"), opt(SOL_IP, IP_RECVERR_RFC4884, "IP_RECVERR_RFC4884"),
            opt(SOL_IP, IP_UNICAST_IF, "IP_UNICAST_IF"), opt(SOL_IP, IP_LOCAL_PORT_RANGE, "IP_LOCAL_PORT_RANGE"));
    private static final List<Opt> MULTICAST4 = List.of(
            opt(SOL_IP, IP_MULTICAST_IF, "IP_MULTICAST_IF"), opt(SOL_IP, IP_MULTICAST_TTL, "IP_MULTICAST_TTL"),
            opt(SOL_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"), opt(SOL_IP, IP_MULTICAST_ALL, "IP_MULTICAST_ALL"));
    private static final List<Opt> IP6 = List.of(
            opt(SOL_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY"), opt(SOL_IPV6, IPV6_TCLASS, "IPV6_TCLASS"),
            opt(SOL_IPV6, IPV6_2292PKTINFO, "IPV6_2292PKTINFO"), opt(SOL_IPV6, IPV6_2292HOPOPTS, "IPV6_2292HOPOPTS"),
            opt(SOL_IPV6, IPV6_2292DSTOPTS, "IPV6_2292DSTOPTS"), opt(SOL_IPV6, IPV6_2292RTHDR, "IPV6_2292RTHDR"),
            opt(SOL_IPV6, IPV6_2292HOPLIMIT, "IPV6_2292HOPLIMIT"), opt(SOL_IPV6, IPV6_CHECKSUM, "IPV6_CHECKSUM"),
            opt(SOL_IPV6, IPV6_HDRINCL, "IPV6_HDRINCL"), opt(SOL_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"),
            opt(SOL_IPV6, IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER"), opt(SOL_IPV6, IPV6_RECVERR, "IPV6_RECVERR"),
            opt(SOL_IPV6, IPV6_RECVERR_RFC4884, "IPV6_RECVERR_RFC4884"),
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
            new Opt(SOL_IPV6, IPV6_HOPOPTS, IPV6_EXT_HEADER_MAX, "IPV6_HOPOPTS"),
            new Opt(SOL_IPV6, IPV6_RTHDRDSTOPTS, IPV6_EXT_HEADER_MAX, "IPV6_RTHDRDSTOPTS"),
            new Opt(SOL_IPV6, IPV6_RTHDR, IPV6_EXT_HEADER_MAX, "IPV6_RTHDR"),
            new Opt(SOL_IPV6, IPV6_DSTOPTS, IPV6_EXT_HEADER_MAX, "IPV6_DSTOPTS"));
    private static final List<Opt> MULTICAST6 = List.of(
            opt(SOL_IPV6, IPV6_MULTICAST_IF, "IPV6_MULTICAST_IF"), opt(SOL_IPV6, IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"),
            opt(SOL_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"), opt(SOL_IPV6, IPV6_MULTICAST_ALL, "IPV6_MULTICAST_ALL"));
    /** What a stream socket keeps of the multicast options (it refuses a TTL and an interface). */
    private static final List<Opt> STREAM_MULTICAST4 = List.of(
            opt(SOL_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"), opt(SOL_IP, IP_MULTICAST_ALL, "IP_MULTICAST_ALL"));
    private static final List<Opt> STREAM_MULTICAST6 = List.of(
            opt(SOL_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"), opt(SOL_IPV6, IPV6_MULTICAST_ALL, "IPV6_MULTICAST_ALL"));
    /** A netlink socket's flags, and every group it joined (a bitmap, 32 groups a word). */
    private static final List<Opt> NETLINK = List.of(
            opt(SOL_NETLINK, NETLINK_PKTINFO, "NETLINK_PKTINFO"), opt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, "NETLINK_BROADCAST_ERROR"),
            opt(SOL_NETLINK, NETLINK_NO_ENOBUFS, "NETLINK_NO_ENOBUFS"), opt(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, "NETLINK_LISTEN_ALL_NSID"),
            opt(SOL_NETLINK, NETLINK_CAP_ACK, "NETLINK_CAP_ACK"), opt(SOL_NETLINK, NETLINK_EXT_ACK, "NETLINK_EXT_ACK"),
            opt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, "NETLINK_GET_STRICT_CHK"),
            new Opt(SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 64, "NETLINK_LIST_MEMBERSHIPS"));
    /** A TCP socket's. Left out: TCP_SAVED_SYN and TCP_ZEROCOPY_RECEIVE (reading them takes), TCP_TIMESTAMP (a clock). */
    private static final List<Opt> TCP = List.of(
            opt(SOL_TCP, TCP_NODELAY, "TCP_NODELAY"), opt(SOL_TCP, TCP_CORK, "TCP_CORK"),
            opt(SOL_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"), opt(SOL_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"),
            opt(SOL_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"), opt(SOL_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"),
            opt(SOL_TCP, TCP_SYNCNT, "TCP_SYNCNT"), opt(SOL_TCP, TCP_LINGER2, "TCP_LINGER2"),
            opt(SOL_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT"), new Opt(SOL_TCP, TCP_CONGESTION, 16, "TCP_CONGESTION"),
            opt(SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, "TCP_THIN_LINEAR_TIMEOUTS"),
            opt(SOL_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT"), opt(SOL_TCP, TCP_TX_DELAY, "TCP_TX_DELAY"),
            opt(SOL_TCP, TCP_FASTOPEN_CONNECT, "TCP_FASTOPEN_CONNECT"),
            opt(SOL_TCP, TCP_FASTOPEN_NO_COOKIE, "TCP_FASTOPEN_NO_COOKIE"), opt(SOL_TCP, TCP_INQ, "TCP_INQ"),
            opt(SOL_TCP, TCP_SAVE_SYN, "TCP_SAVE_SYN"), new Opt(SOL_TCP, TCP_ULP, 16, "TCP_ULP"),
            opt(SOL_TCP, TCP_RTO_MAX_MS, "TCP_RTO_MAX_MS"), opt(SOL_TCP, TCP_RTO_MIN_US, "TCP_RTO_MIN_US"),
            opt(SOL_TCP, TCP_DELACK_MAX_US, "TCP_DELACK_MAX_US"));
    /** A socket that never connected: the MSS and window clamp the program asked for, its fast open queue. */
    private static final List<Opt> UNCONNECTED_TCP = List.of(opt(SOL_TCP, TCP_MAXSEG, "TCP_MAXSEG"),
            opt(SOL_TCP, TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP"), opt(SOL_TCP, TCP_FASTOPEN, "TCP_FASTOPEN"));
    /** A TCP listener's: the CPU whose connections its SO_REUSEPORT group gives it (a connection's is the kernel's). */
    private static final Opt LISTENER = opt(SOL_SOCKET, SO_INCOMING_CPU, "SO_INCOMING_CPU");
    /** A live connection's segment size: the path's MTU bounded by the peer's MSS and half the largest window it offered. */
    private static final Opt LIVE_MSS = opt(SOL_TCP, TCP_MAXSEG, "TCP_MAXSEG");
    /** tcp_info's states (linux/tcp.h's TCP_ESTABLISHED = 1 …). */
    private static final int TCP_FIN_WAIT1 = 4, TCP_FIN_WAIT2 = 5, TCP_CLOSE = 7, TCP_LAST_ACK = 9, TCP_LISTEN = 10;
    private static final List<Opt> UDP = List.of(
            opt(SOL_UDP, UDP_CORK, "UDP_CORK"), opt(SOL_UDP, UDP_ENCAP, "UDP_ENCAP"),
            opt(SOL_UDP, UDP_NO_CHECK6_TX, "UDP_NO_CHECK6_TX"), opt(SOL_UDP, UDP_NO_CHECK6_RX, "UDP_NO_CHECK6_RX"),
            opt(SOL_UDP, UDP_SEGMENT, "UDP_SEGMENT"), opt(SOL_UDP, UDP_GRO, "UDP_GRO"));

    /** Reads what the fd {@code fd} of task {@code dir} ({@code link}: its /proc link) holds, as items under {@code prefix}. */
    static void read(Path dir, Fd pidfd, int fd, String link, String prefix, BiConsumer<String, String> into) {
        Pid pid = Pid.of(Integer.parseInt(dir.getFileName().toString()));
        try (Fd f = Sys.pidfdGetfd(pidfd, pid, fd)) {
            int[] owner = Sys.getOwnerEx(f);
            if (owner[1] != 0) {
                into.accept(prefix + "owner", new String[] {"tid", "pid", "pgrp", "?"}[Math.min(owner[0], F_GETOWN_EX_TYPES)]
                        + " " + owner[1]);
            }
            int sig = fcntl(f, F_GETSIG);
            if (sig != 0) {
                into.accept(prefix + "F_GETSIG", Integer.toString(sig));
            }
            if (link.startsWith("/")) {
                int lease = fcntl(f, F_GETLEASE);
                if (lease >= 0 && lease != F_UNLCK) {
                    into.accept(prefix + "lease", lease == F_RDLCK ? "read" : "write");
                }
            }
            if (link.startsWith("pipe:")) {
                into.accept(prefix + "F_GETPIPE_SZ", Integer.toString(fcntl(f, F_GETPIPE_SZ)));
            } else if (link.startsWith("socket:")) {
                readSocket(f, pid, fd, prefix, into);
            } else if (link.equals("/dev/net/tun")) {
                // the eBPF programs of its device, which only a BPF iterator over the task's files sees
                var t = dev.cryo.kernel.net.TunPrograms.of(pid.value()).get(fd);
                into.accept(prefix + "tun eBPF programs", t == null ? "none"
                        : "steering id " + t.steeringId() + " filter id " + t.filterId());
            } else if (link.startsWith("/dev/pts/") || link.startsWith("/dev/tty") || link.equals("/dev/ptmx")
                    || link.equals("/dev/console")) {
                readTerminal(f, link.endsWith("ptmx"), prefix, into);
            } else if (link.startsWith("/memfd:") || link.endsWith("(deleted)")) {
                int seals = fcntl(f, F_GET_SEALS);
                into.accept(prefix + "F_GET_SEALS", Integer.toString(seals));
                readStat(Path.of("/proc/" + pid.value() + "/fd/" + fd), prefix, into);
            } else if (link.startsWith("/") && Files.isDirectory(Path.of("/dev/mqueue")) && isMqueue(f)) {
                var a = dev.cryo.kernel.MessageQueues.attr(f);
                into.accept(prefix + "mq_getattr", "maxmsg " + a.maxMsg() + " msgsize " + a.msgSize() + " curmsgs " + a.curMsgs());
            } else if (link.startsWith("/")) {
                // a file of a tmpfs the restore made again is a new file: its mode and owners must be the dumped one's
                readOwner(Path.of("/proc/" + pid.value() + "/fd/" + fd), prefix, into);
            }
        } catch (KernelException e) {
            into.accept(prefix + "held state (not comparable)", e.getMessage()); // the fd closed meanwhile
        }
    }

    private static boolean isMqueue(Fd f) {
        return Sys.fsMagic(f) == Sys.MQUEUE_MAGIC;
    }

    /** fcntl's answer, or -errno when this kind of file does not give it. */
    private static int fcntl(Fd f, int cmd) {
        long r = dev.cryo.kernel.LibC.syscall(SyscallNr.FCNTL, f.value(), cmd, 0, 0, 0, 0);
        return (int) r;
    }

    private static void readStat(Path fdLink, String prefix, BiConsumer<String, String> into) {
        try {
            Map<String, Object> a = Files.readAttributes(fdLink, "unix:mode,uid,gid,size");
            into.accept(prefix + "stat", "mode " + Integer.toOctalString((Integer) a.get("mode")) + " uid " + a.get("uid")
                    + " gid " + a.get("gid") + " size " + a.get("size"));
        } catch (java.io.IOException e) {
            into.accept(prefix + "stat (not comparable)", e.toString());
        }
    }

    private static void readOwner(Path fdLink, String prefix, BiConsumer<String, String> into) {
        try {
            Map<String, Object> a = Files.readAttributes(fdLink, "unix:mode,uid,gid");
            into.accept(prefix + "mode", Integer.toOctalString((Integer) a.get("mode")) + " uid " + a.get("uid") + " gid " + a.get("gid"));
        } catch (java.io.IOException e) {
            into.accept(prefix + "mode (not comparable)", e.toString());
        }
    }

    private static void readSocket(Fd s, Pid pid, int fd, String prefix, BiConsumer<String, String> into) {
        int family = Sockets.getInt(s, SOL_SOCKET, SO_DOMAIN);
        int type = Sockets.getInt(s, SOL_SOCKET, SO_TYPE);
        int protocol = Sockets.getInt(s, SOL_SOCKET, SO_PROTOCOL);
        boolean inet = family == SockAddr.AF_INET || family == SockAddr.AF_INET6;
        boolean tcp = inet && type == SOCK_STREAM;
        List<Opt> opts = new ArrayList<>(SOCKET);
        byte[] tcpInfo = tcp ? Sockets.getBytesOrNull(s, SOL_TCP, TCP_INFO, 8) : null;
        int state = tcpInfo == null ? -1 : tcpInfo[0];
        // a connection's (live, or closed after one: options were agreed) buffer sizes, MSS and window
        // clamp are the kernel's, tuned as the traffic went, unless the program fixed the sizes
        boolean connection = tcpInfo != null && state != TCP_LISTEN && (state != TCP_CLOSE || tcpInfo[5] != 0);
        if (!connection || Sockets.getInt(s, SOL_SOCKET, SO_BUF_LOCK) != 0) {
            opts.addAll(BUFFERS);
        } else {
            notComparable(BUFFERS, "the kernel's, tuned as the traffic went", prefix, into);
        }
        if (inet && !(family == SockAddr.AF_INET6 && type == SOCK_RAW)) {
            opts.addAll(IP4);
        }
        if (family == SockAddr.AF_INET6) {
            opts.addAll(IP6);
        }
        // multicast options of a stream socket: it refuses to set them, an accepted one has the kernel's copy of its SYN's
        if (inet && type != SOCK_STREAM) {
            opts.addAll(family == SockAddr.AF_INET6 ? MULTICAST6 : MULTICAST4);
            if (family == SockAddr.AF_INET6 && type != SOCK_RAW) {
                opts.addAll(MULTICAST4);
            }
        }
        if (inet && type == SOCK_STREAM) {
            opts.addAll(STREAM_MULTICAST4);
            if (family == SockAddr.AF_INET6) {
                opts.addAll(STREAM_MULTICAST6);
            }
        }
        if (family == SockAddr.AF_NETLINK) {
            opts.addAll(NETLINK);
        }
        if (tcp && protocol == IPPROTO_TCP) {
            opts.addAll(TCP);
            if (!connection) {
                opts.addAll(UNCONNECTED_TCP);
                if (state == TCP_LISTEN) {
                    opts.add(LISTENER);
                }
            } else {
                // a closed connection's come back on a socket that never had one; a live one's MSS is compared
                notComparable(UNCONNECTED_TCP.subList(1, UNCONNECTED_TCP.size()), "a connection's, the kernel's", prefix, into);
                if (state != TCP_CLOSE && state != TCP_LAST_ACK) { // LAST_ACK: closed but for the peer's ACK (tcp_info)
                    opts.add(LIVE_MSS);
                } else {
                    notComparable(List.of(LIVE_MSS), "the MSS a closed connection had", prefix, into);
                }
            }
        }
        if (inet && type == SOCK_DGRAM && (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE)) {
            opts.addAll(UDP);
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (Opt o : opts) {
            byte[] v = Sockets.getBytesOrNull(s, o.level(), o.name(), o.size());
            if (v != null) {
                values.put(o.label(), o.size() == 4 && v.length == 4
                        ? Integer.toString(java.nio.ByteBuffer.wrap(v).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt())
                        : o.size() == 16 && (o.name() == TCP_CONGESTION || o.name() == TCP_ULP || o.name() == SO_BINDTODEVICE)
                        ? new String(v, java.nio.charset.StandardCharsets.ISO_8859_1).replaceAll("\0.*", "")
                        : HexFormat.of().formatHex(v));
            }
        }
        values.forEach((k, v) -> into.accept(prefix + "sockopt " + k, v));
        byte[] filter = Sockets.filter(s);
        into.accept(prefix + "socket filter", filter == null ? "eBPF" : filter.length == 0 ? "none"
                : HexFormat.of().formatHex(filter));
        if (inet && (type == SOCK_STREAM || type == SOCK_DGRAM)) {
            // its SO_REUSEPORT group's program and its place in the group (which the kernel picks a member by),
            // which only a BPF iterator over the task's files sees
            var m = dev.cryo.kernel.net.ReuseportGroups.of(pid.value()).get(fd);
            var r = m == null ? null : m.program();
            into.accept(prefix + "reuseport program", r == null ? "none" : r.classic() == null ? "eBPF id " + r.id()
                    : "classic " + HexFormat.of().formatHex(r.classic()));
            // a group of one picks its only socket as no group does (a listener that set SO_REUSEPORT after
            // its listen is in none, and comes back in one of its own)
            into.accept(prefix + "reuseport index", m == null || m.members() < 2 ? "none" : m.index() + " of " + m.members());
        }
        if (inet) {
            // what no getsockopt reads (IP_ROUTER_ALERT, an IPsec policy of its own, IPv6 anycast and flow label
            // leases), which only a BPF iterator over the task's files sees
            var u = dev.cryo.kernel.net.UnreadableSockState.of(pid.value()).get(fd);
            into.accept(prefix + "state no getsockopt reads", u == null ? "none" : "flags " + u.flags()
                    + (type == SOCK_STREAM ? "" : " IPv4 multicast interface " + u.multicastIndex())
                    + (family != SockAddr.AF_INET6 || u.stickyPktinfo() == null ? ""
                    : " sticky IPV6_PKTINFO " + HexFormat.of().formatHex(u.stickyPktinfo())));
        }
        if (tcpInfo != null && tcpInfo.length >= 8) {
            // state, and a live connection's agreed options (timestamps, SACK, window scaling, ECN) and
            // window scales; our FIN sent, acknowledged or not yet (FIN_WAIT1, FIN_WAIT2): the peer's ack moves it on;
            // both FINs sent and ours acknowledged or not yet (LAST_ACK, CLOSE): the same
            boolean over = state == TCP_CLOSE || state == TCP_LAST_ACK;
            into.accept(prefix + "tcp_info", (state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 ? "FIN sent"
                    : over ? "state " + TCP_CLOSE : "state " + state)
                    + (over ? "" : " options " + tcpInfo[5] + " wscale " + (tcpInfo[6] & 0xff)));
        }
    }

    private static void notComparable(List<Opt> opts, String why, String prefix, BiConsumer<String, String> into) {
        for (Opt o : opts) {
            into.accept(prefix + "sockopt " + o.label() + " (not comparable)", why);
        }
    }

    private static void readTerminal(Fd t, boolean master, String prefix, BiConsumer<String, String> into) {
        Map<String, String> v = new LinkedHashMap<>();
        tryPut(v, "termios", () -> HexFormat.of().formatHex(Terminals.termios(t)));
        tryPut(v, "locked termios", () -> HexFormat.of().formatHex(Terminals.lockedTermios(t)));
        tryPut(v, "winsize", () -> HexFormat.of().formatHex(Terminals.winsize(t)));
        tryPut(v, "line discipline", () -> Integer.toString(Terminals.lineDiscipline(t)));
        tryPut(v, "exclusive", () -> Boolean.toString(Terminals.exclusive(t)));
        if (master) {
            tryPut(v, "packet mode", () -> Boolean.toString(Terminals.packetMode(t)));
            tryPut(v, "slave locked", () -> Boolean.toString(Terminals.locked(t)));
            tryPut(v, "foreground pgrp", () -> Integer.toString(Terminals.foreground(t)));
            tryPut(v, "session", () -> Integer.toString(Terminals.session(t)));
        }
        v.forEach((k, x) -> into.accept(prefix + "tty " + k, x));
    }

    private static void tryPut(Map<String, String> into, String key, java.util.function.Supplier<String> value) {
        try {
            into.put(key, value.get());
        } catch (KernelException e) {
            into.put(key, e.getMessage().replaceAll(".*: ", ""));
        }
    }
}
