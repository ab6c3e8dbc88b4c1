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

import java.util.Map;

/**
 * Multipath TCP sockets (IPPROTO_MPTCP), IPv4 and IPv6: what a Go program (1.24 and later) listens
 * with by default. Listening (address, backlog, options, its place in a SO_REUSEPORT group, which is
 * its first subflow's; its port held by the network lock like a TCP listener's) and unconnected ones
 * are made again as MPTCP sockets. A connection (or one closed since) is refused:
 * the kernel has no TCP repair for MPTCP sockets (CRIU refuses them too), not even for one fallen
 * back to plain TCP, which every connection a plain TCP client makes to an MPTCP listener is.
 */
public final class MptcpSocketHandler implements SocketFdHandler<MptcpSocketHandler.MptcpSocket> {
    public static final int TAG = 1020, RECORD_ID = 2650;

    /** {@code state}: TCP_LISTEN or TCP_CLOSE (unconnected, bound when {@code local}'s port is not 0). */
    public record MptcpSocket(long ino, int family, int state, SockAddr local, int backlog, SocketOptions options,
                              boolean primary, String lockTable) implements FileDesc {}

    static final RecordCodec<MptcpSocket> CODEC = RecordCodec.of(MptcpSocket.class, RECORD_ID, 1, (out, t) -> {
        out.writeLong(t.ino());
        out.writeVarInt(t.family(), true);
        out.writeVarInt(t.state(), true);
        SockAddrFields.write(out, t.local());
        out.writeVarInt(t.backlog(), true);
        RecordFields.writeRecord(out, SocketOptions.CODEC, t.options());
        out.writeBoolean(t.primary());
        ModelFields.writeText(out, t.lockTable(), 64, "MptcpSocket.lockTable");
    }, (in, v) -> new MptcpSocket(in.readLong(), in.readVarInt(true), readState(in), SockAddrFields.read(in),
            in.readVarInt(true), RecordFields.readRecord(in, SocketOptions.CODEC), in.readBoolean(),
            ModelFields.readText(in, 64, "MptcpSocket.lockTable")));

    private static int readState(com.esotericsoftware.kryo.io.Input in) {
        int state = in.readVarInt(true);
        if (state != SockDiag.TCP_LISTEN && state != SockDiag.TCP_CLOSE) {
            throw new com.esotericsoftware.kryo.KryoException("MptcpSocket.state: " + state + " is neither listening nor closed");
        }
        return state;
    }

    @Override
    public String kind() {
        return "MPTCP socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<MptcpSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        String p = SocketProbe.protoName(fd);
        return p.equals("MPTCP") || p.equals("MPTCPv6");
    }

    @Override
    public MptcpSocket dump(FdProbe fd, DumpContext ctx) {
        SocketDumpState st = ctx.sockets();
        try (SocketProbe p = SocketProbe.take(fd, st)) {
            SockAddr local = Sockets.sockName(p.sock);
            SockAddr peer = Sockets.peerName(p.sock);
            if (peer != null) {
                throw p.refuse("MPTCP connection " + local + " -> " + peer + ": the kernel has no TCP repair for"
                        + " Multipath TCP sockets, so their connections cannot be carried (a Go program's listeners"
                        + " are MPTCP since Go 1.24: GODEBUG=multipathtcp=0 makes them plain TCP); not supported");
            }
            boolean listening = Sockets.getInt(p.sock, Sockets.SOL_SOCKET, Sockets.SO_ACCEPTCONN) != 0;
            if (!listening && delivered(p) > 0) { // closed, no peer any more, but it was a connection
                throw p.refuse("MPTCP socket " + local + " (a connection closed, reset or over on both sides): the kernel"
                        + " has no TCP repair for Multipath TCP sockets, so it cannot be made closed again; not supported");
            }
            boolean primary = st.claim(p.ino);
            if (!listening) {
                return new MptcpSocket(p.ino, p.family, SockDiag.TCP_CLOSE, local, 0,
                        p.options(true), primary, "");
            }
            // sock_diag lists the listener's TCP subflow under the socket's inode, with its queues
            SockDiag.InetSocket d = st.inet(p.family, Sockets.IPPROTO_TCP).get(p.ino);
            String what = "MPTCP socket " + local + " (listening)";
            if (d == null) {
                throw p.refuse(what + " is not listed by sock_diag under its inode; not supported");
            }
            TcpSocketHandler.checkAcceptQueue(p, d, st, what);
            return new MptcpSocket(p.ino, p.family, SockDiag.TCP_LISTEN, d.local(), d.wqueue(),
                    p.options(true), primary, st.portLock(p.ino));
        }
    }

    /** TCP_INFO's count of segments delivered: 0 for a socket never connected. */
    private static int delivered(SocketProbe p) {
        return TcpSocketHandler.delivered(
                Sockets.getBytes(p.sock, Sockets.SOL_TCP, Sockets.TCP_INFO, TcpSocketHandler.TCPI_DELIVERED + 4));
    }

    @Override
    public void show(MptcpSocket t, Map<String, Object> m) {
        m.put("kind", "MPTCP socket");
        m.put("inode", t.ino());
        m.put("state", SockDiag.stateName(t.state()));
        m.put("local", t.local().toString());
        if (t.state() == SockDiag.TCP_LISTEN) {
            m.put("backlog", t.backlog());
            if (!t.lockTable().isEmpty()) { // new connections held back until the restore
                m.put("networkLock", t.lockTable());
            }
        }
        m.put("options", t.options().show());
    }

    // ---- restore half ---------------------------------------------------------------------------

    @Override
    public Class<MptcpSocket> type() {
        return MptcpSocket.class;
    }

    @Override
    public long ino(MptcpSocket t) {
        return t.ino();
    }

    @Override
    public boolean primary(MptcpSocket t) {
        return t.primary();
    }

    @Override
    public int reuseportIndex(MptcpSocket t) {
        return t.options().reuseportIndex();
    }

    @Override
    public void create(MptcpSocket t, SocketHub hub) {
        Fd s = TcpSocketHandler.newSocket(t.ino(), t.family(), Sockets.IPPROTO_MPTCP, t.options(), t.lockTable(), hub);
        if (t.state() == SockDiag.TCP_LISTEN) {
            TcpSocketHandler.listen(t.ino(), t.local(), t.backlog(), s, hub);
        } else if (t.local().port() != 0) {
            Sockets.bindInet(s, t.local());
        }
        t.options().attachReuseportFilter(s);
    }

    @Override
    public void connect(MptcpSocket t, SocketHub hub) {}

    @Override
    public void finish(MptcpSocket t, SocketHub hub) {}
}
