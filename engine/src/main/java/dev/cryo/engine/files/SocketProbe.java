package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.ReuseportGroups;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.UnreadableSockState;

/**
 * A task's socket taken into cryo with pidfd_getfd: the very same socket, so cryo can read its
 * options and peek its queues while the task is frozen; closing cryo's copy changes nothing.
 */
final class SocketProbe implements AutoCloseable {
    final FdProbe fd;
    final Fd sock;
    final long ino;
    final int family, type, protocol;
    /** The classic program of this TCP or UDP socket's SO_REUSEPORT group (SO_ATTACH_REUSEPORT_CBPF), or null. */
    private byte[] reuseportFilter;
    /** This socket's index in its SO_REUSEPORT group (-1: in none). */
    private int reuseportIndex = -1;
    /** IP_ROUTER_ALERT on (a raw IPv4 socket's), which no getsockopt reads. */
    private boolean routerAlert;
    /** The interface a datagram or raw socket's IPv4 multicast goes out of, set by index (getsockopt gives only an address). */
    private int multicastIndex;
    /** A TCP socket's own fast open key (getsockopt reads the net namespace's the same when it has none). */
    private boolean ownFastopenKey;
    /** An IPv6 socket's sticky IPV6_PKTINFO (struct in6_pktinfo), or null. */
    private byte[] stickyPktinfo;

    private final SocketDumpState st;
    /** The socket's classic BPF filter ({@link Sockets#filter}), empty without one. */
    private byte[] filter;
    /** The inode of the socket's net namespace, read at the first question (-1: not yet). */
    private long netns = -1;

    private SocketProbe(FdProbe fd, Fd sock, SocketDumpState st) {
        this.fd = fd;
        this.sock = sock;
        this.st = st;
        this.ino = inode(fd.target());
        this.family = Sockets.getInt(sock, Sockets.SOL_SOCKET, Sockets.SO_DOMAIN);
        this.type = Sockets.getInt(sock, Sockets.SOL_SOCKET, Sockets.SO_TYPE);
        this.protocol = Sockets.getInt(sock, Sockets.SOL_SOCKET, Sockets.SO_PROTOCOL);
    }

    /** The protocol name sockfs gives the socket ("UNIX-STREAM", "TCPv6", "NETLINK", ...), "" for another file. */
    static String protoName(FdProbe fd) {
        return fd.sockProto();
    }

    /** {@link #protoName} of fd {@code fd} of {@code pid}, whose link reads {@code target}: its inode's attribute. */
    static String readProtoName(Pid pid, int fd, String target) {
        if (!target.startsWith("socket:[")) {
            return "";
        }
        try {
            String p = Sys.getxattr(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd, "system.sockprotoname");
            return p == null ? "" : p.trim();
        } catch (RuntimeException e) {
            return "";
        }
    }

    static long inode(String target) {
        return Long.parseLong(target.substring(8, target.length() - 1));
    }

    /** Takes the socket; refuses one that lives in a network namespace neither cryo's nor one of the tree's. */
    static SocketProbe take(FdProbe fd, SocketDumpState st) {
        Fd sock;
        try (Fd pidfd = Sys.pidfdOpen(fd.pid())) {
            sock = Sys.pidfdGetfd(pidfd, fd.pid(), fd.fd());
        }
        try {
            SocketProbe p = new SocketProbe(fd, sock, st);
            st.noteSignalOwner(fd, sock);
            if (st.netnsOf(p.ino) == 0 && !SocketDumpState.ourNetns(p.netns())) {
                throw new DumpException(fd.where() + ": socket " + p.ino + " is in another network namespace (neither"
                        + " the host's nor one a task of the tree made, or passed in a message from one); not supported");
            }
            p.filter = Sockets.filter(sock);
            if (p.filter == null) { // a classic filter travels with the options; this one cannot be read
                throw new DumpException(fd.where() + ": socket " + p.ino + " has an eBPF socket filter (SO_ATTACH_BPF),"
                        + " which cannot be read back; an eBPF socket filter is not supported");
            }
            reuseport(p, st);
            unreadable(p, st);
            return p;
        } catch (RuntimeException e) {
            sock.close();
            throw e;
        }
    }

    /**
     * The socket's place in its reuseport group and the group's classic program, which come back with
     * it; an eBPF program (its instructions are not kept as given) is refused, and so is a SO_REUSEPORT
     * socket when the BPF iterator that reads them cannot run here: what cannot be seen cannot be told absent.
     */
    private static void reuseport(SocketProbe p, SocketDumpState st) {
        if ((p.family != SockAddr.AF_INET && p.family != SockAddr.AF_INET6)
                || (p.type != Sockets.SOCK_STREAM && p.type != Sockets.SOCK_DGRAM)) {
            return;
        }
        ReuseportGroups.Member m;
        try {
            m = st.reuseportGroups(p.fd.pid()).get(p.fd.fd());
        } catch (RuntimeException e) {
            if (Sockets.getInt(p.sock, Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT) == 0) {
                return; // no group without it (and no program)
            }
            throw new DumpException(p.fd.where() + ": socket " + p.ino + " has SO_REUSEPORT and its group (its place in"
                    + " it, a BPF program: SO_ATTACH_REUSEPORT_CBPF/EBPF) cannot be read here: " + e.getMessage());
        }
        if (m == null) {
            return;
        }
        if (m.index() < 0 && m.members() > ReuseportGroups.MAX_MEMBERS) {
            throw new DumpException(p.fd.where() + ": socket " + p.ino + " is in a SO_REUSEPORT group of " + m.members()
                    + " sockets, past the first " + ReuseportGroups.MAX_MEMBERS + " cryo looks through for its place"
                    + " (which the kernel picks a member by); not supported");
        }
        if (m.index() >= 0) { // whether the tree holds every member is known once every task is collected
            Pid receiver = InFlightFiles.receiverOf(p.fd);
            st.noteReuseportMember(m, (receiver.equals(p.fd.pid()) ? p.fd.where() : "a socket in flight to pid " + receiver)
                    + ": socket " + p.ino);
        }
        p.reuseportIndex = m.index();
        if (m.program() == null) {
            return;
        }
        if (m.program().classic() == null) {
            throw new DumpException(p.fd.where() + ": socket " + p.ino + "'s SO_REUSEPORT group has an eBPF program"
                    + " (SO_ATTACH_REUSEPORT_EBPF, bpf program id " + m.program().id() + "), which cannot be read back; an eBPF"
                    + " reuseport program is not supported");
        }
        p.reuseportFilter = m.program().classic();
    }

    /**
     * What a program gave an IPv4 or IPv6 socket that no getsockopt reads back ({@link UnreadableSockState}):
     * IP_ROUTER_ALERT is carried with the options; an IPsec policy of the socket's own, an IPv6 anycast address
     * or flow label lease are refused, and so is SO_TIMESTAMPING's OPT_ID where its key would not come back
     * (a restore starts it anew: at 0 for datagrams, a TCP socket's at the bytes acknowledged). Where the
     * iterator cannot run, the sockets those could be told apart by are refused: a raw IPv4 one, one with OPT_ID on.
     * An error queue holding messages (transmit timestamps, zerocopy completions) is refused, and so is a
     * MSG_ZEROCOPY counter past 0.
     */
    private static void unreadable(SocketProbe p, SocketDumpState st) {
        if (p.family == SockAddr.AF_PACKET) { // transmit timestamps
            UnreadableSockState.Of u;
            try {
                u = st.unreadable(p.fd.pid()).get(p.fd.fd());
            } catch (RuntimeException cannotRun) {
                return;
            }
            if (u != null) {
                errorQueue(p, u, "packet socket " + p.ino);
            }
            return;
        }
        if (p.family != SockAddr.AF_INET && p.family != SockAddr.AF_INET6) {
            return;
        }
        String what = protoName(p.fd) + " socket " + p.ino;
        byte[] ts = Sockets.getBytesOrNull(p.sock, Sockets.SOL_SOCKET, Sockets.SO_TIMESTAMPING, 8);
        boolean optId = ts != null && (java.nio.ByteBuffer.wrap(ts).order(java.nio.ByteOrder.nativeOrder()).getInt()
                & Sockets.SOF_TIMESTAMPING_OPT_ID) != 0;
        if (optId && p.type == Sockets.SOCK_STREAM) {
            throw p.refuse(what + " has SO_TIMESTAMPING's OPT_ID on: its timestamps' keys count the bytes sent since it was"
                    + " set, a start a restore cannot set again; not supported");
        }
        UnreadableSockState.Of u;
        try {
            u = st.unreadable(p.fd.pid()).get(p.fd.fd());
        } catch (RuntimeException e) {
            if (optId || (p.family == SockAddr.AF_INET && p.type == Sockets.SOCK_RAW)) {
                throw p.refuse(what + (optId ? " has SO_TIMESTAMPING's OPT_ID on, whose key" : " is a raw socket, whose"
                        + " IP_ROUTER_ALERT") + " no getsockopt reads and the BPF iterator that reads it cannot run here ("
                        + e.getMessage() + "); not supported");
            }
            return;
        }
        if (u == null) {
            return;
        }
        if (u.has(UnreadableSockState.XFRM_POLICY)) {
            throw p.refuse(what + " has an IPsec policy of its own (IP_XFRM_POLICY: an IKE daemon's bypass, strongSwan's"
                    + " or libreswan's), which no getsockopt reads back; not supported");
        }
        if (u.has(UnreadableSockState.ANYCAST)) {
            throw p.refuse(what + " joined an IPv6 anycast address (IPV6_JOIN_ANYCAST), which no getsockopt reads back;"
                    + " not supported");
        }
        if (u.has(UnreadableSockState.FLOW_LABEL)) {
            throw p.refuse(what + " holds an IPv6 flow label lease (IPV6_FLOWLABEL_MGR), which no getsockopt reads back;"
                    + " not supported");
        }
        if (u.has(UnreadableSockState.ROUTER_ALERT_UNKNOWN) && p.family == SockAddr.AF_INET && p.type == Sockets.SOCK_RAW) {
            throw p.refuse(what + " is a raw socket in a net namespace where more sockets have IP_ROUTER_ALERT on than"
                    + " cryo looks through for it; not supported");
        }
        if (u.has(UnreadableSockState.SAVED_SYN) && p.type == Sockets.SOCK_STREAM && p.protocol == Sockets.IPPROTO_TCP) {
            throw p.refuse(what + " holds the SYN it was opened by (its listener's TCP_SAVE_SYN), which the program has"
                    + " not read yet (TCP_SAVED_SYN) and a restore cannot save again; not supported");
        }
        p.routerAlert = u.has(UnreadableSockState.ROUTER_ALERT);
        p.multicastIndex = p.type == Sockets.SOCK_STREAM ? 0 : u.multicastIndex();
        p.stickyPktinfo = p.family == SockAddr.AF_INET6 ? u.stickyPktinfo() : null;
        p.ownFastopenKey = p.type == Sockets.SOCK_STREAM && p.protocol == Sockets.IPPROTO_TCP
                && u.has(UnreadableSockState.OWN_FASTOPEN_KEY);
        if (optId && u.timestampKey() != 0) {
            throw p.refuse(what + " has SO_TIMESTAMPING's OPT_ID on and numbered " + Integer.toUnsignedString(u.timestampKey())
                    + " timestamped sends: the next one's key would be 0 after a restore, which cannot set it; not supported");
        }
        if (u.zerocopyKey() != 0 && Sockets.getInt(p.sock, Sockets.SOL_SOCKET, Sockets.SO_ZEROCOPY) != 0) {
            throw p.refuse(what + " has SO_ZEROCOPY on and numbered " + Integer.toUnsignedString(u.zerocopyKey())
                    + " MSG_ZEROCOPY sends, whose completions the program matches by number: the next one's would be 0"
                    + " after a restore, which cannot set it; not supported");
        }
        // a datagram socket's with an unread error is its handler's (IP_RECVERR queues ICMP errors there)
        if (u.errorQueue() > 0 && (p.type != Sockets.SOCK_DGRAM || p.unreadError(what) == 0)) {
            errorQueue(p, u, what);
        }
    }

    /** Refuses a socket whose error queue holds messages: they cannot be queued again (they came back lost). */
    private static void errorQueue(SocketProbe p, UnreadableSockState.Of u, String what) {
        if (u.errorQueue() > 0) {
            throw p.refuse(what + " holds " + u.errorQueue() + " message(s) in its error queue (transmit timestamps,"
                    + " MSG_ZEROCOPY completions or ICMP errors, read with MSG_ERRQUEUE) " + UnreadQueues.RETRIED
                    + "; they cannot be queued again; not supported");
        }
    }

    /**
     * The socket's options as {@link SocketOptions#dump} reads them, with its reuseport group's place and classic
     * program, IP_ROUTER_ALERT on, IP_MULTICAST_IF as a struct ip_mreqn naming the interface by index, a TCP
     * socket's own fast open key and an IPv6 socket's sticky IPV6_PKTINFO.
     */
    SocketOptions options(boolean unconnected) {
        SocketOptions o = SocketOptions.dump(sock, family, type, protocol, unconnected, filter,
                f -> st.hostGroups(sock, netns(), f)).atReuseportIndex(reuseportIndex);
        java.util.List<SocketOptions.Option> more = new java.util.ArrayList<>();
        if (multicastIndex != 0) {
            byte[] addr = Sockets.getBytesOrNull(sock, Sockets.SOL_IP, Sockets.IP_MULTICAST_IF, 4);
            java.nio.ByteBuffer mreqn = java.nio.ByteBuffer.allocate(12).order(java.nio.ByteOrder.nativeOrder());
            mreqn.position(4);
            mreqn.put(addr == null ? new byte[4] : addr).putInt(multicastIndex);
            o = o.filter(x -> x.level() != Sockets.SOL_IP || x.name() != Sockets.IP_MULTICAST_IF);
            more.add(new SocketOptions.Option(Sockets.SOL_IP, Sockets.IP_MULTICAST_IF, mreqn.array()));
        }
        if (stickyPktinfo != null) {
            more.add(new SocketOptions.Option(Sockets.SOL_IPV6, Sockets.IPV6_PKTINFO, stickyPktinfo));
        }
        if (ownFastopenKey) {
            more.add(new SocketOptions.Option(Sockets.SOL_TCP, Sockets.TCP_FASTOPEN_KEY,
                    Sockets.getBytes(sock, Sockets.SOL_TCP, Sockets.TCP_FASTOPEN_KEY, 32)));
        }
        if (reuseportFilter != null) {
            more.add(new SocketOptions.Option(Sockets.SOL_SOCKET, Sockets.SO_ATTACH_REUSEPORT_CBPF, reuseportFilter));
        }
        if (routerAlert) {
            more.add(new SocketOptions.Option(Sockets.SOL_IP, Sockets.IP_ROUTER_ALERT, new byte[] {1, 0, 0, 0}));
        }
        return more.isEmpty() ? o : o.with(more);
    }

    /**
     * Whether the socket holds an error the program has not read (its sk_err, or a queued ICMP error):
     * poll's POLLERR, which leaves it there; SO_ERROR and every receive (MSG_PEEK too) take it.
     */
    boolean errorPending() {
        return (dev.cryo.kernel.Terminals.poll(sock, 0) & dev.cryo.kernel.Terminals.POLLERR) != 0;
    }

    /**
     * The error the socket holds that the program has not read (sk_err), read without taking it
     * (SockFields): the tree, running on or resumed after cryo's death, still reads it. {@code what} names the socket.
     */
    int unreadError(String what) {
        try {
            return dev.cryo.kernel.net.SockFields.UNREAD_ERROR.of(sock);
        } catch (RuntimeException e) {
            throw refuse(what + " holds an error the program has not read yet, which cryo reads without taking it with"
                    + " a BPF iterator that cannot run here (" + e.getMessage() + "); not supported");
        }
    }

    /** The inode of the socket's net namespace ({@link Sockets#netnsInode}), read once. */
    private long netns() {
        if (netns < 0) {
            netns = Sockets.netnsInode(sock);
        }
        return netns;
    }

    DumpException refuse(String why) {
        return new DumpException(fd.where() + ": " + why);
    }

    @Override
    public void close() {
        sock.close();
    }
}
