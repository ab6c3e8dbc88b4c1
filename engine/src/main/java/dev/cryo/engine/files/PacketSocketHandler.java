package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.net.PacketRing;
import dev.cryo.kernel.net.PacketSockets;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Packet sockets (AF_PACKET, raw or cooked, and the obsolete SOCK_PACKET): dhclient's and dhcpcd's socket with its BPF filter,
 * arping's, keepalived's. Carried: type, the protocol it receives (from socket() or bind()),
 * the interface it is bound to (by name: an index means nothing in a namespace made again), its
 * options (TPACKET version, reserve, auxdata, origdev, timestamps...) and classic filter, its
 * memberships (promiscuous, all-multicast, multicast and unicast addresses, each as many times as
 * added), the copy threshold and the fanout group. Read from packet_diag (as {@code ss -0}) and
 * getsockopt, and a TPACKET_V3 (or V2) receive ring mapped again at its address with the blocks (frames)
 * the program holds ({@link PacketRingState}). Unread packets of its queue are dropped with a warning, as for raw
 * sockets: a capture socket's queue is what the network sent, and to the program a dropped packet is
 * one the network lost.
 */
public final class PacketSocketHandler implements FdHandler<PacketSocketHandler.PacketSocket>,
        SocketHub.Kind<PacketSocketHandler.PacketSocket> {
    public static final int TAG = 440, RECORD_ID = 1180;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PacketSocketHandler.class);

    /** One PACKET_ADD_MEMBERSHIP on interface {@code ifName}, added {@code count} times. */
    public record Membership(String ifName, int type, int count, byte[] address) {}

    /**
     * One packet socket: {@code protocol} the one it receives (host order; 0: nothing), {@code ifName}
     * its interface (null: every one), {@code fanout} -1 without a group, {@code ring} its receive
     * ring (null: none).
     */
    public record PacketSocket(long ino, int type, int protocol, String ifName, int copyThresh,
                               int fanout, List<Membership> memberships, SocketOptions options, PacketRingState ring,
                               boolean primary, PacketRingState tx) implements FileDesc {
        public PacketSocket {
            memberships = List.copyOf(memberships);
        }

        public PacketSocket(long ino, int type, int protocol, String ifName, int copyThresh, int fanout,
                            List<Membership> memberships, SocketOptions options, PacketRingState ring, boolean primary) {
            this(ino, type, protocol, ifName, copyThresh, fanout, memberships, options, ring, primary, null);
        }

        /** Where the program maps the rings (kept with the receive ring, or the transmit ring when alone). */
        List<PacketRingState.Mapping> mappedAt() {
            return ring != null ? ring.mappedAt() : tx != null ? tx.mappedAt() : List.of();
        }

        /** Both rings' bytes, as one mapping of them holds them. */
        long ringBytes() {
            return (ring == null ? 0 : ring.bytes()) + (tx == null ? 0 : tx.bytes());
        }
    }

    static final RecordCodec<PacketSocket> CODEC = RecordCodec.of(PacketSocket.class, RECORD_ID, 4, (out, r) -> {
        out.writeLong(r.ino());
        out.writeVarInt(r.type(), true);
        out.writeInt(r.protocol());
        ModelFields.writeText(out, r.ifName(), 16, "PacketSocket.ifName");
        out.writeInt(r.copyThresh());
        out.writeInt(r.fanout());
        out.writeVarInt(r.memberships().size(), true);
        for (Membership m : r.memberships()) {
            ModelFields.writeText(out, m.ifName(), 16, "PacketSocket.membership.ifName");
            out.writeVarInt(m.type(), true);
            out.writeVarInt(m.count(), true);
            ModelFields.writeBytes(out, m.address(), 32, "PacketSocket.membership");
        }
        RecordFields.writeRecord(out, SocketOptions.CODEC, r.options());
        RecordFields.writeNullable(out, r.ring(), PacketRingState::write); // v2
        out.writeBoolean(r.primary());
        RecordFields.writeNullable(out, r.tx(), PacketRingState::write); // v4
    }, (in, v) -> {
        long ino = in.readLong();
        int type = in.readVarInt(true), protocol = in.readInt();
        String ifName = ModelFields.readText(in, 16, "PacketSocket.ifName");
        int copyThresh = in.readInt(), fanout = in.readInt();
        int n = ModelFields.readCount(in, "PacketSocket", 4096, "memberships");
        List<Membership> ms = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ms.add(new Membership(ModelFields.readText(in, 16, "PacketSocket.membership.ifName"), in.readVarInt(true), in.readVarInt(true),
                    ModelFields.readBytes(in, 32, "PacketSocket.membership")));
        }
        SocketOptions options = RecordFields.readRecord(in, SocketOptions.CODEC);
        PacketRingState ring = v >= 2 ? RecordFields.readNullable(in, x -> PacketRingState.read(x, v)) : null;
        boolean primary = in.readBoolean();
        PacketRingState tx = v >= 4 ? RecordFields.readNullable(in, x -> PacketRingState.read(x, v)) : null;
        return new PacketSocket(ino, type, protocol, ifName, copyThresh, fanout, ms, options, ring, primary, tx);
    });

    @Override
    public String kind() {
        return "packet socket";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<PacketSocket> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return SocketProbe.protoName(fd).equals("PACKET");
    }

    @Override
    public PacketSocket dump(FdProbe fd, DumpContext ctx) {
        try (SocketProbe p = SocketProbe.take(fd, ctx.sockets())) {
            SockDiag.PacketSocket d = ctx.sockets().packet().get(p.ino);
            if (d == null) {
                throw p.refuse("packet socket " + p.ino + " is not listed by packet_diag");
            }
            boolean untouched = untouched(p, d);
            if (d.tx() != null && !untouched && !txUntouched(p, d)) {
                throw p.refuse("packet socket " + p.ino + " has a transmit ring (PACKET_TX_RING, TPACKET_V"
                        + (d.version() + 1) + ", " + d.tx().bytes() + " bytes) that has been written to (a frame queued or"
                        + " sent): where the kernel sends from next cannot be read; a transmit ring is carried only while"
                        + " nothing has been written to it");
            }
            if (d.ifindex() < 0) {
                throw p.refuse("packet socket " + p.ino + " was bound to an interface that is gone; not supported");
            }
            int fanoutType = d.fanout() < 0 ? -1 : (d.fanout() >> 16) & 0xff;
            if (fanoutType == PacketSockets.PACKET_FANOUT_CBPF || fanoutType == PacketSockets.PACKET_FANOUT_EBPF) {
                // the group came back with its type and no program: every packet to one member
                throw p.refuse("packet socket " + p.ino + " is in a fanout group (id " + (d.fanout() & 0xffff) + ") that"
                        + " picks its member with a BPF program (PACKET_FANOUT_" + (fanoutType == PacketSockets.PACKET_FANOUT_CBPF
                        ? "CBPF" : "EBPF") + ", set with PACKET_FANOUT_DATA), which no getsockopt reads back; not supported");
            }
            List<Membership> ms = new ArrayList<>();
            for (SockDiag.PacketMembership m : d.memberships()) {
                ms.add(new Membership(PacketSockets.ifName(p.sock, m.ifindex()), m.type(), m.count(), m.address()));
            }
            // SIOCINQ, not a peek: a receive takes the error a bind to a down interface left (ENETDOWN)
            if (Sockets.ioctlInt(p.sock, Sockets.SIOCINQ, "SIOCINQ") > 0) {
                log.warn("{}: packet socket {} (protocol 0x{}) has unread packets; they are not carried", fd.where(),
                        p.ino, Integer.toHexString(d.protocol()));
            }
            java.util.function.Supplier<List<PacketRingState.Mapping>> mappings =
                    () -> ctx.sockets().ringMappings(p.ino, fd.pid(), bytes(d.rx()) + bytes(d.tx()));
            PacketRingState ring = d.rx() == null ? null : PacketRingState.dump(p, d, mappings, untouched);
            PacketRingState tx = d.tx() == null ? null
                    : PacketRingState.untouched(d.tx(), d.version(), ring == null ? mappings.get() : List.of());
            return new PacketSocket(p.ino, p.type, d.protocol(),
                    d.ifindex() == 0 ? null : PacketSockets.ifName(p.sock, d.ifindex()), d.copyThresh(), d.fanout(), ms,
                    p.options(true), ring, ctx.sockets().claim(p.ino), tx);
        }
    }

    private static long bytes(SockDiag.PacketRing r) {
        return r == null ? 0 : r.bytes();
    }

    /**
     * Whether the socket's TPACKET_V1/V2 rings are all zero still (never written; V3 rings start with
     * the kernel's block headers). Larger than 1 GiB in all: not read, taken as written.
     */
    private static boolean untouched(SocketProbe p, SockDiag.PacketSocket d) {
        long total = bytes(d.rx()) + bytes(d.tx());
        return d.version() != PacketRing.TPACKET_V3 && total > 0 && total <= 1L << 30
                && PacketRing.untouched(p.sock, total, 0);
    }

    /**
     * Whether the socket's transmit ring alone is all zero still (beside a receive ring the kernel has
     * written: the kernel sends from its first frame then). Larger than 1 GiB in all: taken as written.
     */
    private static boolean txUntouched(SocketProbe p, SockDiag.PacketSocket d) {
        long total = bytes(d.rx()) + bytes(d.tx());
        return total <= 1L << 30 && PacketRing.untouched(p.sock, total, bytes(d.rx()));
    }

    /** Planted, then its ring mapped again where the program had it (over the placeholder {@code PacketRingMapping} left). */
    @Override
    public long restore(FdImage fd, PacketSocket r, RestoreContext ctx) {
        long got = ctx.plantSocket(r.ino(), fd.flags());
        for (PacketRingState.Mapping m : r.mappedAt()) {
            ctx.call("mmap(packet ring of socket " + r.ino() + " at 0x" + Long.toHexString(m.start()) + ")",
                    dev.cryo.kernel.SyscallNr.MMAP, m.start(), r.ringBytes(), m.prot(), m.flags() | MAP_FIXED, got, 0);
        }
        return got;
    }

    private static final long MAP_FIXED = 0x10;

    @Override
    public void show(PacketSocket r, Map<String, Object> m) {
        m.put("kind", "packet socket");
        m.put("inode", r.ino());
        m.put("type", r.type() == Sockets.SOCK_RAW ? "raw" : r.type() == Sockets.SOCK_PACKET ? "SOCK_PACKET (obsolete)"
                : "cooked (SOCK_DGRAM)");
        m.put("protocol", "0x" + Integer.toHexString(r.protocol()));
        m.put("interface", r.ifName() == null ? "any" : r.ifName());
        List<String> ms = new ArrayList<>();
        for (Membership x : r.memberships()) {
            StringBuilder a = new StringBuilder();
            for (byte b : x.address()) {
                a.append(a.length() == 0 ? "" : ":").append(String.format("%02x", b));
            }
            ms.add(PacketSockets.membershipName(x.type()) + " on " + x.ifName() + (a.length() == 0 ? "" : " " + a)
                    + (x.count() > 1 ? " x" + x.count() : ""));
        }
        if (!ms.isEmpty()) {
            m.put("memberships", ms);
        }
        if (r.fanout() >= 0) {
            m.put("fanout", "0x" + Integer.toHexString(r.fanout()));
        }
        if (r.copyThresh() != 0) {
            m.put("copyThresh", r.copyThresh());
        }
        if (r.ring() != null) {
            PacketRingState g = r.ring();
            m.put("rxRing", g.pristine() ? ringParams(g) : g.framed() ? "TPACKET_V2, " + g.frameNr() + " frames of " + g.frameSize() + " bytes in " + g.blockNr()
                    + " blocks of " + g.blockSize() + ", kernel at frame " + g.current() + ", " + g.userBlocks().size()
                    + " held by the program" : g.blockNr() + " blocks of " + g.blockSize() + " bytes, timeout "
                    + g.retireTmo() + " ms, kernel at block " + g.current() + ", " + g.userBlocks().size() + " held by the program");
        }
        if (r.tx() != null) {
            m.put("txRing", ringParams(r.tx()));
        }
        if (!r.mappedAt().isEmpty()) {
            m.put("mappedAt", r.mappedAt().stream().map(x -> "0x" + Long.toHexString(x.start())
                    + (x.flags() == PacketRingState.Mapping.MAP_PRIVATE ? " private" : " shared")).toList());
        }
        m.put("options", r.options().show());
    }

    private static String ringParams(PacketRingState g) {
        return "TPACKET_V" + (g.version() + 1) + ", " + g.frameNr() + " frames of " + g.frameSize() + " bytes in "
                + g.blockNr() + " blocks of " + g.blockSize() + ", never written";
    }

    @Override
    public Class<PacketSocket> type() {
        return PacketSocket.class;
    }

    @Override
    public long ino(PacketSocket r) {
        return r.ino();
    }

    @Override
    public boolean primary(PacketSocket r) {
        return r.primary();
    }

    /**
     * Made with protocol 0, so that it receives nothing until its options and filter are set and it
     * is bound to its protocol and interface (SO_PROTOCOL of a packet socket reads 0 whatever it was made with).
     */
    @Override
    public void create(PacketSocket r, SocketHub hub) {
        if (r.type() == Sockets.SOCK_PACKET) {
            createSpkt(r, hub);
            return;
        }
        Fd s = Sockets.socket(dev.cryo.kernel.net.SockAddr.AF_PACKET, r.type(), 0);
        hub.put(r.ino(), s);
        boolean rings = r.ring() != null || r.tx() != null;
        if (rings) { // the options a ring forbids changing (EBUSY) first
            r.options().filter(PacketSocketHandler::beforeRing).apply(s);
        }
        if (r.ring() != null) {
            r.ring().restore(s);
        }
        r.options().filter(o -> !rings || !beforeRing(o)).apply(s);
        int ifindex = r.ifName() == null ? 0 : index(s, r.ifName());
        if (ifindex != 0 || r.protocol() != 0 || r.ring() != null && !r.ring().pristine()) {
            PacketSockets.bind(s, r.protocol(), ifindex); // a ring's socket: bound to lo while it was moved on
        }
        if (r.tx() != null) { // after the receive ring's moves, which map the receive ring alone
            PacketRing.setUp(s, PacketSockets.PACKET_TX_RING, r.tx().blockSize(), r.tx().blockNr(), r.tx().frameSize(),
                    r.tx().frameNr(), r.tx().retireTmo(), r.tx().sizeofPriv(), r.tx().features());
        }
        for (Membership m : r.memberships()) {
            for (int i = 0; i < m.count(); i++) {
                PacketSockets.addMembership(s, index(s, m.ifName()), m.type(), m.address());
            }
        }
        if (r.copyThresh() != 0) {
            Sockets.setInt(s, PacketSockets.SOL_PACKET, PacketSockets.PACKET_COPY_THRESH, r.copyThresh());
        }
        if (r.fanout() >= 0) {
            Sockets.setInt(s, PacketSockets.SOL_PACKET, PacketSockets.PACKET_FANOUT, r.fanout());
        }
    }

    /**
     * An obsolete SOCK_PACKET socket (zdtm's packet_sock_spkt; old tools): it takes its protocol only
     * from socket() (its bind names an interface and keeps the protocol), so it receives from then on;
     * no ring, membership or SOL_PACKET option is possible on one.
     */
    private static void createSpkt(PacketSocket r, SocketHub hub) {
        Fd s = Sockets.socket(dev.cryo.kernel.net.SockAddr.AF_PACKET, Sockets.SOCK_PACKET,
                Short.toUnsignedInt(Short.reverseBytes((short) r.protocol())));
        hub.put(r.ino(), s);
        r.options().apply(s);
        if (r.ifName() != null) {
            PacketSockets.bindSpkt(s, r.ifName());
        }
    }

    private static boolean beforeRing(SocketOptions.Option o) {
        return o.level() == PacketSockets.SOL_PACKET && (o.name() == PacketSockets.PACKET_VERSION
                || o.name() == PacketSockets.PACKET_RESERVE || o.name() == PacketSockets.PACKET_LOSS
                || o.name() == PacketSockets.PACKET_TX_HAS_OFF || o.name() == PacketSockets.PACKET_VNET_HDR_SZ);
    }

    private static int index(Fd s, String ifName) {
        try {
            return PacketSockets.ifIndex(s, ifName);
        } catch (SyscallException e) {
            throw new dev.cryo.engine.restore.RestoreException("packet socket: interface " + ifName
                    + " is not there (" + e.getMessage() + ")", e);
        }
    }

    @Override
    public void connect(PacketSocket r, SocketHub hub) {}

    @Override
    public void finish(PacketSocket r, SocketHub hub) {}
}
