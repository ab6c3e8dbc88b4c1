package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.cryo.kernel.net.Sockets.SOL_TCP;

/**
 * TCP repair mode (what CRIU's libsoccr does): reads an established connection's sequence numbers,
 * queues, negotiated options and window from a socket put in repair mode, and builds a new socket
 * in that very state without a packet on the wire. A socket closed while in repair mode vanishes
 * silently (no FIN, no reset), which is how a dumped task may die without the peer noticing.
 */
public final class TcpRepair {
    private TcpRepair() {}

    private static final int TCP_NO_QUEUE = 0, TCP_RECV_QUEUE = 1, TCP_SEND_QUEUE = 2;
    private static final int TCPOPT_MSS = 2, TCPOPT_WINDOW = 3, TCPOPT_SACK_PERM = 4, TCPOPT_TIMESTAMP = 8;
    private static final int TCPI_OPT_TIMESTAMPS = 1, TCPI_OPT_SACK = 2, TCPI_OPT_WSCALE = 4;
    private static final int REPAIR_ON = 1, REPAIR_OFF = 0, REPAIR_OFF_NO_WP = -1;

    /**
     * An established connection as repair mode shows it. {@code sendSeq} is the sequence number
     * after the last byte written, {@code recvSeq} after the last byte received; {@code sendQueue}
     * holds the bytes not yet acknowledged, of which the last {@code unsent} were never sent;
     * {@code recvQueue} the bytes received and not yet read. {@code window} is the raw
     * {@code struct tcp_repair_window} (20 bytes).
     */
    public record Connection(int sendSeq, int recvSeq, byte[] sendQueue, int unsent, byte[] recvQueue, int mss,
                             int sndWscale, int rcvWscale, boolean sack, boolean timestamps, int tsval,
                             byte[] window) {}

    /**
     * Puts {@code s} in repair mode. Returns whether SO_REUSEADDR was set, which leaving repair
     * mode clears: give it to {@link #leave}.
     */
    public static boolean enter(Fd s) {
        boolean reuseAddr = Sockets.getInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR) != 0;
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR, REPAIR_ON);
        return reuseAddr;
    }

    /**
     * Leaves repair mode; the connection then works as before (a window probe wakes the peer).
     * The kernel resets the socket's SO_REUSEADDR when repair mode ends (sk_reuse becomes
     * SK_NO_REUSE), so the program's setting, {@code reuseAddr}, is put back.
     */
    public static void leave(Fd s, boolean reuseAddr) {
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR, REPAIR_OFF);
        if (reuseAddr) {
            Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
        }
    }

    /**
     * {@link #leave} without the window probe (TCP_REPAIR_OFF_NO_WP): nothing is sent, so a
     * connection rebuilt "to" a port of no one's is not reset by the answer before cryo acts on it.
     */
    public static void leaveQuietly(Fd s, boolean reuseAddr) {
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR, REPAIR_OFF_NO_WP);
        if (reuseAddr) {
            Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
        }
    }

    /** Reads the state of a connection already in repair mode. Nothing in it changes. */
    public static Connection read(Fd s) {
        return read(s, false, false);
    }

    /**
     * Reads a connection in repair mode whose write side may be shut: {@code finQueued} when a FIN
     * was queued (FIN_WAIT1, FIN_WAIT2), {@code finAcked} when the peer acknowledged it (FIN_WAIT2).
     * The FIN takes a sequence number but no byte: it is left out of {@code sendSeq} and of the
     * queue lengths, so the connection reads as established, and a restore shuts it down again,
     * which queues the FIN at that very number.
     */
    public static Connection read(Fd s, boolean finQueued, boolean finAcked) {
        return read(s, finQueued, finAcked, false);
    }

    /**
     * {@link #read(Fd, boolean, boolean)} of a connection that may also have received its peer's
     * FIN ({@code finReceived}: CLOSE_WAIT, LAST_ACK, CLOSING). That FIN took a sequence number too:
     * it is left out of {@code recvSeq} (and of the window's rcv_wup, which the kernel checks against
     * it), so the connection reads as one still open for reading; a restore then delivers that FIN
     * again ({@link PeerFin}).
     */
    public static Connection read(Fd s, boolean finQueued, boolean finAcked, boolean finReceived) {
        Connection c = read0(s, finQueued, finAcked);
        if (!finReceived) {
            return c;
        }
        int recvSeq = c.recvSeq() - 1;
        byte[] window = c.window().clone();
        if (window.length == 20) {
            ByteBuffer w = ByteBuffer.wrap(window).order(ByteOrder.nativeOrder());
            if (w.getInt(16) == c.recvSeq()) { // rcv_wup: the receive sequence at the last window update
                w.putInt(16, recvSeq);
            }
        }
        return new Connection(c.sendSeq(), recvSeq, c.sendQueue(), c.unsent(), c.recvQueue(), c.mss(), c.sndWscale(),
                c.rcvWscale(), c.sack(), c.timestamps(), c.tsval(), window);
    }

    /** The first byte the peer has not acknowledged: what a packet from the peer acknowledges. */
    public static int sendUnacked(Connection c) {
        return c.sendSeq() - c.sendQueue().length;
    }

    /** The window the peer last advertised, as it travels in a segment (scaled down by its window scale). */
    public static int peerWindow(Connection c) {
        if (c.window().length != 20) {
            return 0xffff;
        }
        long wnd = Integer.toUnsignedLong(ByteBuffer.wrap(c.window()).order(ByteOrder.nativeOrder()).getInt(4));
        return (int) Math.min(c.sndWscale() > 0 ? wnd >> c.sndWscale() : wnd, 0xffff);
    }

    private static Connection read0(Fd s, boolean finQueued, boolean finAcked) {
        int fin = finQueued ? 1 : 0, finInQueue = finQueued && !finAcked ? 1 : 0;
        int inq = Sockets.ioctlInt(s, Sockets.SIOCINQ, "SIOCINQ");
        int outq = Sockets.ioctlInt(s, Sockets.SIOCOUTQ, "SIOCOUTQ") - finInQueue;
        int unsent = Sockets.ioctlInt(s, Sockets.SIOCOUTQNSD, "SIOCOUTQNSD");
        unsent = unsent > 0 ? unsent - finInQueue : 0; // the FIN goes last: unsent while anything is
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
        int sendSeq = Sockets.getInt(s, SOL_TCP, Sockets.TCP_QUEUE_SEQ) - fin;
        byte[] sendQueue = peek(s, outq, "send");
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
        int recvSeq = Sockets.getInt(s, SOL_TCP, Sockets.TCP_QUEUE_SEQ);
        byte[] recvQueue = peek(s, inq, "receive");
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
        int mss = Sockets.getInt(s, SOL_TCP, Sockets.TCP_MAXSEG);
        byte[] info = Sockets.getBytes(s, SOL_TCP, Sockets.TCP_INFO, 8);
        int options = info[5] & 0xff;
        int sndWscale = info[6] & 0x0f, rcvWscale = (info[6] >> 4) & 0x0f;
        boolean ts = (options & TCPI_OPT_TIMESTAMPS) != 0;
        int tsval = ts ? Sockets.getInt(s, SOL_TCP, Sockets.TCP_TIMESTAMP) : 0;
        byte[] window = Sockets.getBytes(s, SOL_TCP, Sockets.TCP_REPAIR_WINDOW, 20);
        return new Connection(sendSeq, recvSeq, sendQueue, unsent, recvQueue, mss,
                (options & TCPI_OPT_WSCALE) != 0 ? sndWscale : -1, (options & TCPI_OPT_WSCALE) != 0 ? rcvWscale : -1,
                (options & TCPI_OPT_SACK) != 0, ts, tsval, window);
    }

    /**
     * The next sequence number closed socket {@code s} expects from its peer (rcv_nxt), read in repair mode:
     * 0 for one that never received a SYN, as a connection attempt refused or timed out (connect() zeroes it).
     */
    public static int receiveSeq(Fd s) {
        boolean reuseAddr = enter(s);
        try {
            Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
            int seq = Sockets.getInt(s, SOL_TCP, Sockets.TCP_QUEUE_SEQ);
            Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
            return seq;
        } finally {
            leaveQuietly(s, reuseAddr);
        }
    }

    /**
     * A connection attempt in flight (SYN_SENT), in repair mode: what carries it is the sequence
     * number after its SYN ({@code sendSeq}); nothing was negotiated yet. {@code sendQueue} holds
     * bytes queued with the SYN (TCP Fast Open), which a plain SYN sent again would not carry.
     */
    public static Connection readConnecting(Fd s) {
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
        int sendSeq = Sockets.getInt(s, SOL_TCP, Sockets.TCP_QUEUE_SEQ);
        byte[] withSyn = Sockets.recv(s, 1 << 16, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
        return new Connection(sendSeq, 0, withSyn == null ? new byte[0] : withSyn, 0, new byte[0], 0, -1, -1, false,
                false, 0, new byte[0]);
    }

    /**
     * Makes {@code s} (fresh, options set) attempt connection {@code c} ({@link #readConnecting})
     * again: bound to {@code local}, its SYN at the dumped sequence number (connect keeps a write
     * sequence set in repair mode), so a peer that had answered the first SYN takes this one as
     * the same attempt. The connect does not wait: {@code s} is left connecting (SS_CONNECTING),
     * where a program's connect() restarted on it waits on, and its poll sees POLLOUT once connected.
     */
    public static void reconnect(Fd s, SockAddr local, SockAddr remote, Connection c) {
        boolean reuseAddr = enter(s);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_QUEUE_SEQ, c.sendSeq() - 1); // the SYN takes one
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
        Sockets.bind(s, local);
        leave(s, reuseAddr);
        dev.cryo.kernel.Sys.call(() -> "fcntl(" + s + ", F_SETFL, O_NONBLOCK)", dev.cryo.kernel.SyscallNr.FCNTL, s.value(),
                dev.cryo.kernel.Fcntl.F_SETFL, dev.cryo.kernel.Fcntl.O_NONBLOCK, 0);
        try {
            Sockets.connect(s, remote);
        } catch (dev.cryo.kernel.SyscallException e) {
            if (!e.is(dev.cryo.kernel.Errno.EINPROGRESS)) {
                throw e;
            }
        }
    }

    private static byte[] peek(Fd s, int len, String queue) {
        if (len == 0) {
            return new byte[0];
        }
        byte[] b = Sockets.recv(s, len, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
        if (b == null || b.length != len) {
            throw new KernelException("TCP " + queue + " queue of " + s + ": peeked " + (b == null ? 0 : b.length)
                    + " of " + len + " bytes");
        }
        return b;
    }

    /**
     * Makes {@code s} (a fresh, unconnected TCP socket, options already set) the connection
     * {@code c} between {@code local} and {@code remote}, and leaves repair mode. The bytes that
     * were never sent are written last, as ordinary data.
     */
    public static void restore(Fd s, SockAddr local, SockAddr remote, Connection c) {
        boolean reuseAddr = Sockets.getInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR) != 0;
        rebuild(s, local, remote, c);
        resume(s, c, reuseAddr);
    }

    /**
     * Rebuilds the connection but stays in repair mode: closing {@code s} now would still be
     * silent. {@link #resume} makes it live. {@code local} null: {@code s} is bound already (a
     * first rebuild found its peer's pair taken). Its SO_REUSEADDR, which repair mode's end clears,
     * is the caller's to know (from the image: a read here cost a call a connection). Only calls
     * that change something are made: a restore rebuilds thousands of connections, and each call
     * costs a few microseconds of kernel time.
     */
    public static void rebuild(Fd s, SockAddr local, SockAddr remote, Connection c) {
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR, REPAIR_ON);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_QUEUE_SEQ, c.sendSeq() - c.sendQueue().length);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_QUEUE_SEQ, c.recvSeq() - c.recvQueue().length);
        // the receive queue stays selected: bind, connect, the options, the timestamp and the window
        // take no queue (only the sequence numbers and the fills do), and its fill below needs it
        if (local != null) { // null: bound already
            Sockets.bind(s, local);
        }
        int userMss = segmentSizeAtConnect(c);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_MAXSEG, userMss);
        Sockets.connect(s, remote);
        Sockets.setInt(s, SOL_TCP, Sockets.TCP_MAXSEG, 0); // a connected socket's own clamp is set below
        ByteBuffer opts = ByteBuffer.allocate(32).order(ByteOrder.nativeOrder());
        opts.putInt(TCPOPT_MSS).putInt(c.mss());
        if (c.sndWscale() >= 0) {
            opts.putInt(TCPOPT_WINDOW).putInt(c.sndWscale() | c.rcvWscale() << 16);
        }
        if (c.sack()) {
            opts.putInt(TCPOPT_SACK_PERM).putInt(0);
        }
        if (c.timestamps()) {
            opts.putInt(TCPOPT_TIMESTAMP).putInt(0);
        }
        byte[] o = new byte[opts.position()];
        opts.flip().get(o);
        Sockets.setBytes(s, SOL_TCP, Sockets.TCP_REPAIR_OPTIONS, o);
        if (c.timestamps()) {
            Sockets.setInt(s, SOL_TCP, Sockets.TCP_TIMESTAMP, c.tsval());
        }
        if (c.recvQueue().length > 0) {
            fill(s, c.recvQueue(), "receive");
        }
        byte[] sent = java.util.Arrays.copyOf(c.sendQueue(), c.sendQueue().length - c.unsent());
        byte[] locks = room(s, c.sendQueue().length);
        if (sent.length > 0) {
            Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
            fill(s, sent, "send");
            Sockets.setInt(s, SOL_TCP, Sockets.TCP_REPAIR_QUEUE, TCP_NO_QUEUE); // none, as repair mode starts
        }
        if (locks != null) {
            // SO_SNDBUFFORCE fixed the size (autotuning off for good): the dumped socket's sizes were tuned, or fixed by the program
            Sockets.setBytes(s, Sockets.SOL_SOCKET, Sockets.SO_BUF_LOCK, locks);
        }
        if (c.window().length == 20) {
            Sockets.setBytes(s, SOL_TCP, Sockets.TCP_REPAIR_WINDOW, c.window());
        }
        if (remote.family() == SockAddr.AF_INET) { // the socket's own family: connect took no other
            // IP_OPTIONS (none) makes an IPv4 connection size its segments again, as the kernel last did for
            // the dumped one: from its clamp, path and half the largest window, past TCP_MAXSEG's 32767 cap
            Sys.call(() -> "setsockopt(" + s + ", SOL_IP, IP_OPTIONS, none)", SyscallNr.SETSOCKOPT, s.value(),
                    Sockets.SOL_IP, Sockets.IP_OPTIONS, 0, 0, 0);
        }
    }

    /** The largest and smallest TCP_MAXSEG the kernel takes (MAX_TCP_WINDOW, TCP_MIN_MSS). */
    private static final int USER_MSS_MAX = 32767, USER_MSS_MIN = 88;
    /** The timestamp option's room in every segment, and the clamp's default (TCP_MSS_DEFAULT). */
    private static final int TIMESTAMP_ROOM = 12, MSS_DEFAULT = 536;

    /**
     * The TCP_MAXSEG (user_mss) for repair mode's connect, which sizes the connection's segments
     * (the kernel's mss_cache) once: from the clamp (user_mss if set, else the 536-byte default) and
     * the path, with no window known yet. The options and window set afterwards do not size them
     * again (only a peer's window above the largest seen or a smaller path MTU does), so without it
     * the connection sent 524-byte segments. The dumped connection's size was the clamp (the peer's
     * MSS) or the path's, less the timestamp option, then at most half the largest window the peer
     * offered (tcp_bound_to_half_wnd); the path's is applied again by the connect. Exact up to
     * 32755 bytes (every Ethernet path, jumbo frames too); above (loopback's 65483, or half a large
     * window) TCP_MAXSEG's cap leaves 32755, until {@link #rebuild} sizes an IPv4 connection again. It also caps the connection's advertised MSS (advmss),
     * which only steers the receive buffer's tuning once connected.
     */
    static int segmentSizeAtConnect(Connection c) {
        int room = c.timestamps() ? TIMESTAMP_ROOM : 0;
        long clamp = c.mss(); // read in repair mode: the clamp
        if (c.window().length == 20) {
            long maxWindow = Integer.toUnsignedLong(ByteBuffer.wrap(c.window()).order(ByteOrder.nativeOrder()).getInt(8));
            long halfWindow = maxWindow > MSS_DEFAULT ? maxWindow >> 1 : maxWindow;
            if (halfWindow > 0) {
                clamp = Math.min(clamp, halfWindow + room);
            }
        }
        return (int) Math.max(USER_MSS_MIN, Math.min(clamp, USER_MSS_MAX));
    }

    /**
     * Leaves repair mode (putting SO_REUSEADDR back when {@code reuseAddr}) and writes the bytes
     * that were never sent, as ordinary data.
     */
    public static void resume(Fd s, Connection c, boolean reuseAddr) {
        leave(s, reuseAddr);
        int sentLength = c.sendQueue().length - c.unsent();
        byte[] unsent = java.util.Arrays.copyOfRange(c.sendQueue(), sentLength, c.sendQueue().length);
        int done = 0;
        while (done < unsent.length) {
            int n = Sockets.send(s, java.util.Arrays.copyOfRange(unsent, done, unsent.length), Sockets.MSG_DONTWAIT);
            if (n <= 0) {
                throw new KernelException("TCP send queue of " + s + ": could only queue " + done + " of "
                        + unsent.length + " unsent bytes");
            }
            done += n;
        }
    }

    /**
     * A send buffer that holds {@code queued} bytes: the dumped socket's had grown (autotuning) to
     * hold them, a new one starts small and the queue would not fit. Returns the buffer locks as they
     * were when it had to be forced (SO_SNDBUFFORCE locks the size), for the caller to put back; null
     * when nothing changed.
     */
    private static byte[] room(Fd s, int queued) {
        if (queued == 0) {
            return null;
        }
        int have = Sockets.getInt(s, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF); // the kernel's doubled value
        if (have / 2 >= queued) {
            return null;
        }
        byte[] locks = Sockets.getBytesOrNull(s, Sockets.SOL_SOCKET, Sockets.SO_BUF_LOCK, 4); // null before Linux 5.14
        Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, queued + (256 << 10)); // room for skb overhead
        return locks;
    }

    /** Writes {@code data} into the queue repair mode has selected (TCP_REPAIR_QUEUE). */
    private static void fill(Fd s, byte[] data, String name) {
        int done = 0;
        while (done < data.length) {
            int n = Sockets.send(s, java.util.Arrays.copyOfRange(data, done, data.length), 0);
            if (n <= 0) {
                throw new KernelException("TCP " + name + " queue of " + s + ": restored " + done + " of "
                        + data.length + " bytes");
            }
            done += n;
        }
    }
}
