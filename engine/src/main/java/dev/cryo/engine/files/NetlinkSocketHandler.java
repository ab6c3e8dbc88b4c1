package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.NfnetlinkBindings;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.util.List;
import java.util.Map;

/**
 * Netlink sockets (route, generic, audit, ...) the way CRIU carries them: protocol, port id,
 * multicast groups (the first 32), destination and options. Unread messages are refused: they
 * answer requests the kernel would not repeat, or are its notifications, which only the kernel can
 * send; the dump lets the tree read them first (UnreadQueues). So is a netfilter socket bound to an nfnetlink_log
 * group or an nfnetlink_queue: the binding's settings cannot all be read back, and a restored socket
 * without it would wait for packets that never come.
 */
public final class NetlinkSocketHandler implements SocketFdHandler<NetlinkSocketHandler.NetlinkSocket> {
    public static final int TAG = 43, RECORD_ID = 196;

    /** One netlink socket: {@code portId} 0 = never bound. */
    public record NetlinkSocket(long ino, int type, int protocol, int portId, int groups, int dstPort, int dstGroups,
                                SocketOptions options, boolean primary) implements FileDesc {}

    static final RecordCodec<NetlinkSocket> CODEC = RecordCodec.of(NetlinkSocket.class, RECORD_ID, 1, (out, n) -> {
        out.writeLong(n.ino());
        out.writeVarInt(n.type(), true);
        out.writeVarInt(n.protocol(), true);
        out.writeInt(n.portId());
        out.writeInt(n.groups());
        out.writeInt(n.dstPort());
        out.writeInt(n.dstGroups());
        RecordFields.writeRecord(out, SocketOptions.CODEC, n.options());
        out.writeBoolean(n.primary());
    }, (in, v) -> new NetlinkSocket(in.readLong(), in.readVarInt(true), in.readVarInt(true), in.readInt(), in.readInt(),
            in.readInt(), in.readInt(), RecordFields.readRecord(in, SocketOptions.CODEC), in.readBoolean()));

    @Override
    public String kind() {
        return "netlink socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<NetlinkSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return SocketProbe.protoName(fd).equals("NETLINK");
    }

    @Override
    public NetlinkSocket dump(FdProbe fd, DumpContext ctx) {
        try (SocketProbe p = SocketProbe.take(fd, ctx.sockets())) {
            if (p.errorPending()) { // a receive, a peek too, would take it
                throw p.refuse("netlink socket (protocol " + p.protocol + ") holds an error the program has not read"
                        + " yet (ENOBUFS: the kernel dropped messages when its queue overran, or a dump failed); not"
                        + " supported");
            }
            byte[] head = Sockets.recv(p.sock, NLMSG_HDRLEN, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
            if (head != null) {
                throw p.refuse("netlink socket (protocol " + p.protocol + ") holds " + unread(head));
            }
            SockAddr self = Sockets.sockName(p.sock);
            if (p.protocol == Sockets.NETLINK_NETFILTER && self.port() != 0) {
                List<NfnetlinkBindings.Binding> bound = NfnetlinkBindings.of(p.sock, self.port());
                if (!bound.isEmpty()) {
                    throw p.refuse("netfilter netlink socket bound to " + bound.stream().map(Object::toString)
                            .collect(java.util.stream.Collectors.joining(", ")) + " (ulogd's NFLOG, an NFQUEUE"
                            + " consumer): the kernel keeps settings of it that no call reads back (threshold,"
                            + " buffer size, flags; a queue's packets waiting for a verdict); not supported");
                }
            }
            SockAddr dst = Sockets.peerName(p.sock);
            return new NetlinkSocket(p.ino, p.type, p.protocol, self.port(), self.netlinkGroups(),
                    dst == null ? 0 : dst.port(), dst == null ? 0 : dst.netlinkGroups(),
                    SocketOptions.dump(p.sock, SockAddr.AF_NETLINK, p.type, p.protocol, true), ctx.sockets().claim(p.ino));
        }
    }

    private static final int NLMSG_HDRLEN = 16, NLM_F_MULTI = 2;

    /**
     * The refusal's words for what the first unread message is. An answer to the program's own request
     * (a part of a dump, an error or acknowledgement) can neither be queued again (nothing can send from
     * the kernel's port 0, and glibc's getifaddrs, libnl and iproute2 drop messages from any other) nor
     * asked for again (parts already read would come twice, and a dump's progress is the kernel's); a
     * program that asks in a tight loop holds one at many freezes, as its request's answer is made
     * while it sends.
     */
    static String unread(byte[] head) {
        if (head.length < NLMSG_HDRLEN) {
            return "messages " + UnreadQueues.RETRIED + "; the kernel's cannot be queued again (no process can send"
                    + " from its port 0)";
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(head).order(java.nio.ByteOrder.nativeOrder());
        int type = Short.toUnsignedInt(b.getShort(4)), flags = Short.toUnsignedInt(b.getShort(6));
        long seq = Integer.toUnsignedLong(b.getInt(8));
        if ((flags & NLM_F_MULTI) != 0 || type == Sockets.NLMSG_ERROR || type == Sockets.NLMSG_DONE) {
            return "the kernel's answer to a request it sent (message type " + type + ", sequence " + seq + ") "
                    + UnreadQueues.RETRIED + "; an answer can neither be queued again (no process can send from the"
                    + " kernel's port 0) nor asked for again (what the program read of it would come twice): a program"
                    + " that asks again and again holds one at many freezes, dump it again";
        }
        return "the kernel's messages (message type " + type + ") " + UnreadQueues.RETRIED + "; they cannot be queued"
                + " again (no process can send from the kernel's port 0)";
    }

    @Override
    public void show(NetlinkSocket n, Map<String, Object> m) {
        m.put("kind", "netlink socket");
        m.put("inode", n.ino());
        m.put("protocol", n.protocol());
        m.put("portId", Integer.toUnsignedLong(n.portId()));
        m.put("groups", Integer.toHexString(n.groups()));
        if (n.dstPort() != 0 || n.dstGroups() != 0) {
            m.put("destination", n.dstPort() + "/" + Integer.toHexString(n.dstGroups()));
        }
        m.put("options", n.options().show());
    }

    @Override
    public Class<NetlinkSocket> type() {
        return NetlinkSocket.class;
    }

    @Override
    public long ino(NetlinkSocket n) {
        return n.ino();
    }

    @Override
    public boolean primary(NetlinkSocket n) {
        return n.primary();
    }

    @Override
    public void create(NetlinkSocket n, SocketHub hub) {
        Fd s = Sockets.socket(SockAddr.AF_NETLINK, n.type(), n.protocol());
        hub.put(n.ino(), s);
        n.options().apply(s);
        if (n.portId() != 0 || n.groups() != 0) {
            Sockets.bind(s, SockAddr.netlink(n.portId(), n.groups()));
        }
    }

    @Override
    public void connect(NetlinkSocket n, SocketHub hub) {}

    @Override
    public void finish(NetlinkSocket n, SocketHub hub) {
        if (n.dstPort() != 0 || n.dstGroups() != 0) {
            Sockets.connect(hub.get(n.ino()), SockAddr.netlink(n.dstPort(), n.dstGroups()));
        }
    }
}
