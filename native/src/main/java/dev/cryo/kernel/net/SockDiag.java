package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.Sockets.NLMSG_DONE;
import static dev.cryo.kernel.net.Sockets.NLMSG_ERROR;
import static dev.cryo.kernel.net.Sockets.NLM_F_ACK;
import static dev.cryo.kernel.net.Sockets.NLM_F_DUMP;
import static dev.cryo.kernel.net.Sockets.NLM_F_REQUEST;

import com.sun.jna.Memory;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A NETLINK_SOCK_DIAG client: the kernel's own view of the unix and inet sockets of this network
 * namespace (peers, queues, pending connections, shutdown state), the way {@code ss} gets it.
 */
public final class SockDiag implements AutoCloseable {
    private static final int NETLINK_SOCK_DIAG = 4, SOCK_DIAG_BY_FAMILY = 20, SOCK_DESTROY = 21;
    private static final int UDIAG_SHOW_NAME = 1, UDIAG_SHOW_VFS = 2, UDIAG_SHOW_PEER = 4, UDIAG_SHOW_ICONS = 8,
            UDIAG_SHOW_RQLEN = 0x10;
    private static final int UNIX_DIAG_NAME = 0, UNIX_DIAG_VFS = 1, UNIX_DIAG_PEER = 2, UNIX_DIAG_ICONS = 3,
            UNIX_DIAG_RQLEN = 4, UNIX_DIAG_SHUTDOWN = 6;
    private static final int INET_DIAG_SHUTDOWN = 8;

    /** Unix socket states as diag reports them (the kernel's TCP_* numbers). */
    public static final int UNIX_ESTABLISHED = 1, UNIX_CLOSE = 7, UNIX_LISTEN = 10;

    /** TCP states. */
    public static final int TCP_ESTABLISHED = 1, TCP_SYN_SENT = 2, TCP_SYN_RECV = 3, TCP_FIN_WAIT1 = 4,
            TCP_FIN_WAIT2 = 5, TCP_TIME_WAIT = 6, TCP_CLOSE = 7, TCP_CLOSE_WAIT = 8, TCP_LAST_ACK = 9, TCP_LISTEN = 10,
            TCP_CLOSING = 11;

    private static final String[] TCP_STATE_NAMES = {"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
            "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"};

    public static String stateName(int state) {
        return state >= 0 && state < TCP_STATE_NAMES.length ? TCP_STATE_NAMES[state] : "state " + state;
    }

    /**
     * One unix socket. {@code rqueue} is the unread bytes (or, listening, the connections waiting to
     * be accepted), {@code wqueue} the bytes sent but not yet read by the peer (listening: the backlog).
     * {@code vfsIno}/{@code vfsDev} identify the socket file of a path-bound socket, 0 otherwise.
     */
    public record UnixSocket(long ino, int type, int state, byte[] name, long peerIno, long[] pendingConnections,
                             int rqueue, int wqueue, int shutdown, long vfsIno, long vfsDev) {
        public SockAddr address() {
            return SockAddr.unix(name);
        }
    }

    /** One TCP or UDP socket. */
    public record InetSocket(long ino, int family, int protocol, int state, SockAddr local, SockAddr remote,
                             int boundIf, int rqueue, int wqueue, int shutdown) {}

    private static final int PACKET_SHOW_INFO = 1, PACKET_SHOW_MCLIST = 2, PACKET_SHOW_RING_CFG = 4,
            PACKET_SHOW_FANOUT = 8;
    private static final int PACKET_DIAG_INFO = 0, PACKET_DIAG_MCLIST = 1, PACKET_DIAG_RX_RING = 2,
            PACKET_DIAG_TX_RING = 3, PACKET_DIAG_FANOUT = 4;
    /** packet_diag_info's flags. */
    public static final int PDI_RUNNING = 1, PDI_AUXDATA = 2, PDI_ORIGDEV = 4, PDI_VNETHDR = 8, PDI_LOSS = 0x10;

    /**
     * One AF_PACKET socket: {@code protocol} in host order, bound interface {@code ifindex} (0: any),
     * TPACKET {@code version} (0 = V1), {@code flags} PDI_*, memberships, rings (null: none), fanout
     * (-1: none; else id | type << 16 | flags << 24).
     */
    public record PacketSocket(long ino, int type, int protocol, int ifindex, int version, int reserve, int copyThresh,
                               int tstamp, int flags, List<PacketMembership> memberships, PacketRing rx, PacketRing tx,
                               int fanout) {}

    /** One PACKET_ADD_MEMBERSHIP, added {@code count} times. */
    public record PacketMembership(int ifindex, int count, int type, byte[] address) {}

    /** A ring's parameters (struct tpacket_req3 as packet_diag_ring gives them). */
    public record PacketRing(int blockSize, int blockNr, int frameSize, int frameNr, int retireTmo, int sizeofPriv,
                             int features) {
        public long bytes() {
            return (long) blockSize * blockNr;
        }
    }

    private final Fd nl;
    private int seq;

    private SockDiag(Fd nl) {
        this.nl = nl;
    }

    public static SockDiag open() {
        return new SockDiag(Sockets.socket(SockAddr.AF_NETLINK, Sockets.SOCK_RAW, NETLINK_SOCK_DIAG));
    }

    /** The inode of the network namespace this socket answers for: the one it was made in, whoever asks later. */
    public long netnsInode() {
        return Sockets.netnsInode(nl);
    }

    /** Every unix socket of this network namespace, by inode. */
    public Map<Long, UnixSocket> unixSockets() {
        ByteBuffer req = ByteBuffer.allocate(24).order(ByteOrder.nativeOrder());
        req.put((byte) SockAddr.AF_UNIX).put((byte) 0).putShort((short) 0).putInt(-1 /* all states */).putInt(0)
                .putInt(UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN)
                .putInt(-1).putInt(-1);
        Map<Long, UnixSocket> out = new HashMap<>();
        for (ByteBuffer m : dump(req.array(), "unix")) {
            int type = m.get(m.position() + 1) & 0xff;
            int state = m.get(m.position() + 2) & 0xff;
            long ino = m.getInt(m.position() + 4) & 0xffffffffL;
            byte[] name = new byte[0];
            long peer = 0, vIno = 0, vDev = 0;
            long[] icons = new long[0];
            int rq = 0, wq = 0, shut = 0;
            for (Attr a : attrs(m, 16)) {
                switch (a.type) {
                    case UNIX_DIAG_NAME -> name = pathUpToNul(a.bytes());
                    case UNIX_DIAG_VFS -> {
                        vIno = a.data.getInt(0) & 0xffffffffL;
                        vDev = a.data.getInt(4) & 0xffffffffL;
                    }
                    case UNIX_DIAG_PEER -> peer = a.data.getInt(0) & 0xffffffffL;
                    case UNIX_DIAG_ICONS -> {
                        icons = new long[a.data.remaining() / 4];
                        for (int i = 0; i < icons.length; i++) {
                            icons[i] = a.data.getInt(4 * i) & 0xffffffffL;
                        }
                    }
                    case UNIX_DIAG_RQLEN -> {
                        rq = a.data.getInt(0);
                        wq = a.data.getInt(4);
                    }
                    case UNIX_DIAG_SHUTDOWN -> shut = a.data.get(0) & 0xff;
                    default -> { }
                }
            }
            out.put(ino, new UnixSocket(ino, type, state, name, peer, icons, rq, wq, shut, vIno, vDev));
        }
        return out;
    }

    /** A path name may carry its terminating NUL (as bound); an abstract name keeps every byte. */
    private static byte[] pathUpToNul(byte[] name) {
        if (name.length == 0 || name[0] == 0) {
            return name;
        }
        int end = 0;
        while (end < name.length && name[end] != 0) {
            end++;
        }
        return Arrays.copyOf(name, end);
    }

    /** Every TCP or UDP socket of one family (AF_INET or AF_INET6) in this network namespace, by inode. */
    public Map<Long, InetSocket> inetSockets(int family, int protocol) {
        return inetSockets(family, protocol, -1 /* all states */);
    }

    /** {@link #inetSockets(int, int)} of the states in {@code states} only (a mask of 1 << state), chosen by the kernel. */
    public Map<Long, InetSocket> inetSockets(int family, int protocol, int states) {
        Map<Long, InetSocket> out = new HashMap<>();
        inetList(family, protocol, states).forEach(i -> out.put(i.ino(), i));
        return out;
    }

    /**
     * TCP sockets of one family in the states of {@code states} that no file holds (inode 0), which
     * {@link #inetSockets} would fold into one: TIME_WAIT and orphaned closing connections.
     */
    public List<InetSocket> ownerless(int family, int states) {
        return inetList(family, Sockets.IPPROTO_TCP, states).stream().filter(i -> i.ino() == 0).toList();
    }

    /**
     * Ends TCP socket {@code i} (SOCK_DESTROY, as {@code ss -K}): a TIME_WAIT entry goes at once, a
     * connection is aborted (reset). Needs CONFIG_INET_DIAG_DESTROY.
     */
    public void destroy(InetSocket i) {
        String what = "destroy " + i.local() + " -> " + i.remote() + " (" + stateName(i.state()) + ")";
        request(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, socketId(i), what);
    }

    /** struct inet_diag_req_v2 naming exactly socket {@code i} (any cookie). */
    private static byte[] socketId(InetSocket i) {
        ByteBuffer req = ByteBuffer.allocate(56).order(ByteOrder.nativeOrder());
        req.put((byte) i.family()).put((byte) i.protocol()).put((byte) 0).put((byte) 0).putInt(1 << i.state());
        ByteBuffer id = req.duplicate().order(ByteOrder.BIG_ENDIAN);
        id.putShort(8, (short) i.local().port()).putShort(10, (short) i.remote().port());
        id.put(12, i.local().address()).put(28, i.remote().address());
        req.putInt(44, i.boundIf()).putInt(48, -1).putInt(52, -1); // INET_DIAG_NOCOOKIE
        return req.array();
    }

    private List<InetSocket> inetList(int family, int protocol, int states) {
        ByteBuffer req = ByteBuffer.allocate(56).order(ByteOrder.nativeOrder());
        req.put((byte) family).put((byte) protocol).put((byte) 0).put((byte) 0).putInt(states);
        List<InetSocket> out = new ArrayList<>();
        String what = (family == SockAddr.AF_INET ? "inet" : "inet6") + (protocol == Sockets.IPPROTO_TCP ? " tcp" : " udp");
        for (ByteBuffer m : dump(req.array(), what)) {
            int p = m.position();
            int fam = m.get(p) & 0xff;
            int state = m.get(p + 1) & 0xff;
            ByteBuffer id = m.duplicate().order(ByteOrder.BIG_ENDIAN);
            int sport = id.getShort(p + 4) & 0xffff;
            int dport = id.getShort(p + 6) & 0xffff;
            int alen = fam == SockAddr.AF_INET ? 4 : 16;
            byte[] src = new byte[alen];
            byte[] dst = new byte[alen];
            id.get(p + 8, src);
            id.get(p + 24, dst);
            int ifIndex = m.getInt(p + 40);
            int rq = m.getInt(p + 56);
            int wq = m.getInt(p + 60);
            long ino = m.getInt(p + 68) & 0xffffffffL;
            int shut = 0;
            for (Attr a : attrs(m, 72)) {
                if (a.type == INET_DIAG_SHUTDOWN) {
                    shut = a.data.get(0) & 0xff;
                }
            }
            out.add(new InetSocket(ino, fam, protocol, state, new SockAddr(fam, src, sport),
                    new SockAddr(fam, dst, dport), ifIndex, rq, wq, shut));
        }
        return out;
    }

    /** inet_diag's attribute of a socket's TCP-MD5 keys (INET_DIAG_MD5SIG), and the request bit that brings it. */
    private static final int INET_DIAG_MD5SIG = 18, INET_DIAG_INFO_EXT = 1 << (2 - 1);
    /** struct tcp_diag_md5sig: family, prefix length, key length, address (16 bytes), key (80 bytes). */
    public static final int MD5SIG_ENTRY = 100;

    /**
     * The TCP-MD5 keys (RFC 2385: BGP sessions) of the TCP sockets of one family that have some, by
     * inode: each key a struct tcp_diag_md5sig. The kernel gives them to a CAP_NET_ADMIN requester
     * with the socket's info; no getsockopt reads them.
     */
    public Map<Long, List<byte[]>> tcpMd5Keys(int family) {
        ByteBuffer req = ByteBuffer.allocate(56).order(ByteOrder.nativeOrder());
        req.put((byte) family).put((byte) Sockets.IPPROTO_TCP).put((byte) INET_DIAG_INFO_EXT).put((byte) 0).putInt(-1);
        Map<Long, List<byte[]>> out = new HashMap<>();
        for (ByteBuffer m : dump(req.array(), (family == SockAddr.AF_INET ? "inet" : "inet6") + " tcp md5 keys")) {
            int p = m.position();
            long ino = m.getInt(p + 68) & 0xffffffffL;
            for (Attr a : attrs(m, 72)) {
                if (a.type == INET_DIAG_MD5SIG) {
                    byte[] all = a.bytes();
                    List<byte[]> keys = new ArrayList<>();
                    for (int at = 0; at + MD5SIG_ENTRY <= all.length; at += MD5SIG_ENTRY) {
                        keys.add(java.util.Arrays.copyOfRange(all, at, at + MD5SIG_ENTRY));
                    }
                    out.put(ino, keys);
                }
            }
        }
        return out;
    }

    /** Every packet socket of this network namespace, by inode. */
    public Map<Long, PacketSocket> packetSockets() {
        ByteBuffer req = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
        req.put((byte) SockAddr.AF_PACKET).put((byte) 0).putShort((short) 0).putInt(0)
                .putInt(PACKET_SHOW_INFO | PACKET_SHOW_MCLIST | PACKET_SHOW_RING_CFG | PACKET_SHOW_FANOUT).putInt(-1).putInt(-1);
        Map<Long, PacketSocket> out = new HashMap<>();
        for (ByteBuffer m : dump(req.array(), "packet")) {
            int p = m.position();
            int type = m.get(p + 1) & 0xff;
            int protocol = m.getShort(p + 2) & 0xffff; // ntohs(po->num): host order already
            long ino = m.getInt(p + 4) & 0xffffffffL;
            int ifindex = 0, version = 0, reserve = 0, copyThresh = 0, tstamp = 0, flags = 0, fanout = -1;
            List<PacketMembership> mc = new ArrayList<>();
            PacketRing rx = null, tx = null;
            for (Attr a : attrs(m, 16)) {
                ByteBuffer d = a.data;
                switch (a.type) {
                    case PACKET_DIAG_INFO -> {
                        ifindex = d.getInt(0);
                        version = d.getInt(4);
                        reserve = d.getInt(8);
                        copyThresh = d.getInt(12);
                        tstamp = d.getInt(16);
                        flags = d.getInt(20);
                    }
                    case PACKET_DIAG_MCLIST -> {
                        for (int off = 0; off + 44 <= d.limit(); off += 44) { // struct packet_diag_mclist
                            byte[] addr = new byte[Math.min(d.getShort(off + 10) & 0xffff, 32)];
                            d.get(off + 12, addr);
                            mc.add(new PacketMembership(d.getInt(off), d.getInt(off + 4), d.getShort(off + 8) & 0xffff, addr));
                        }
                    }
                    case PACKET_DIAG_RX_RING, PACKET_DIAG_TX_RING -> {
                        PacketRing r = new PacketRing(d.getInt(0), d.getInt(4), d.getInt(8), d.getInt(12), d.getInt(16),
                                d.getInt(20), d.getInt(24));
                        if (a.type == PACKET_DIAG_RX_RING) {
                            rx = r;
                        } else {
                            tx = r;
                        }
                    }
                    case PACKET_DIAG_FANOUT -> fanout = d.getInt(0);
                    default -> { }
                }
            }
            out.put(ino, new PacketSocket(ino, type, protocol, ifindex, version, reserve, copyThresh, tstamp, flags,
                    List.copyOf(mc), rx, tx, fanout));
        }
        return out;
    }

    record Attr(int type, ByteBuffer data) {
        byte[] bytes() {
            byte[] b = new byte[data.remaining()];
            data.duplicate().get(b);
            return b;
        }
    }

    /** The rtattrs that follow a fixed header of {@code headerLen} bytes in a message body. */
    static List<Attr> attrs(ByteBuffer body, int headerLen) {
        List<Attr> out = new ArrayList<>();
        int off = body.position() + headerLen;
        int end = body.limit();
        while (off + 4 <= end) {
            int len = body.getShort(off) & 0xffff;
            int type = body.getShort(off + 2) & 0xffff;
            if (len < 4 || off + len > end) {
                break;
            }
            ByteBuffer data = body.duplicate().order(ByteOrder.nativeOrder());
            data.position(off + 4).limit(off + len);
            out.add(new Attr(type & 0x3fff, data.slice().order(ByteOrder.nativeOrder())));
            off += (len + 3) & ~3;
        }
        return out;
    }

    /** Sends one dump request and gathers the bodies of every answer until NLMSG_DONE. */
    private List<ByteBuffer> dump(byte[] request, String what) {
        return request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, request, what);
    }

    /** Sends one request of {@code type} and gathers the bodies of every answer until NLMSG_DONE or an acknowledgement. */
    private List<ByteBuffer> request(int msgType, int flags, byte[] request, String what) {
        int s = ++seq;
        ByteBuffer msg = ByteBuffer.allocate(16 + request.length).order(ByteOrder.nativeOrder());
        msg.putInt(16 + request.length).putShort((short) msgType)
                .putShort((short) flags).putInt(s).putInt(0).put(request);
        Sockets.sendTo(nl, msg.array(), 0, SockAddr.netlink(0, 0));
        List<ByteBuffer> out = new ArrayList<>();
        Memory buf = new Memory(65536);
        for (int rounds = 0; rounds < 1_000_000; rounds++) {
            long n = Sys.call(() -> "recv(sock_diag " + what + ")", SyscallNr.RECVFROM, nl.value(), Sys.address(buf),
                    65536, 0, 0, 0);
            ByteBuffer b = ByteBuffer.wrap(buf.getByteArray(0, (int) n)).order(ByteOrder.nativeOrder());
            int off = 0;
            while (off + 16 <= n) {
                int len = b.getInt(off);
                int type = b.getShort(off + 4) & 0xffff;
                int mseq = b.getInt(off + 8);
                if (len < 16 || off + len > n) {
                    throw new KernelException("sock_diag " + what + ": malformed netlink message of " + len + " bytes");
                }
                if (mseq == s) {
                    if (type == NLMSG_DONE) {
                        return out;
                    }
                    if (type == NLMSG_ERROR) {
                        int err = -b.getInt(off + 16);
                        if (err == 0) {
                            return out;
                        }
                        throw new SyscallException("sock_diag(" + what + ")", err);
                    }
                    ByteBuffer body = ByteBuffer.wrap(Arrays.copyOfRange(b.array(), off + 16, off + len))
                            .order(ByteOrder.nativeOrder());
                    out.add(body);
                }
                off += (len + 3) & ~3;
            }
        }
        throw new KernelException("sock_diag " + what + ": the answer does not end");
    }

    /** Whether the kernel answers unix diag requests (CONFIG_UNIX_DIAG). */
    public static boolean available() {
        try (SockDiag d = open()) {
            d.unixSockets();
            return true;
        } catch (SyscallException e) {
            if (e.is(Errno.ENOENT) || e.is(Errno.EOPNOTSUPP) || e.errno() == 93) {
                return false;
            }
            throw e;
        }
    }

    @Override
    public void close() {
        nl.close();
    }
}
