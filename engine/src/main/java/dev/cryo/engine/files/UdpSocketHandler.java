package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;

import java.util.Map;

/**
 * UDP sockets, IPv4 and IPv6: bound address, connected peer, options. Unread datagrams are
 * refused: sent again from cryo they would come from another sender address.
 */
public final class UdpSocketHandler implements FdHandler<UdpSocketHandler.UdpSocket>, SocketHub.Kind<UdpSocketHandler.UdpSocket> {
    public static final int TAG = 42, RECORD_ID = 195;

    /**
     * One UDP socket; a {@code remote} port of 0 means unconnected. {@code shutdown} is the kernel's mask
     * (1 = reading shut, 2 = writing shut), as sock_diag reports it.
     */
    public record UdpSocket(long ino, int family, SockAddr local, SockAddr remote, SocketOptions options, boolean primary,
                            int shutdown) implements FileDesc {}

    static final RecordCodec<UdpSocket> CODEC = RecordCodec.of(UdpSocket.class, RECORD_ID, 1, (out, u) -> {
        out.writeLong(u.ino());
        out.writeVarInt(u.family(), true);
        SockAddrFields.write(out, u.local());
        SockAddrFields.write(out, u.remote());
        RecordFields.writeRecord(out, SocketOptions.CODEC, u.options());
        out.writeBoolean(u.primary());
        out.writeVarInt(u.shutdown(), true);
    }, (in, v) -> new UdpSocket(in.readLong(), in.readVarInt(true), SockAddrFields.read(in), SockAddrFields.read(in),
            RecordFields.readRecord(in, SocketOptions.CODEC), in.readBoolean(), in.readVarInt(true)));

    @Override
    public String kind() {
        return "UDP socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<UdpSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        String p = SocketProbe.protoName(fd);
        return p.equals("UDP") || p.equals("UDPv6");
    }

    @Override
    public UdpSocket dump(FdProbe fd, DumpContext ctx) {
        SocketDumpState st = ctx.sockets();
        try (SocketProbe p = SocketProbe.take(fd)) {
            SockDiag.InetSocket d = st.inet(p.family, Sockets.IPPROTO_UDP).get(p.ino);
            if (d == null) {
                // sock_diag lists hashed sockets only: one never bound nor connected is a fresh socket
                SockAddr local = Sockets.sockName(p.sock);
                if (local.port() == 0 && Sockets.peerName(p.sock) == null) {
                    return new UdpSocket(p.ino, p.family, local, local,
                            SocketOptions.dump(p.sock, p.family, p.type, p.protocol, true), st.claim(p.ino), 0);
                }
                throw p.refuse("UDP socket " + p.ino + " (" + local + ") is not visible to sock_diag (another network"
                        + " namespace?)");
            }
            if (d.wqueue() > 0) { // corked (UDP_CORK, MSG_MORE) and not sent yet: the bytes sit in the socket
                throw p.refuse("UDP socket " + d.local() + " holds " + d.wqueue() + " bytes written but not sent yet"
                        + " (UDP_CORK or MSG_MORE); carrying them is not supported");
            }
            int unread = Sockets.ioctlInt(p.sock, Sockets.SIOCINQ, "SIOCINQ");
            if (d.rqueue() > 0 || unread > 0) {
                throw p.refuse("UDP socket " + d.local() + " has unread datagrams; carrying them is not supported"
                        + " (they would arrive from another sender)");
            }
            return new UdpSocket(p.ino, p.family, d.local(), d.remote(),
                    SocketOptions.dump(p.sock, p.family, p.type, p.protocol, true), st.claim(p.ino), d.shutdown());
        }
    }

    @Override
    public long restore(FdImage fd, UdpSocket u, RestoreContext ctx) {
        return ctx.plantSocket(u.ino(), fd.flags());
    }

    @Override
    public void show(UdpSocket u, Map<String, Object> m) {
        m.put("kind", "UDP socket");
        m.put("inode", u.ino());
        m.put("local", u.local().toString());
        if (u.remote().port() != 0) {
            m.put("remote", u.remote().toString());
        }
        m.put("options", u.options().show());
        if (u.shutdown() != 0) {
            m.put("shutdown", Sockets.shutdownName(u.shutdown()));
        }
    }

    @Override
    public Class<UdpSocket> type() {
        return UdpSocket.class;
    }

    @Override
    public long ino(UdpSocket u) {
        return u.ino();
    }

    @Override
    public boolean primary(UdpSocket u) {
        return u.primary();
    }

    @Override
    public void create(UdpSocket u, SocketHub hub) {
        Fd s = Sockets.socket(u.family(), Sockets.SOCK_DGRAM, Sockets.IPPROTO_UDP);
        hub.put(u.ino(), s);
        u.options().apply(s);
        if (u.local().port() != 0) {
            Sockets.bindInet(s, u.local());
        }
    }

    @Override
    public void connect(UdpSocket u, SocketHub hub) {}

    @Override
    public void finish(UdpSocket u, SocketHub hub) {
        Fd s = hub.get(u.ino());
        if (u.remote().port() != 0) {
            Sockets.connect(s, u.remote());
        }
        if (u.shutdown() != 0) {
            // the kernel records the shutdown even on an unconnected socket, and then says ENOTCONN
            Sockets.shutdownMask(s, u.shutdown(), u.remote().port() == 0);
        }
    }
}
