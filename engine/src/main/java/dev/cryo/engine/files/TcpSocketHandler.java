package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.TcpMd5;
import dev.cryo.kernel.net.TcpRepair;

import java.util.List;
import java.util.Map;

/**
 * TCP sockets, IPv4 and IPv6: unconnected (bound or not), listening (address, backlog, options),
 * connecting (SYN_SENT: attempted again), and established or closing (FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING) connections through TCP repair (only with --tcp-established, like CRIU; the
 * network lock drops their packets while they have no socket). With --tcp-close a connection
 * comes back as a closed socket.
 */
public final class TcpSocketHandler implements SocketFdHandler<TcpSocketHandler.TcpSocket> {
    public static final int TAG = 41, RECORD_ID = 193;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TcpSocketHandler.class);
    private static final int MAX_QUEUE = 64 << 20;

    /**
     * One TCP socket. {@code connection} is the repaired state of an established connection (null
     * otherwise, or when {@code closed}: dumped with --tcp-close); {@code lockTable} the
     * nftables table holding it until the restore.
     */
    public record TcpSocket(long ino, int family, int state, SockAddr local, SockAddr remote, int backlog,
                            SocketOptions options, boolean primary, TcpRepair.Connection connection, boolean closed,
                            String lockTable, int error, boolean errorRead) implements FileDesc {
        /** {@code error}: the errno a reset left that the program has not read yet (0: none); codec v2. */
        public TcpSocket(long ino, int family, int state, SockAddr local, SockAddr remote, int backlog,
                         SocketOptions options, boolean primary, TcpRepair.Connection connection, boolean closed,
                         String lockTable) {
            this(ino, family, state, local, remote, backlog, options, primary, connection, closed, lockTable, 0);
        }

        public TcpSocket(long ino, int family, int state, SockAddr local, SockAddr remote, int backlog,
                         SocketOptions options, boolean primary, TcpRepair.Connection connection, boolean closed,
                         String lockTable, int error) {
            this(ino, family, state, local, remote, backlog, options, primary, connection, closed, lockTable, error, false);
        }
    }

    private static void writeConnection(com.esotericsoftware.kryo.io.Output out, TcpRepair.Connection c) {
        out.writeInt(c.sendSeq());
        out.writeInt(c.recvSeq());
        ModelFields.writeBytes(out, c.sendQueue(), MAX_QUEUE, "TcpSocket.sendQueue");
        out.writeVarInt(c.unsent(), true);
        ModelFields.writeBytes(out, c.recvQueue(), MAX_QUEUE, "TcpSocket.recvQueue");
        out.writeVarInt(c.mss(), true);
        out.writeInt(c.sndWscale());
        out.writeInt(c.rcvWscale());
        out.writeBoolean(c.sack());
        out.writeBoolean(c.timestamps());
        out.writeInt(c.tsval());
        ModelFields.writeBytes(out, c.window(), 20, "TcpSocket.window");
    }

    private static TcpRepair.Connection readConnection(com.esotericsoftware.kryo.io.Input in) {
        return new TcpRepair.Connection(in.readInt(), in.readInt(), ModelFields.readBytes(in, MAX_QUEUE, "TcpSocket.sendQueue"),
                in.readVarInt(true), ModelFields.readBytes(in, MAX_QUEUE, "TcpSocket.recvQueue"), in.readVarInt(true),
                in.readInt(), in.readInt(), in.readBoolean(), in.readBoolean(), in.readInt(),
                ModelFields.readBytes(in, 20, "TcpSocket.window"));
    }

    static final RecordCodec<TcpSocket> CODEC = RecordCodec.of(TcpSocket.class, RECORD_ID, 3, (out, t) -> {
        out.writeLong(t.ino());
        out.writeVarInt(t.family(), true);
        out.writeVarInt(t.state(), true);
        SockAddrFields.write(out, t.local());
        SockAddrFields.write(out, t.remote());
        out.writeVarInt(t.backlog(), true);
        RecordFields.writeRecord(out, SocketOptions.CODEC, t.options());
        out.writeBoolean(t.primary());
        RecordFields.writeNullable(out, t.connection(), TcpSocketHandler::writeConnection);
        out.writeBoolean(t.closed());
        ModelFields.writeText(out, t.lockTable(), 64, "TcpSocket.lockTable");
        out.writeVarInt(t.error(), true);
        out.writeBoolean(t.errorRead());
    }, (in, v) -> new TcpSocket(in.readLong(), in.readVarInt(true), in.readVarInt(true), SockAddrFields.read(in),
            SockAddrFields.read(in), in.readVarInt(true), RecordFields.readRecord(in, SocketOptions.CODEC), in.readBoolean(),
            RecordFields.readNullable(in, TcpSocketHandler::readConnection), in.readBoolean(),
            ModelFields.readText(in, 64, "TcpSocket.lockTable"), v >= 2 ? readError(in) : 0, v >= 3 && in.readBoolean()));

    private static int readError(com.esotericsoftware.kryo.io.Input in) {
        int e = in.readVarInt(true);
        if (e != 0 && e != dev.cryo.kernel.Errno.ECONNRESET && e != dev.cryo.kernel.Errno.EPIPE
                && e != dev.cryo.kernel.Errno.ECONNREFUSED && e != dev.cryo.kernel.Errno.ETIMEDOUT) {
            throw new com.esotericsoftware.kryo.KryoException("TcpSocket.error: " + e + " is not a reset's or a timeout's errno");
        }
        return e;
    }

    /**
     * A connection over on both sides (both FINs exchanged, or its last FIN acknowledged: the kernel
     * moved it to TIME_WAIT without this socket, which is closed and unhashed, so sock_diag does not
     * list it), or reset by its peer. What the program still sees: its local address, no peer
     * (ENOTCONN), the bytes it has not read, then the error a reset left if it has not read it yet,
     * then the end; writes fail with EPIPE. Carried as such (no flag needed: there is no peer any more).
     * Refused: one whose connection attempt failed (never connected), one the program peeks at an
     * offset (SO_PEEK_OFF), and one whose error may be a timeout's (see {@link #takeError}).
     */
    private static TcpSocket over(SocketProbe p, SockAddr local, boolean primary, SocketDumpState st) {
        String what = "TCP socket " + local + " (a connection closed on both sides)";
        boolean erred = p.errorPending();
        byte[] info = Sockets.getBytes(p.sock, Sockets.SOL_TCP, Sockets.TCP_INFO, TCPI_DELIVERED + 4);
        boolean neverConnected = neverConnected(p.sock);
        boolean timedOut = info[TCPI_RETRANSMITS] != 0 || info[TCPI_PROBES] != 0 || info[TCPI_BACKOFF] != 0;
        if (neverConnected && erred && !timedOut && primary) {
            return refusedAttempt(p, local);
        } else if (neverConnected && erred && timedOut) {
            throw p.refuse("TCP socket " + local + ": its connection attempt failed (it was never connected) by a"
                    + " timeout, and the program has not read its error yet; not supported");
        } else if (neverConnected && !erred && primary) {
            // failed, its error read since, the socket kept (a collector of netdata's between two attempts): as a
            // refused attempt whose error the restore reads
            return new TcpSocket(p.ino, p.family, SockDiag.TCP_CLOSE, local, local, 0, p.options(false), true, null, false,
                    "", dev.cryo.kernel.Errno.ECONNREFUSED, true);
        } else if (neverConnected) {
            return new TcpSocket(p.ino, p.family, SockDiag.TCP_CLOSE, local, local, 0,
                    p.options(false), false, null, false, "");
        }
        byte[] unread = new byte[0];
        if (primary) {
            int n = Sockets.ioctlInt(p.sock, Sockets.SIOCINQ, "SIOCINQ");
            if (n > MAX_QUEUE) {
                throw p.refuse(what + " holds " + n + " unread bytes (at most " + MAX_QUEUE + ")");
            }
            if (n > 0) {
                if (Sockets.getInt(p.sock, Sockets.SOL_SOCKET, Sockets.SO_PEEK_OFF) >= 0) {
                    throw p.refuse(what + " is peeked at an offset (SO_PEEK_OFF); not supported");
                }
                unread = Sockets.recv(p.sock, n, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
                if (unread == null || unread.length != n) {
                    throw p.refuse(what + ": could read " + (unread == null ? 0 : unread.length) + " of its " + n
                            + " unread bytes");
                }
            }
        }
        // the sequence numbers of a connection over do not matter: nothing will be sent or received on it
        TcpRepair.Connection c = new TcpRepair.Connection(1, 1 + unread.length, new byte[0], 0, unread, 1460, -1, 0,
                false, false, 0, new byte[0]);
        SockAddr peer = Sockets.keptPeerName(p.sock, p.family); // SO_PEERNAME still names it (zdtm socket-tcp-closed)
        TcpSocket t = new TcpSocket(p.ino, p.family, SockDiag.TCP_CLOSE, local, peer != null ? peer : new SockAddr(p.family,
                new byte[p.family == SockAddr.AF_INET ? 4 : 16], 0), 0,
                p.options(false), primary, c, false, "");
        return erred && primary ? takeError(p, t, what) : t;
    }

    /**
     * Whether closed socket {@code s} never had a connection: it delivered nothing and never received a SYN
     * (one a restore rebuilt delivered nothing either, but its receive sequence is set).
     */
    private static boolean neverConnected(Fd s) {
        byte[] info = Sockets.getBytes(s, Sockets.SOL_TCP, Sockets.TCP_INFO, TCPI_DELIVERED + 4);
        return delivered(info) == 0 && TcpRepair.receiveSeq(s) == 0;
    }

    /**
     * The error a reset left (ECONNRESET, EPIPE when the peer's FIN came first) that the program has
     * not read, or a timeout's ETIMEDOUT (retransmissions or keepalive probes unanswered): read without
     * taking it ({@link SocketProbe#unreadError}), so the socket of a tree that runs on keeps it; the
     * restore makes it again ({@link #closeAgain}, {@link #timeOutAgain}). Other errors (ICMP's, ss -K's
     * ECONNABORTED) cannot be made again: refused, saying so.
     */
    private static TcpSocket takeError(SocketProbe p, TcpSocket t, String what) {
        int error = p.unreadError(what);
        if (error != dev.cryo.kernel.Errno.ECONNRESET && error != dev.cryo.kernel.Errno.EPIPE
                && error != dev.cryo.kernel.Errno.ETIMEDOUT) {
            throw p.refuse(what + " failed with " + dev.cryo.kernel.Errno.describe(error) + ", which the program has"
                    + " not read yet; cryo can only make a reset's or a timeout's error again; not supported");
        }
        return new TcpSocket(t.ino(), t.family(), t.state(), t.local(), t.remote(), 0, t.options(), true,
                t.connection(), false, "", error);
    }

    /**
     * A connection attempt refused (its peer's reset: ECONNREFUSED) whose error the program has not
     * read yet: a non-blocking connect() it has not polled since. Read without taking it ({@link #takeError});
     * made again by attempting it from the same port to a loopback socket of cryo's that is bound and
     * does not listen, which refuses it ({@link #refusedAgain}).
     */
    private static TcpSocket refusedAttempt(SocketProbe p, SockAddr local) {
        int error = p.unreadError("TCP socket " + local);
        if (error != dev.cryo.kernel.Errno.ECONNREFUSED) {
            throw p.refuse("TCP socket " + local + ": its connection attempt failed with "
                    + dev.cryo.kernel.Errno.describe(error) + ", which the program has not read yet; cryo can only make"
                    + " a refusal's error again; not supported");
        }
        return new TcpSocket(p.ino, p.family, SockDiag.TCP_CLOSE, local, local, 0, p.options(false), true, null, false, "",
                dev.cryo.kernel.Errno.ECONNREFUSED);
    }

    /** {@link #refusedAttempt} made again on {@code s} (unconnected), its O_NONBLOCK as it was. */
    private static void refusedAgain(TcpSocket t, Fd s) {
        try (Fd refuser = Sockets.socket(t.family(), Sockets.SOCK_STREAM, 0)) {
            Sockets.bind(refuser, new SockAddr(t.family(), loopbackFor(t), 0));
            boolean reuseAddr = TcpRepair.enter(s); // its port, free or not, as repair mode binds
            Sockets.bind(s, t.local());
            TcpRepair.leaveQuietly(s, reuseAddr);
            long flags = dev.cryo.kernel.Sys.call(() -> "fcntl(" + s + ", F_GETFL)", dev.cryo.kernel.SyscallNr.FCNTL,
                    s.value(), dev.cryo.kernel.Fcntl.F_GETFL, 0, 0);
            dev.cryo.kernel.Sys.call(() -> "fcntl(" + s + ", F_SETFL)", dev.cryo.kernel.SyscallNr.FCNTL, s.value(),
                    dev.cryo.kernel.Fcntl.F_SETFL, flags | dev.cryo.kernel.Fcntl.O_NONBLOCK, 0);
            try {
                Sockets.connect(s, Sockets.sockName(refuser));
            } catch (dev.cryo.kernel.SyscallException e) {
                if (!e.is(dev.cryo.kernel.Errno.EINPROGRESS)) {
                    throw e;
                }
            } finally {
                dev.cryo.kernel.Sys.call(() -> "fcntl(" + s + ", F_SETFL)", dev.cryo.kernel.SyscallNr.FCNTL, s.value(),
                        dev.cryo.kernel.Fcntl.F_SETFL, flags, 0);
            }
            awaitState(t, s, SockDiag.TCP_CLOSE, "the refusal of its connection attempt");
        }
    }

    private static final int TCPI_RETRANSMITS = 2, TCPI_PROBES = 3, TCPI_BACKOFF = 4, TCPI_UNACKED = 24;
    static final int TCPI_DELIVERED = 192;

    /** TCP_INFO's count of segments delivered ({@code info} read with TCPI_DELIVERED + 4 bytes): 0 for a socket never connected. */
    static int delivered(byte[] info) {
        return info.length < TCPI_DELIVERED + 4 ? 0
                : java.nio.ByteBuffer.wrap(info).order(java.nio.ByteOrder.nativeOrder()).getInt(TCPI_DELIVERED);
    }

    /**
     * A connection attempt in flight (connect() sent its SYN, no answer yet: a peer slow or not
     * answering). Held by the network lock like a connection, so no answer completes it while the
     * dump runs, it comes back attempting again from the same port with the same initial sequence
     * number ({@link TcpRepair#reconnect}); a program blocked in connect() goes on waiting, one
     * polling for POLLOUT goes on polling. If the answer came before the lock, it is a connection. In a net
     * namespace of the tree's, only to a listener the tree holds there (whose full accept queue drops the
     * SYNs; zdtm's socket-tcp-syn-sent drops them with iptables): made again with the namespace, it answers.
     */
    private static TcpSocket connecting(SocketProbe p, SockDiag.InetSocket d, SocketDumpState st, boolean primary,
                                        String what) {
        if (!st.options().tcpEstablished()) {
            throw p.refuse("connecting (SYN_SENT) " + what + ": dumping a TCP connection attempt in flight needs"
                    + " --tcp-established (its packets are held until the restore, where it is attempted again)");
        }
        if (st.netnsOf(p.ino) != 0 && !st.listenerInTree(p.ino, d)) {
            throw p.refuse("connecting (SYN_SENT) " + what + " lives in the net namespace pid " + st.netnsOf(p.ino)
                    + " made, and no listener of the tree's there listens on " + d.remote() + ": "
                    + st.peerStaysBehind(st.netnsOf(p.ino)) + "; not supported");
        }
        st.checkMovable(p.ino, d, p::refuse, "connecting (SYN_SENT) " + what);
        SocketOptions opts = p.options(false);
        if (java.nio.ByteBuffer.wrap(Sockets.getBytes(p.sock, Sockets.SOL_TCP, Sockets.TCP_INFO, TCPI_UNACKED + 4))
                .order(java.nio.ByteOrder.nativeOrder()).getInt(TCPI_UNACKED) == 0) {
            throw p.refuse("connecting (SYN_SENT) " + what + " has not sent its SYN (TCP Fast Open's deferred connect,"
                    + " TCP_FASTOPEN_CONNECT, waiting for the first write); not supported");
        }
        TcpRepair.Connection c = null;
        int state = d.state();
        if (primary) {
            c = st.repair(p.ino, p.sock, d.local(), d.remote(), SockDiag.TCP_SYN_SENT);
            state = tcpState(p.sock);
            if (state == SockDiag.TCP_SYN_SENT && c.sendQueue().length > 0) {
                throw p.refuse("connecting (SYN_SENT) " + what + " has " + c.sendQueue().length + " bytes queued with"
                        + " its SYN (TCP Fast Open), which an attempt made again would not carry; not supported");
            }
        }
        return new TcpSocket(p.ino, p.family, state, d.local(), d.remote(), 0, opts, primary, c, false, st.lockTable(p.ino));
    }

    /** The upper-layer protocol attached to a connection with TCP_ULP ("tls", "espintcp"), or "" for none. */
    private static String upperLayer(Fd s) {
        byte[] name = Sockets.getBytesOrNull(s, Sockets.SOL_TCP, Sockets.TCP_ULP, 16);
        if (name == null) {
            return "";
        }
        int n = 0;
        while (n < name.length && name[n] != 0) {
            n++;
        }
        return new String(name, 0, n, java.nio.charset.StandardCharsets.US_ASCII);
    }

    static int tcpState(Fd s) {
        return Sockets.getBytes(s, Sockets.SOL_TCP, Sockets.TCP_INFO, 8)[0] & 0xff;
    }

    @Override
    public String kind() {
        return "TCP socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<TcpSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        String p = SocketProbe.protoName(fd);
        return p.equals("TCP") || p.equals("TCPv6");
    }

    @Override
    public TcpSocket dump(FdProbe fd, DumpContext ctx) {
        TcpSocket t = dumpSocket(fd, ctx);
        List<byte[]> keys = ctx.sockets().tcpMd5Keys(t.family()).get(t.ino());
        if (keys == null) {
            return t;
        }
        // TCP-MD5 keys (a BGP daemon's): set again with the options, before bind, listen or the repair's connect
        SocketOptions o = t.options().with(keys.stream().map(k -> new SocketOptions.Option(Sockets.SOL_TCP,
                TcpMd5.TCP_MD5SIG_EXT, TcpMd5.setsockoptValue(k, t.family()))).toList());
        return new TcpSocket(t.ino(), t.family(), t.state(), t.local(), t.remote(), t.backlog(), o, t.primary(),
                t.connection(), t.closed(), t.lockTable(), t.error(), t.errorRead());
    }

    private TcpSocket dumpSocket(FdProbe fd, DumpContext ctx) {
        SocketDumpState st = ctx.sockets();
        SocketProbe p = SocketProbe.take(fd, ctx.sockets());
        boolean keep = false;
        try {
            SockDiag.InetSocket d = st.inet(p.family, Sockets.IPPROTO_TCP).get(p.ino);
            if (d == null) {
                // sock_diag lists hashed sockets only: one never bound nor connected is a fresh socket
                SockAddr local = Sockets.sockName(p.sock);
                if (local.port() == 0 && Sockets.peerName(p.sock) == null) {
                    return new TcpSocket(p.ino, p.family, SockDiag.TCP_CLOSE, local, local, 0,
                            p.options(true), st.claim(p.ino), null, false, "");
                }
                SockAddr peer = Sockets.peerName(p.sock);
                if (peer == null && local.port() != 0 && tcpState(p.sock) == SockDiag.TCP_CLOSE) {
                    return over(p, local, st.claim(p.ino), st);
                }
                throw p.refuse("TCP socket " + p.ino + " (" + local + (peer == null ? "" : " -> " + peer) + ") is not"
                        + " listed by sock_diag under its inode (a connection shut down on both sides, closing or in"
                        + " TIME_WAIT); not supported");
            }
            String what = "TCP socket " + d.local() + (d.state() == SockDiag.TCP_LISTEN ? " (listening)"
                    : d.state() == SockDiag.TCP_CLOSE ? "" : " -> " + d.remote());
            boolean primary = st.claim(p.ino);
            switch (d.state()) {
                case SockDiag.TCP_LISTEN -> {
                    checkAcceptQueue(p, d, st, what);
                    return new TcpSocket(p.ino, p.family, d.state(), d.local(), d.remote(), d.wqueue(),
                            p.options(true), primary, null, false,
                            st.portLock(p.ino));
                }
                case SockDiag.TCP_CLOSE -> {
                    if (d.remote().port() != 0 && (p.errorPending() || !neverConnected(p.sock))) {
                        // a connection over that a restore made (bound in repair mode, it keeps its port and is
                        // listed), or a bound socket's attempt refused, its error unread; read, it is a bound socket
                        return over(p, d.local(), primary, st);
                    }
                    return new TcpSocket(p.ino, p.family, d.state(), d.local(), d.remote(), 0,
                            p.options(true), primary, null, false, "");
                }
                case SockDiag.TCP_ESTABLISHED, SockDiag.TCP_FIN_WAIT1, SockDiag.TCP_FIN_WAIT2, SockDiag.TCP_CLOSE_WAIT,
                        SockDiag.TCP_LAST_ACK, SockDiag.TCP_CLOSING -> {
                    String ulp = upperLayer(p.sock);
                    if (!ulp.isEmpty()) {
                        throw p.refuse(what + " runs the upper-layer protocol '" + ulp + "' (TCP_ULP"
                                + (ulp.equals("tls") ? ": kernel TLS, whose keys and record state the kernel does not"
                                + " give back" : "") + "); repaired without it, its bytes would go out unencrypted"
                                + " or unframed; not supported");
                    }
                    if (st.netnsOf(p.ino) != 0 && !st.peerInTree(p.ino, d)) {
                        if (st.options().tcpSkipInFlight() && st.peerNotAccepted(p.ino, d)) {
                            log.warn("{}: its peer waits in the accept queue of a listener of the tree's and is left out"
                                    + " (--tcp-skip-in-flight): the restored listener resets it", what);
                        } else if (!st.peerOutside(p.ino, d) && !st.heldInBound(p.ino)) {
                            if (d.state() == SockDiag.TCP_LAST_ACK && st.peerInTimeWait(p.ino, d)) {
                                // the peer had all of it, its FIN too: restored as the peer's last ACK leaves it
                                return over(p, d.local(), primary, st);
                            }
                            if (!st.peerNowhere(p.ino, d)) {
                                throw p.refuse(what + " lives in the net namespace pid " + st.netnsOf(p.ino) + " made, and"
                                        + " its peer is a socket of that namespace no task of the tree holds: "
                                        + st.peerStaysBehind(st.netnsOf(p.ino)) + "; not supported");
                            }
                            log.debug("{}: no socket of its net namespace is its peer (one an earlier dump left out,"
                                    + " or gone with its reset lost): carried peerless, as it is", what);
                        } else if (!st.options().tcpEstablished()) {
                            throw p.refuse(what + " lives in the net namespace pid " + st.netnsOf(p.ino) + " made, and"
                                    + " its peer is outside it (through its veth): carrying it needs --tcp-established");
                        }
                    }
                    SocketOptions opts = p.options(false);
                    boolean shut = d.state() != SockDiag.TCP_ESTABLISHED; // a FIN sent or received
                    if (st.options().tcpClose() && !st.options().tcpEstablished()) {
                        if (primary) {
                            st.closeAtKill(p.sock);
                            keep = true;
                        }
                        return new TcpSocket(p.ino, p.family, d.state(), d.local(), d.remote(), 0, opts, primary, null,
                                true, "");
                    }
                    if (!st.options().tcpEstablished()) {
                        throw p.refuse((shut ? SockDiag.stateName(d.state()) : "established") + " " + what
                                + ": dumping an established TCP connection needs"
                                + " --tcp-established (or --tcp-close to restore it closed)");
                    }
                    st.checkMovable(p.ino, d, p::refuse, what);
                    TcpRepair.Connection c = null;
                    if (primary) {
                        c = st.repair(p.ino, p.sock, d.local(), d.remote(), d.state());
                        keep = true; // held in repair mode until the dump ends
                    }
                    return new TcpSocket(p.ino, p.family, d.state(), d.local(), d.remote(), 0, opts, primary, c, false,
                            st.lockTable(p.ino));
                }
                case SockDiag.TCP_SYN_SENT -> {
                    try {
                        TcpSocket t = connecting(p, d, st, primary, what);
                        keep = primary; // held in repair mode until the dump ends
                        return t;
                    } catch (RuntimeException refused) {
                        keep = st.inRepair(p.sock); // the failed dump's abandon takes it out of repair mode
                        throw refused;
                    }
                }
                default -> throw p.refuse(what + " is in state " + SockDiag.stateName(d.state())
                        + ", which is not supported (only listening, unconnected, connecting (SYN_SENT), established"
                        + " and the closing states FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING)");
            }
        } finally {
            if (!keep) {
                p.close();
            }
        }
    }

    /**
     * A listener's connections not accepted yet (queued, or in their handshake) have no socket of the
     * program's: refused, or left out with --tcp-skip-in-flight (their clients get a reset).
     */
    static void checkAcceptQueue(SocketProbe p, SockDiag.InetSocket d, SocketDumpState st, String what) {
        int halfOpen = st.halfOpen(d);
        if ((d.rqueue() > 0 || halfOpen > 0) && st.options().tcpSkipInFlight()) {
            // CRIU's --tcp-skip-in-flight: no socket of the program's holds them; gone with the listener
            log.warn("{}: {}: {} connection(s) not accepted yet are left out (--tcp-skip-in-flight): "
                    + "their clients get a reset if the tree is killed", p.fd.where(), what, d.rqueue() + halfOpen);
        } else if (d.rqueue() > 0) {
            throw p.refuse(what + ": " + d.rqueue() + " connection(s) wait to be accepted (the program did"
                    + " not accept them within cryo.dump.accept-wait); not supported without"
                    + " --tcp-skip-in-flight (which leaves them out: their clients get a reset)");
        } else if (halfOpen > 0) {
            throw p.refuse(what + ": " + halfOpen + " connection(s) have not completed their handshake"
                    + " within cryo.dump.accept-wait (the client's last ACK not in, or TCP_DEFER_ACCEPT"
                    + " waiting for its first bytes): no socket holds them yet; not supported without"
                    + " --tcp-skip-in-flight (which leaves them out: their clients get a reset)");
        }
    }

    @Override
    public void show(TcpSocket t, Map<String, Object> m) {
        m.put("kind", "TCP socket");
        m.put("inode", t.ino());
        m.put("state", SockDiag.stateName(t.state()));
        m.put("local", t.local().toString());
        if (t.state() == SockDiag.TCP_LISTEN) {
            m.put("backlog", t.backlog());
            if (!t.lockTable().isEmpty()) { // new connections held back until the restore
                m.put("networkLock", t.lockTable());
            }
        } else if (t.state() != SockDiag.TCP_CLOSE) {
            m.put("remote", t.remote().toString());
        }
        if (t.connection() != null && t.state() == SockDiag.TCP_CLOSE) { // over on both sides
            m.put("connectionOver", true);
            if (t.remote().port() != 0) {
                m.put("remote", t.remote().toString());
            }
            m.put("recvQueueBytes", t.connection().recvQueue().length);
        } else if (t.connection() != null && t.state() == SockDiag.TCP_SYN_SENT) { // attempted again at the restore
            m.put("synSeq", Integer.toUnsignedLong(t.connection().sendSeq() - 1));
            m.put("networkLock", t.lockTable());
        } else if (t.connection() != null) {
            TcpRepair.Connection c = t.connection();
            m.put("sendSeq", Integer.toUnsignedLong(c.sendSeq()));
            m.put("recvSeq", Integer.toUnsignedLong(c.recvSeq()));
            m.put("sendQueueBytes", c.sendQueue().length);
            m.put("unsentBytes", c.unsent());
            m.put("recvQueueBytes", c.recvQueue().length);
            m.put("mss", c.mss());
            m.put("windowScale", c.sndWscale() + "/" + c.rcvWscale());
            m.put("sack", c.sack());
            m.put("timestamps", c.timestamps());
            m.put("networkLock", t.lockTable());
        }
        if (t.closed()) {
            m.put("closed", true);
        }
        if (t.errorRead()) { // a failed attempt whose error the program read
            m.put("attemptFailed", true);
        } else if (t.error() != 0) { // left by a reset, not read yet
            m.put("errorUnread", dev.cryo.kernel.Errno.name(t.error()));
        }
        m.put("options", t.options().show());
    }

    // ---- restore half ---------------------------------------------------------------------------

    @Override
    public Class<TcpSocket> type() {
        return TcpSocket.class;
    }

    @Override
    public long ino(TcpSocket t) {
        return t.ino();
    }

    @Override
    public boolean primary(TcpSocket t) {
        return t.primary();
    }

    @Override
    public int reuseportIndex(TcpSocket t) {
        return t.options().reuseportIndex();
    }

    /** Listeners and unconnected sockets first, so their ports are taken before connections are repaired. */
    @Override
    public void create(TcpSocket t, SocketHub hub) {
        SocketOptions now = t.connection() == null ? t.options() : t.options().filter(o -> !SocketOptions.onceConnected(o)
                // a connection made live again gets its SO_REUSEADDR as it leaves repair mode, whose end clears it
                && !(rebuiltLive(t, hub) && o.level() == Sockets.SOL_SOCKET && o.name() == Sockets.SO_REUSEADDR));
        Fd s = newSocket(t.ino(), t.family(), 0, now, t.lockTable(), hub);
        if (t.state() == SockDiag.TCP_LISTEN) {
            listen(t.ino(), t.local(), t.backlog(), s, hub);
        } else if (t.state() == SockDiag.TCP_CLOSE && t.local().port() != 0 && t.connection() == null && t.error() == 0) {
            Sockets.bindInet(s, t.local());
        }
        now.attachReuseportFilter(s);
    }

    /** A new stream socket of {@code protocol} for the record of {@code ino}, with its options, handed to the hub. */
    static Fd newSocket(long ino, int family, int protocol, SocketOptions options, String lockTable, SocketHub hub) {
        Fd s = Sockets.socket(family, Sockets.SOCK_STREAM, protocol);
        hub.put(ino, s);
        options.apply(s);
        hub.lockedBy(lockTable);
        return s;
    }

    /**
     * Listeners sharing a port were all bound with SO_REUSEPORT, even one that cleared it since (zdtm's
     * socket-tcp-reuseport): such a one is bound and listens with it set again until every socket is made,
     * since a listener joins the group of one that has it set: cleared at once, the next listener made a
     * group of its own and the kernel sent it every connection.
     */
    static void listen(long ino, SockAddr local, int backlog, Fd s, SocketHub hub) {
        boolean shared = hub.records(TcpSocket.class).stream().anyMatch(o -> o.ino() != ino
                && o.state() == SockDiag.TCP_LISTEN && o.local().port() == local.port())
                || hub.records(MptcpSocketHandler.MptcpSocket.class).stream().anyMatch(o -> o.ino() != ino
                && o.state() == SockDiag.TCP_LISTEN && o.local().port() == local.port());
        boolean lend = shared && Sockets.getInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT) == 0;
        if (lend) {
            Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT, 1);
        }
        try {
            Sockets.bindInet(s, local);
        } catch (dev.cryo.kernel.SyscallException e) {
            if (!e.is(dev.cryo.kernel.Errno.EADDRINUSE) || !clearLeftovers(local)) {
                throw e;
            }
            Sockets.bindInet(s, local);
        }
        Sockets.listen(s, backlog);
        if (lend) {
            hub.later(() -> Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT, 0));
        }
    }

    /**
     * A listener's port held by connections it had closed before the dump, which no file holds any
     * more: TIME_WAIT for a minute, or FIN_WAIT2 while the client has not closed. The listener had the
     * port all along; one without SO_REUSEADDR could not bind it again, and the restore of a killed
     * tree failed (a plain socketserver.TCPServer that has served a request). They are ended as
     * {@code ss -K} does (a FIN_WAIT2 client gets a reset). Returns whether there were any.
     */
    private static boolean clearLeftovers(SockAddr local) {
        boolean any = false;
        boolean wildcard = local.inetAddress().isAnyLocalAddress();
        try (SockDiag d = SockDiag.open()) {
            for (int family : new int[] {SockAddr.AF_INET, SockAddr.AF_INET6}) {
                for (SockDiag.InetSocket i : d.ownerless(family, 1 << SockDiag.TCP_TIME_WAIT | 1 << SockDiag.TCP_FIN_WAIT2)) {
                    if (i.local().port() == local.port() && (wildcard || i.local().equals(local))) {
                        d.destroy(i);
                        any = true;
                    }
                }
            }
        }
        if (any) {
            log.info("TCP listener {}: ended the connections it had closed before the dump that still held its port", local);
        }
        return any;
    }

    @Override
    public void connect(TcpSocket t, SocketHub hub) {
        connectAgain(t, hub);
        if (t.connection() != null) { // the connection's window clamp, which its connect set anew
            t.options().filter(SocketOptions::onceConnected).apply(hub.get(t.ino()));
        }
    }

    private void connectAgain(TcpSocket t, SocketHub hub) {
        if (t.state() == SockDiag.TCP_CLOSE && t.connection() != null) {
            closeAgain(t, hub.get(t.ino()), t.connection());
            return;
        }
        if (t.state() == SockDiag.TCP_CLOSE && t.connection() == null && t.error() == dev.cryo.kernel.Errno.ECONNREFUSED) {
            refusedAgain(t, hub.get(t.ino()));
            if (t.errorRead()) { // read as the program had: the socket keeps only its local address
                Sockets.getInt(hub.get(t.ino()), Sockets.SOL_SOCKET, Sockets.SO_ERROR);
            }
            return;
        }
        if (t.state() == SockDiag.TCP_SYN_SENT && t.connection() != null) {
            hub.holdAttempt(t.local(), t.remote()); // in a net namespace of the tree's
            TcpRepair.reconnect(hub.get(t.ino()), t.local(), t.remote(), t.connection());
            return;
        }
        if (t.closed()) {
            // dumped with --tcp-close: closed the way a reset by its peer leaves it, as CRIU's is (reads
            // end of file, polls POLLHUP, writes EPIPE); a never-connected socket read ENOTCONN instead
            closeAgain(t, hub.get(t.ino()), NOTHING_IN_FLIGHT);
            return;
        }
        if (connected(t) && t.connection() != null && hub.tcpClose()) {
            // restored with --tcp-close: the same, with the bytes it had not read (they come first);
            // left alone it was a socket that never connected and read ENOTCONN (zdtm's socket-tcp-close0)
            TcpRepair.Connection c = t.connection();
            closeAgain(t, hub.get(t.ino()), new TcpRepair.Connection(c.sendSeq(), c.recvSeq(), new byte[0], 0,
                    c.recvQueue(), c.mss(), c.sndWscale(), c.rcvWscale(), c.sack(), c.timestamps(), c.tsval(), c.window()),
                    false);
            return;
        }
        if (rebuiltLive(t, hub)) {
            Fd s = hub.get(t.ino());
            TcpRepair.rebuild(s, t.local(), t.remote(), t.connection());
            boolean reuseAddr = t.options().reuseAddr();
            // rebuilt established; once live its own FIN is queued again at its own sequence number,
            // and the peer's is delivered again (SocketHub.resumeConnections)
            hub.repaired(s, t.connection(), reuseAddr, t.state(), t.local(), t.remote(), !t.lockTable().isEmpty());
        }
    }

    private static final java.util.concurrent.atomic.AtomicInteger OVER = new java.util.concurrent.atomic.AtomicInteger();

    /** A connection with no bytes in flight and no negotiated options, for one dumped with --tcp-close. */
    private static final TcpRepair.Connection NOTHING_IN_FLIGHT = new TcpRepair.Connection(1, 1, new byte[0], 0,
            new byte[0], 1460, -1, 0, false, false, 0, new byte[0]);

    /**
     * Rebuilds a connection over on both sides: established in repair mode with its unread bytes,
     * "to" a loopback port of no one's (a different one each time: accepted connections share their
     * local address), then reset "by that peer" at the right sequence number. The reset closes it as
     * the kernel had (closed, shut down both ways, unhashed, its bytes kept). The error the reset
     * leaves is taken when the program had none pending; one with {@code t.error()} keeps it (EPIPE:
     * the peer's FIN is delivered first, as a reset after it leaves EPIPE).
     */
    private static void closeAgain(TcpSocket t, Fd s, TcpRepair.Connection c) {
        closeAgain(t, s, c, c != NOTHING_IN_FLIGHT);
    }

    /** {@code keepPeer}: false to rebuild it to no one's port whatever peer it named (its peer may be rebuilt too). */
    private static void closeAgain(TcpSocket t, Fd s, TcpRepair.Connection c, boolean keepPeer) {
        boolean reuseAddr = Sockets.getInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR) != 0;
        SockAddr kept = keepPeer ? rebuildToKeptPeer(t, s, c) : null;
        SockAddr nobody = kept != null ? kept : nobodyFor(t);
        SockAddr local = t.local();
        try {
            if (kept == null) {
                TcpRepair.rebuild(s, local, nobody, c);
            }
        } catch (dev.cryo.kernel.SyscallException e) {
            if (keepPeer || !e.is(dev.cryo.kernel.Errno.EADDRINUSE)) {
                throw e;
            }
            // dumped with --tcp-close, no network lock held the connection: its port lingers in
            // TIME_WAIT. A closed socket's port serves nothing; it takes another of the address
            TcpRepair.rebuild(s, new SockAddr(t.family(), local.address(), 0), nobody, c);
            local = Sockets.sockName(s);
        }
        if (t.error() == dev.cryo.kernel.Errno.ETIMEDOUT) {
            timeOutAgain(t, s, local, nobody, reuseAddr);
            return;
        }
        TcpRepair.leaveQuietly(s, reuseAddr); // a window probe to no one's port would be answered by a reset
        int seq = c.recvSeq();
        if (t.error() == dev.cryo.kernel.Errno.EPIPE) {
            dev.cryo.kernel.net.PeerFin.send(local, nobody, seq, TcpRepair.sendUnacked(c), 0xffff);
            if (finThenResetByNoOne(t, s, seq)) {
                return;
            }
            seq++; // the FIN took one
        }
        dev.cryo.kernel.net.PeerFin.reset(local, nobody, seq);
        if (!reached(s, SockDiag.TCP_CLOSE)) {
            abort(local, nobody);
        }
        awaitState(t, s, SockDiag.TCP_CLOSE, "the reset that closes it again");
        if (t.error() == 0) {
            Sockets.getInt(s, Sockets.SOL_SOCKET, Sockets.SO_ERROR); // reading it clears the reset's ECONNRESET
        }
    }

    /**
     * Rebuilds {@code s} to the peer the dumped connection still named (SO_PEERNAME reads it after the
     * close) and returns it, or returns null to have it rebuilt to no one's port: when it named none,
     * or when the peer is not on loopback and its FIN is delivered again (EPIPE), which this socket
     * would acknowledge to it. Nothing else is sent: repair mode is left without a window probe and
     * the reset is the peer's. When that address pair is taken meanwhile, it goes to no one's port.
     */
    private static SockAddr rebuildToKeptPeer(TcpSocket t, Fd s, TcpRepair.Connection c) {
        SockAddr peer = t.remote();
        if (peer.port() == 0
                || (t.error() == dev.cryo.kernel.Errno.EPIPE && !peer.inetAddress().isLoopbackAddress())) {
            return null;
        }
        try {
            TcpRepair.rebuild(s, t.local(), peer, c);
            return peer;
        } catch (dev.cryo.kernel.SyscallException e) {
            if (!(e.is(dev.cryo.kernel.Errno.EADDRINUSE) || e.is(dev.cryo.kernel.Errno.EADDRNOTAVAIL))
                    || Sockets.sockName(s).port() == 0) {
                throw e; // its own port taken: as for any other socket of the tree
            }
            SockAddr nobody = nobodyFor(t);
            log.warn("TCP socket {} (closed): the pair {} -> {} is taken again meanwhile; it comes back naming {} as"
                    + " its peer (SO_PEERNAME)", t.local(), t.local(), peer, nobody);
            TcpRepair.rebuild(s, null, nobody, c);
            return nobody;
        }
    }

    /** A loopback port of no one's, a different one each time: accepted connections share their local address. */
    private static SockAddr nobodyFor(TcpSocket t) {
        return new SockAddr(t.family(), loopbackFor(t), 1 + Math.floorMod(OVER.getAndIncrement() * 7919 + 9, 65534));
    }

    /**
     * {@link #closeAgain} for a timeout's error: the rebuilt connection's packets to and from no one's
     * port are dropped (an nftables table of its own, in the socket's namespace) and a byte is sent with
     * TCP_USER_TIMEOUT at 1 ms, so the kernel gives up on it itself: closed, its bytes kept, ETIMEDOUT
     * pending, the byte purged with its send queue. TCP_USER_TIMEOUT is put back as the program had it.
     */
    private static void timeOutAgain(TcpSocket t, Fd s, SockAddr local, SockAddr nobody, boolean reuseAddr) {
        String table = "cryo_timeout_" + ProcessHandle.current().pid() + "_" + OVER.getAndIncrement();
        dev.cryo.kernel.net.NetworkLock.lock(table, List.of(new dev.cryo.kernel.net.NetworkLock.Flow(local, nobody)));
        try {
            TcpRepair.leaveQuietly(s, reuseAddr);
            int userTimeout = Sockets.getInt(s, Sockets.SOL_TCP, Sockets.TCP_USER_TIMEOUT);
            Sockets.setInt(s, Sockets.SOL_TCP, Sockets.TCP_USER_TIMEOUT, 1);
            Sockets.send(s, new byte[1], Sockets.MSG_DONTWAIT);
            long deadline = System.nanoTime() + 30_000_000_000L; // the first retransmission waits for the initial RTO
            while (tcpState(s) != SockDiag.TCP_CLOSE) {
                if (System.nanoTime() > deadline) {
                    throw new dev.cryo.engine.restore.RestoreException("TCP socket " + t.local()
                            + " (timed out): it did not time out again (state " + SockDiag.stateName(tcpState(s)) + ")");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
            }
            Sockets.setInt(s, Sockets.SOL_TCP, Sockets.TCP_USER_TIMEOUT, userTimeout);
        } finally {
            dev.cryo.kernel.net.NetworkLock.unlock(table);
        }
    }

    /** The loopback address a socket of {@code t}'s family and local address reaches (v4-mapped for a mapped one). */
    private static byte[] loopbackFor(TcpSocket t) {
        return t.family() == SockAddr.AF_INET ? new byte[] {127, 0, 0, 1}
                : t.local().inetAddress() instanceof java.net.Inet4Address
                ? new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 127, 0, 0, 1}
                : new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    }

    /**
     * Waits for the FIN sent at {@code seq} to be taken (CLOSE_WAIT). Its acknowledgement is delayed
     * (40 ms at least) and goes to an address no socket holds, whose kernel answers with the reset
     * cryo sends next, at the same sequence number: when cryo's thread was not run for that long, the
     * socket is closed already, the end wanted (EPIPE pending). True then, after checking that the FIN
     * was taken first (rcv_nxt past it); a reset without the FIN would leave ECONNRESET.
     */
    private static boolean finThenResetByNoOne(TcpSocket t, Fd s, int seq) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        int state;
        while ((state = tcpState(s)) != SockDiag.TCP_CLOSE_WAIT && state != SockDiag.TCP_CLOSE
                && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
        if (state == SockDiag.TCP_CLOSE && TcpRepair.receiveSeq(s) == seq + 1) {
            return true;
        }
        awaitState(t, s, SockDiag.TCP_CLOSE_WAIT, "the FIN before its reset");
        return false;
    }

    /** Whether {@code s} is in {@code state} within 2 s. */
    private static boolean reached(Fd s, int state) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (tcpState(s) != state && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
        return tcpState(s) == state;
    }

    /**
     * Aborts the rebuilt connection {@code local -> remote} of this thread's net namespace through
     * sock_diag (as {@code ss -K}) when the reset "from its peer" was not taken: the namespace's own
     * firewall dropped it (a rule dropping what comes to that port: zdtm's socket-tcp-closed-last-ack).
     * It closes the same way, shut down both ways with its bytes kept (ECONNABORTED for the reset's error).
     */
    private static void abort(SockAddr local, SockAddr remote) {
        try (SockDiag d = SockDiag.open()) {
            for (SockDiag.InetSocket i : d.inetSockets(local.family(), Sockets.IPPROTO_TCP,
                    1 << SockDiag.TCP_ESTABLISHED).values()) {
                if (i.local().equals(local) && i.remote().equals(remote)) {
                    d.destroy(i);
                }
            }
        }
    }

    /** Waits (at most 2 s) until the rebuilt connection {@code t} has taken {@code what}: it is then in {@code state}. */
    private static void awaitState(TcpSocket t, Fd s, int state, String what) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (tcpState(s) != state) {
            if (System.nanoTime() > deadline) {
                throw new dev.cryo.engine.restore.RestoreException("TCP socket " + t.local() + " (closed on both sides): "
                        + what + " was not taken (state " + SockDiag.stateName(tcpState(s)) + ")");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
    }

    /**
     * Whether {@code t} comes back as a live connection (rebuilt in repair mode, resumed with the
     * tree), not closed again nor attempted again: what {@link #connectAgain} does last.
     */
    private static boolean rebuiltLive(TcpSocket t, SocketHub hub) {
        return !t.closed() && connected(t) && t.connection() != null && !hub.tcpClose();
    }

    /** A connection (established or closing) rather than a listener or an unconnected socket. */
    private static boolean connected(TcpSocket t) {
        return t.state() == SockDiag.TCP_ESTABLISHED || finSent(t.state()) || finReceived(t.state());
    }

    /** States in which the socket has sent its FIN: shut for writing. */
    public static boolean finSent(int state) {
        return state == SockDiag.TCP_FIN_WAIT1 || state == SockDiag.TCP_FIN_WAIT2 || state == SockDiag.TCP_LAST_ACK
                || state == SockDiag.TCP_CLOSING;
    }

    /** States in which the socket has received its peer's FIN: its reads reach the end. */
    public static boolean finReceived(int state) {
        return state == SockDiag.TCP_CLOSE_WAIT || state == SockDiag.TCP_LAST_ACK || state == SockDiag.TCP_CLOSING;
    }

    @Override
    public void finish(TcpSocket t, SocketHub hub) {}
}
