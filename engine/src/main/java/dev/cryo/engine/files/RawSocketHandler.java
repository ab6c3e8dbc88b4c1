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
 * Raw IP sockets, IPv4 and IPv6 ({@code ping} as root, squid's pinger, routing daemons), and ICMP
 * datagram ("ping") sockets ({@code ping} where net.ipv4.ping_group_range lets users ping, bound
 * again to their ICMP id): protocol, bound address, connected peer and options (the ICMP filters
 * and IP_HDRINCL among them). Unread packets
 * are dropped with a warning, as CRIU does: a raw socket gets a copy of every packet of its
 * protocol the host receives (every ping's reply reaches every ICMP socket), so its queue is
 * seldom empty, and cryo could not queue them again — refusing would make such programs
 * undumpable on a busy host, and to the program a dropped packet is one the network lost.
 */
public final class RawSocketHandler implements SocketFdHandler<RawSocketHandler.RawSocket> {
    public static final int TAG = 130, RECORD_ID = 450;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RawSocketHandler.class);

    /**
     * One raw ({@code type} SOCK_RAW) or ICMP datagram (SOCK_DGRAM) socket; {@code remote} is null
     * when it is not connected; a datagram socket's local port is its ICMP id (0: none yet).
     */
    public record RawSocket(long ino, int family, int type, int protocol, SockAddr local, SockAddr remote,
                            SocketOptions options, boolean primary) implements FileDesc {}

    static final RecordCodec<RawSocket> CODEC = RecordCodec.of(RawSocket.class, RECORD_ID, 1, (out, r) -> {
        out.writeLong(r.ino());
        out.writeVarInt(r.family(), true);
        out.writeVarInt(r.type(), true);
        out.writeVarInt(r.protocol(), true);
        SockAddrFields.write(out, r.local());
        out.writeBoolean(r.remote() != null);
        if (r.remote() != null) {
            SockAddrFields.write(out, r.remote());
        }
        RecordFields.writeRecord(out, SocketOptions.CODEC, r.options());
        out.writeBoolean(r.primary());
    }, (in, v) -> new RawSocket(in.readLong(), in.readVarInt(true), in.readVarInt(true), in.readVarInt(true),
            SockAddrFields.read(in),
            in.readBoolean() ? SockAddrFields.read(in) : null, RecordFields.readRecord(in, SocketOptions.CODEC),
            in.readBoolean()));

    @Override
    public String kind() {
        return "raw socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<RawSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        String p = SocketProbe.protoName(fd);
        return p.equals("RAW") || p.equals("RAWv6") || p.equals("PING") || p.equals("PINGv6");
    }

    @Override
    public RawSocket dump(FdProbe fd, DumpContext ctx) {
        try (SocketProbe p = SocketProbe.take(fd, ctx.sockets())) {
            // /proc/net/raw names the peer: getpeername says ENOTCONN for a raw socket connected with port 0
            boolean raw = p.type == Sockets.SOCK_RAW;
            SockDiag.InetSocket d = (raw ? ctx.sockets().raw(p.family) : ctx.sockets().ping(p.family)).get(p.ino);
            String what = raw ? "raw socket" : "ICMP datagram socket";
            if (d == null) {
                throw p.refuse(what + " " + p.ino + " (protocol " + p.protocol + ") is not listed in /proc/net/"
                        + (raw ? "raw" : "icmp") + (p.family == SockAddr.AF_INET6 ? "6" : ""));
            }
            if (d.rqueue() > 0) {
                log.warn("{}: {} (protocol {}, {}) has {} bytes of unread packets; they are not carried",
                        fd.where(), what, p.protocol, d.local().inetAddress().getHostAddress(), d.rqueue());
            }
            return new RawSocket(p.ino, p.family, p.type, p.protocol, d.local(),
                    d.state() == SockDiag.TCP_ESTABLISHED ? d.remote() : null,
                    p.options(true), ctx.sockets().claim(p.ino));
        }
    }

    @Override
    public void show(RawSocket r, Map<String, Object> m) {
        m.put("kind", r.type() == Sockets.SOCK_RAW ? "raw socket" : "ICMP datagram socket");
        m.put("inode", r.ino());
        m.put("protocol", r.protocol());
        m.put("local", r.local().inetAddress().getHostAddress());
        if (r.remote() != null) {
            m.put("remote", r.remote().inetAddress().getHostAddress());
        }
        m.put("options", r.options().show());
    }

    @Override
    public Class<RawSocket> type() {
        return RawSocket.class;
    }

    @Override
    public long ino(RawSocket r) {
        return r.ino();
    }

    @Override
    public boolean primary(RawSocket r) {
        return r.primary();
    }

    @Override
    public void create(RawSocket r, SocketHub hub) {
        Fd s = Sockets.socket(r.family(), r.type(), r.protocol());
        hub.put(r.ino(), s);
        r.options().apply(s);
        if (r.type() != Sockets.SOCK_RAW ? r.local().port() != 0 || !r.local().isAnyAddress()
                : !r.local().isAnyAddress()) { // the port of a raw socket's name is its protocol: bind ignores it
            Sockets.bind(s, r.local()); // an ICMP datagram socket's is its id: bound again to it
        }
    }

    @Override
    public void connect(RawSocket r, SocketHub hub) {}

    @Override
    public void finish(RawSocket r, SocketHub hub) {
        if (r.remote() != null) {
            Sockets.connect(hub.get(r.ino()), r.remote());
        }
    }
}
