package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.image.RecordFields;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.CorkedDatagram;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.net.UdpInjector;
import dev.cryo.engine.restore.RestoreException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * UDP sockets, IPv4 and IPv6: bound address, connected peer, options and unread datagrams with
 * their senders. The datagrams are peeked through cryo's copy of the socket and given back with
 * raw packets naming the original sender (see {@link UdpInjector}), before the task runs.
 * UDP-Lite sockets too (zdtm's socket_udplite), with their checksum coverage (an option), but not
 * their unread or corked datagrams, which the raw packets, UDP's, could not give back.
 */
public final class UdpSocketHandler implements SocketFdHandler<UdpSocketHandler.UdpSocket> {
    public static final int TAG = 42, RECORD_ID = 195;

    /**
     * One UDP socket; a {@code remote} port of 0 means unconnected. {@code shutdown} is the kernel's mask
     * (1 = reading shut, 2 = writing shut), as sock_diag reports it. {@code lockTable}: the network lock
     * that drops datagrams to its port until the restore removes it ("" when none does). {@code corked}: the
     * datagram written but not sent yet (UDP_CORK or MSG_MORE), from the address it leaves and to the one it
     * goes to; null when none. {@code protocol} (version 3): IPPROTO_UDP or IPPROTO_UDPLITE. {@code error}
     * (version 4): the ICMP error a connected socket holds that the program has not read yet (an errno, 0: none).
     */
    public record UdpSocket(long ino, int family, SockAddr local, SockAddr remote, SocketOptions options, boolean primary,
                            int shutdown, List<Datagram> queue, String lockTable, Datagram corked, int protocol, int error)
            implements FileDesc {
        public UdpSocket {
            queue = List.copyOf(queue);
        }

        public UdpSocket(long ino, int family, SockAddr local, SockAddr remote, SocketOptions options, boolean primary,
                         int shutdown, List<Datagram> queue, String lockTable, Datagram corked) {
            this(ino, family, local, remote, options, primary, shutdown, queue, lockTable, corked, Sockets.IPPROTO_UDP);
        }

        public UdpSocket(long ino, int family, SockAddr local, SockAddr remote, SocketOptions options, boolean primary,
                         int shutdown, List<Datagram> queue, String lockTable, Datagram corked, int protocol) {
            this(ino, family, local, remote, options, primary, shutdown, queue, lockTable, corked, protocol, 0);
        }

        public boolean lite() {
            return protocol == Sockets.IPPROTO_UDPLITE;
        }

        /** "UDP socket" or "UDP-Lite socket", for messages. */
        public String kind() {
            return lite() ? "UDP-Lite socket" : "UDP socket";
        }

        public UdpSocket(long ino, int family, SockAddr local, SockAddr remote, SocketOptions options, boolean primary,
                         int shutdown, List<Datagram> queue, String lockTable) {
            this(ino, family, local, remote, options, primary, shutdown, queue, lockTable, null);
        }
    }

    /**
     * One unread datagram, the address it came from and the one it was sent to (which a socket
     * bound to a wildcard address sees with IP_PKTINFO or IP_RECVORIGDSTADDR).
     */
    public record Datagram(byte[] data, SockAddr from, SockAddr to) {}

    /** A UDP payload is at most 65,535 bytes; the queue is bounded by the socket's receive buffer. */
    private static final int MAX_DATAGRAM = 65_536, MAX_QUEUE = 1_000_000;
    private static final long MAX_QUEUED_BYTES = 1L << 30;

    static final RecordCodec<UdpSocket> CODEC = RecordCodec.of(UdpSocket.class, RECORD_ID, 4, (out, u) -> {
        out.writeLong(u.ino());
        out.writeVarInt(u.family(), true);
        SockAddrFields.write(out, u.local());
        SockAddrFields.write(out, u.remote());
        RecordFields.writeRecord(out, SocketOptions.CODEC, u.options());
        out.writeBoolean(u.primary());
        out.writeVarInt(u.shutdown(), true);
        out.writeVarInt(u.queue().size(), true);
        for (Datagram d : u.queue()) {
            ModelFields.writeBytes(out, d.data(), MAX_DATAGRAM, "UdpSocket.datagram");
            SockAddrFields.write(out, d.from());
            SockAddrFields.write(out, d.to());
        }
        ModelFields.writeText(out, u.lockTable(), 64, "UdpSocket.lockTable");
        out.writeBoolean(u.corked() != null);
        if (u.corked() != null) {
            ModelFields.writeBytes(out, u.corked().data(), MAX_DATAGRAM, "UdpSocket.corked");
            SockAddrFields.write(out, u.corked().from());
            SockAddrFields.write(out, u.corked().to());
        }
        out.writeVarInt(u.protocol(), true);
        out.writeVarInt(u.error(), true);
    }, (in, v) -> new UdpSocket(in.readLong(), in.readVarInt(true), SockAddrFields.read(in), SockAddrFields.read(in),
            RecordFields.readRecord(in, SocketOptions.CODEC), in.readBoolean(), in.readVarInt(true), readQueue(in),
            ModelFields.readText(in, 64, "UdpSocket.lockTable"), v >= 2 && in.readBoolean()
                    ? new Datagram(ModelFields.readBytes(in, MAX_DATAGRAM, "UdpSocket.corked"), SockAddrFields.read(in),
                    SockAddrFields.read(in)) : null, v >= 3 ? protocol(in.readVarInt(true)) : Sockets.IPPROTO_UDP,
            v >= 4 ? in.readVarInt(true) : 0));

    private static int protocol(int p) {
        if (p != Sockets.IPPROTO_UDP && p != Sockets.IPPROTO_UDPLITE) {
            throw new IllegalArgumentException("UdpSocket.protocol: " + p + " is neither UDP (17) nor UDP-Lite (136)");
        }
        return p;
    }

    private static List<Datagram> readQueue(com.esotericsoftware.kryo.io.Input in) {
        int n = in.readVarInt(true);
        if (n < 0 || n > MAX_QUEUE) {
            throw new IllegalArgumentException("UdpSocket.queue: " + n + " datagrams (at most " + MAX_QUEUE + ")");
        }
        List<Datagram> q = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            q.add(new Datagram(ModelFields.readBytes(in, MAX_DATAGRAM, "UdpSocket.datagram"), SockAddrFields.read(in),
                    SockAddrFields.read(in)));
        }
        return q;
    }

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
        return p.equals("UDP") || p.equals("UDPv6") || p.equals("UDP-Lite") || p.equals("UDPLITEv6");
    }

    @Override
    public UdpSocket dump(FdProbe fd, DumpContext ctx) {
        SocketDumpState st = ctx.sockets();
        try (SocketProbe p = SocketProbe.take(fd, ctx.sockets())) {
            boolean lite = p.protocol == Sockets.IPPROTO_UDPLITE;
            String kind = lite ? "UDP-Lite socket" : "UDP socket";
            SockDiag.InetSocket d = st.inet(p.family, p.protocol).get(p.ino);
            if (d == null) {
                // sock_diag lists hashed sockets only: one never bound nor connected is a fresh socket
                SockAddr local = Sockets.sockName(p.sock);
                if (local.port() == 0 && Sockets.peerName(p.sock) == null) {
                    return new UdpSocket(p.ino, p.family, local, local,
                            p.options(true), st.claim(p.ino), 0, List.of(), "",
                            null, p.protocol);
                }
                throw p.refuse(kind + " " + p.ino + " (" + local + ") is not visible to sock_diag (another network"
                        + " namespace?)");
            }
            return dump(p, d, st, lite, p.errorPending() ? unreadError(p, d, kind) : 0);
        }
    }

    /**
     * The ICMP error a connected socket holds that the program has not read (its datagram met a closed
     * port: ECONNREFUSED), read without taking it ({@link SocketProbe#unreadError}), when an ICMP error of
     * cryo's can make it again, which {@link #makeError} does at the restore. An error queue (IP_RECVERR)
     * is refused: its messages cannot be queued again.
     */
    private static int unreadError(SocketProbe p, SockDiag.InetSocket d, String kind) {
        String what = kind + " " + d.local() + " -> " + d.remote() + " holds an error the program has not read yet";
        boolean recverr = Sockets.getInt(p.sock, Sockets.SOL_IP, Sockets.IP_RECVERR) != 0 || (p.family == SockAddr.AF_INET6
                && Sockets.getInt(p.sock, Sockets.SOL_IPV6, Sockets.IPV6_RECVERR) != 0);
        if (recverr || d.remote().port() == 0) {
            throw p.refuse(what + (recverr ? " and keeps an error queue (IP_RECVERR), whose messages cannot be queued"
                    + " again" : " and is not connected") + "; not supported");
        }
        if (d.local().family() == SockAddr.AF_INET6 && d.remote().isV4Mapped() != d.local().isV4Mapped()) {
            throw p.refuse(what + ", one of its addresses IPv4-mapped and not the other; not supported");
        }
        int error = p.unreadError(kind + " " + d.local() + " -> " + d.remote());
        // a dual-stack socket connected to an IPv4 peer hears ICMP (v4) errors
        int family = d.remote().isV4Mapped() ? SockAddr.AF_INET : p.family;
        if (UdpInjector.icmpFor(family, error) == null) {
            throw p.refuse(what + " (" + dev.cryo.kernel.Errno.name(error) + "), which no ICMP error gives: cryo cannot"
                    + " make it again; not supported");
        }
        return error;
    }

    /**
     * Makes {@code error} again in socket {@code s}, connected from {@code local} to {@code remote} (built in
     * its net namespace already): an ICMP error quoting a datagram it sent there, and waits until it has arrived.
     */
    static void makeError(Fd s, SockAddr local, SockAddr remote, int error) {
        try (UdpInjector inject = new UdpInjector()) {
            inject.error(local, remote, error);
        }
        for (int i = 0; i < 2000 && (dev.cryo.kernel.Terminals.poll(s, 0) & dev.cryo.kernel.Terminals.POLLERR) == 0; i++) {
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // it comes over lo at once; a loaded host may run the softirq later
        }
        if ((dev.cryo.kernel.Terminals.poll(s, 0) & dev.cryo.kernel.Terminals.POLLERR) == 0) {
            throw new IllegalStateException("UDP socket " + local + " -> " + remote + ": the ICMP error that makes its "
                    + dev.cryo.kernel.Errno.name(error) + " again did not arrive");
        }
    }

    private static UdpSocket dump(SocketProbe p, SockDiag.InetSocket d, SocketDumpState st, boolean lite, int error) {
        {
            boolean primary = st.claim(p.ino);
            if (lite && primary && (d.wqueue() > 0 || d.rqueue() > 0
                    || Sockets.ioctlInt(p.sock, Sockets.SIOCINQ, "SIOCINQ") > 0)) {
                // UdpInjector's raw packets and CorkedDatagram's capture are UDP's
                throw p.refuse("UDP-Lite socket " + d.local() + " holds datagrams not read or not sent yet; giving"
                        + " them back is not supported yet");
            }
            Datagram corked = primary && d.wqueue() > 0 ? takeCorked(p, d, st) : null;
            List<Datagram> queue = new ArrayList<>();
            int unread = Sockets.ioctlInt(p.sock, Sockets.SIOCINQ, "SIOCINQ");
            if (primary && (d.rqueue() > 0 || unread > 0)) {
                long total = 0;
                for (Sockets.Message m : Sockets.peekQueue(p.sock, MAX_DATAGRAM)) {
                    if (m.length() > m.data().length || m.from() == null
                            || (m.from().family() != SockAddr.AF_INET && m.from().family() != SockAddr.AF_INET6)) {
                        throw p.refuse("UDP socket " + d.local() + ": an unread datagram of " + m.length() + " bytes from "
                                + m.from() + " cannot be given back");
                    }
                    total += m.length();
                    if (total > MAX_QUEUED_BYTES || queue.size() >= MAX_QUEUE) {
                        throw p.refuse("UDP socket " + d.local() + ": more than " + MAX_QUEUED_BYTES + " bytes of unread"
                                + " datagrams");
                    }
                    queue.add(new Datagram(m.data(), m.from(), m.to() != null ? m.to() : d.local()));
                }
                String device = boundDevice(p.sock);
                if (!device.isEmpty() && !device.equals("lo")) {
                    givenBackThrough(device, p, d, st, queue);
                }
            }
            return new UdpSocket(p.ino, p.family, d.local(), d.remote(),
                    p.options(true), primary, d.shutdown(), queue,
                    st.portLock(p.ino), corked, p.protocol, error);
        }
    }

    /** The device a socket is bound to (SO_BINDTODEVICE), "" when none. */
    private static String boundDevice(Fd s) {
        return new String(Sockets.getBytes(s, Sockets.SOL_SOCKET, Sockets.SO_BINDTODEVICE, 16),
                java.nio.charset.StandardCharsets.US_ASCII).replace("\0", "");
    }

    /**
     * A socket bound to another device than lo hears only what comes in through it: its unread datagrams are given
     * back through that device ({@link UdpInjector#through}), to its address ({@link #deviceAddress}), which must
     * have one; IPv4 ones only (a raw IPv6 packet out of a device may leave the host). Refused otherwise.
     */
    private static void givenBackThrough(String device, SocketProbe p, SockDiag.InetSocket d, SocketDumpState st,
                                         List<Datagram> queue) {
        String what = "UDP socket " + d.local() + " has unread datagrams and is bound to device " + device
                + " (SO_BINDTODEVICE)";
        if (queue.stream().anyMatch(q -> q.from().unmapped().family() != SockAddr.AF_INET)) {
            throw p.refuse(what + ", some from IPv6 senders; giving those back through a device is not supported");
        }
        int netns = st.netnsOf(p.ino);
        byte[] to = netns == 0 ? deviceAddress(device, d.local())
                : Namespaces.inside(Pid.of(netns), "net", () -> deviceAddress(device, d.local()));
        if (to == null) {
            throw p.refuse(what + ", and the device has " + (wantedAddress(d.local()) == null ? "no IPv4 address"
                    : "not its address") + " up to give them back to; not supported");
        }
    }

    /** The IPv4 address of {@code device} a datagram to the socket at {@code local} is given back to; null: none. */
    private static byte[] deviceAddress(String device, SockAddr local) {
        return UdpInjector.localThrough(device, wantedAddress(local));
    }

    /** The IPv4 address a socket bound to {@code local} hears only; null for the wildcard. */
    private static byte[] wantedAddress(SockAddr local) {
        SockAddr l = local.unmapped();
        return l.family() == SockAddr.AF_INET && !l.isAnyAddress() ? l.address() : null;
    }

    /**
     * The datagram a socket holds corked (UDP_CORK, MSG_MORE), caught on its way out and corked again at
     * once, so a tree that runs on (-R, a failed dump) still holds it; inside the socket's net namespace
     * when it is one of the tree's. Null when its send queue holds only datagrams handed to IP already
     * (waiting for neighbour discovery, in a qdisc): those are the kernel's, as on the wire, and a UDP
     * datagram may be lost.
     */
    private static Datagram takeCorked(SocketProbe p, SockDiag.InetSocket d, SocketDumpState st) {
        String what = "UDP socket " + d.local() + " holds bytes written but not sent yet (UDP_CORK or MSG_MORE)";
        if ((d.shutdown() & 2) != 0) {
            throw p.refuse(what + " and is shut for writing: they could not be corked again");
        }
        if (Sockets.getInt(p.sock, Sockets.SOL_UDP, Sockets.UDP_SEGMENT) != 0) {
            throw p.refuse(what + " with UDP_SEGMENT (GSO) set; carrying them is not supported");
        }
        boolean corkOption = Sockets.getInt(p.sock, Sockets.SOL_UDP, Sockets.UDP_CORK) != 0;
        String table = "cryo_cork_" + ProcessHandle.current().pid() + "_" + p.ino;
        int netns = st.netnsOf(p.ino);
        CorkedDatagram.Pending taken;
        try {
            taken = netns == 0 ? CorkedDatagram.take(p.sock, d.local(), table)
                    : Namespaces.inside(Pid.of(netns), "net", () -> CorkedDatagram.take(p.sock, d.local(), table));
        } catch (RuntimeException e) {
            throw p.refuse(what + ": " + e.getMessage());
        }
        if (taken == null) { // uncorking pushed nothing: the option goes back on, as the program left it
            if (corkOption) {
                Sockets.setInt(p.sock, Sockets.SOL_UDP, Sockets.UDP_CORK, 1);
            }
            return null;
        }
        CorkedDatagram.cork(p.sock, taken, corkOption);
        return new Datagram(taken.data(), taken.from(), taken.to());
    }

    @Override
    public void show(UdpSocket u, Map<String, Object> m) {
        m.put("kind", u.kind());
        m.put("inode", u.ino());
        m.put("local", u.local().toString());
        if (u.remote().port() != 0) {
            m.put("remote", u.remote().toString());
        }
        m.put("options", u.options().show());
        if (!u.queue().isEmpty()) {
            m.put("unreadDatagrams", u.queue().size());
        }
        if (u.shutdown() != 0) {
            m.put("shutdown", Sockets.shutdownName(u.shutdown()));
        }
        if (u.error() != 0) {
            m.put("unreadError", dev.cryo.kernel.Errno.name(u.error())); // made again by an ICMP error of cryo's
        }
        if (u.corked() != null) {
            m.put("corked", u.corked().data().length + " bytes to " + u.corked().to());
        }
        if (!u.lockTable().isEmpty()) { // datagrams to its port dropped until the restore
            m.put("networkLock", u.lockTable());
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
    public int reuseportIndex(UdpSocket u) {
        return u.options().reuseportIndex();
    }

    @Override
    public void create(UdpSocket u, SocketHub hub) {
        Fd s = Sockets.socket(u.family(), Sockets.SOCK_DGRAM, u.protocol());
        hub.put(u.ino(), s);
        u.options().apply(s);
        hub.lockedBy(u.lockTable());
        if (u.local().port() != 0) {
            Sockets.bindInet(s, addressByConnect(u, s) ? new SockAddr(u.family(), new byte[16], u.local().port()) : u.local());
        }
        u.options().attachReuseportFilter(s);
        if (u.remote().port() == 0 && !u.queue().isEmpty()) {
            // at once: clients may go on sending to the port now bound, and their datagrams came later
            int before = reuseportMembersBefore(u, hub);
            if (before > 0) {
                // the group picks the socket of each datagram, by its hash over the members it has so far
                // (or by its program): for the fill, a program that picks this one, the last to join
                Sockets.attachReuseportFilter(s, Sockets.pickMember(before));
            }
            fill(s, u);
            if (before > 0 && u.options().get(Sockets.SOL_SOCKET, Sockets.SO_ATTACH_REUSEPORT_CBPF) != null) {
                u.options().attachReuseportFilter(s);
            } else if (before > 0) {
                Sockets.detachReuseportFilter(s);
            }
        }
    }

    /**
     * Whether the connected IPv6 socket {@code u} got its address from its connect (bound to the port
     * alone, or not bound at all): a bind to an IPv6 address sets IPV6_V6ONLY, which it does not have
     * (the options made on {@code s} say). It is bound to the port alone again, and its connect picks the
     * same address (checked in {@link #finish}); bound to the address, it came back IPv6-only.
     */
    private static boolean addressByConnect(UdpSocket u, Fd s) {
        return u.family() == SockAddr.AF_INET6 && u.remote().port() != 0 && !u.local().isAnyAddress()
                && !u.local().isV4Mapped() && Sockets.getInt(s, Sockets.SOL_IPV6, Sockets.IPV6_V6ONLY) == 0;
    }

    /** How many sockets of the image are in the SO_REUSEPORT group of {@code u} already (bound before it). */
    private static int reuseportMembersBefore(UdpSocket u, SocketHub hub) {
        if (u.local().port() == 0 || u.options().get(Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT) == null) {
            return 0;
        }
        return (int) hub.records(UdpSocket.class).stream().filter(o -> o.ino() != u.ino() && hub.has(o.ino())
                && o.family() == u.family() && o.protocol() == u.protocol() && o.local().equals(u.local())
                && o.options().get(Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT) != null).count();
    }

    @Override
    public void connect(UdpSocket u, SocketHub hub) {}

    @Override
    public void finish(UdpSocket u, SocketHub hub) {
        Fd s = hub.get(u.ino());
        if (u.remote().port() != 0) {
            boolean byConnect = addressByConnect(u, s);
            Sockets.connect(s, u.remote());
            SockAddr local = Sockets.sockName(s);
            if (byConnect && !local.equals(u.local())) { // bound to its port alone: the route picked the address
                throw new RestoreException(u.kind() + " " + u.local() + " -> " + u.remote() + " came back from " + local
                        + ": the route to its peer now leaves from another address");
            }
        }
        if (u.remote().port() != 0 && !u.queue().isEmpty()) {
            fill(s, u); // once connected: the socket takes datagrams from its peer only
        }
        if (u.corked() != null) { // the options made UDP_CORK as it was; without it the bytes came with MSG_MORE
            CorkedDatagram.cork(s, new CorkedDatagram.Pending(u.corked().data(), u.corked().from(), u.corked().to()),
                    Sockets.getInt(s, Sockets.SOL_UDP, Sockets.UDP_CORK) != 0);
        }
        if (u.shutdown() != 0) {
            // the kernel records the shutdown even on an unconnected socket, and then says ENOTCONN
            Sockets.shutdownMask(s, u.shutdown(), u.remote().port() == 0);
        }
        if (u.error() != 0) { // last: the fill's look at the queue and the cork's send would take it
            makeError(s, u.local(), u.remote(), u.error());
        }
    }

    /** Queues u's unread datagrams again, in order, each from its original sender. */
    private static void fill(Fd s, UdpSocket u) {
        String device = boundDevice(s);
        byte[] deviceAddress = null;
        if (!device.isEmpty() && !device.equals("lo")) { // heard through that device only (givenBackThrough)
            deviceAddress = deviceAddress(device, u.local());
            if (deviceAddress == null) {
                throw new RestoreException("UDP socket " + u.local() + " is bound to device " + device + ", which has no"
                        + " IPv4 address up to give its " + u.queue().size() + " unread datagrams back to");
            }
        }
        try (UdpInjector inject = deviceAddress != null ? UdpInjector.through(device) : new UdpInjector()) {
            java.util.Map<String, Boolean> local = new java.util.HashMap<>();
            for (Datagram d : u.queue()) {
                SockAddr from = d.from();
                if (deviceAddress != null) {
                    inject.send(from.unmapped(), new SockAddr(SockAddr.AF_INET, deviceAddress, u.local().port()), d.data());
                    continue;
                }
                SockAddr to = u.local();
                // a wildcard-bound socket's datagram goes to the address it was sent to, while this host has it
                SockAddr sentTo = d.to() == null || d.to().isAnyAddress() ? null
                        : new SockAddr(d.to().family(), d.to().address(), u.local().port());
                if (sentTo != null && !local.computeIfAbsent(sentTo.toString(), k -> isLocal(d.to()))) {
                    sentTo = null;
                }
                if (from.isV4Mapped()) {
                    // a dual-stack socket's IPv4 sender: an IPv4 packet to the socket's IPv4 side
                    from = from.unmapped();
                    to = to.isV4Mapped() ? to.unmapped()
                            : sentTo != null && sentTo.family() == SockAddr.AF_INET ? sentTo
                            : new SockAddr(SockAddr.AF_INET, new byte[] {127, 0, 0, 1}, to.port());
                } else if (to.isAnyAddress() && sentTo != null && sentTo.family() == to.family()) {
                    to = sentTo;
                } else if (to.isAnyAddress()) {
                    byte[] loopback = new byte[to.address().length];
                    loopback[loopback.length - 1] = 1;
                    if (loopback.length == 4) {
                        loopback[0] = 127;
                    }
                    to = new SockAddr(to.family(), loopback, to.port());
                }
                inject.send(from, to, d.data());
            }
        }
        // every one must be there, in order; a client's new datagram may have come in meanwhile
        int found = 0;
        for (Sockets.Message m : Sockets.peekQueue(s, MAX_DATAGRAM)) {
            if (found < u.queue().size() && java.util.Arrays.equals(u.queue().get(found).data(), 0,
                    u.queue().get(found).data().length, m.data(), 0, m.length())) {
                found++;
            }
        }
        if (found != u.queue().size()) {
            throw new RestoreException("UDP socket " + u.local() + ": " + found + " of its " + u.queue().size()
                    + " unread datagrams could be queued again");
        }
    }

    /**
     * Whether {@code a} is a unicast address of this host: a socket binds to it (so it is local, or
     * multicast or broadcast) and, without SO_BROADCAST, connects to it (so it is not broadcast). A
     * multicast or broadcast destination's datagram is given back to the loopback address.
     */
    private static boolean isLocal(SockAddr a) {
        if (a.inetAddress().isMulticastAddress()) {
            return false;
        }
        try (Fd probe = Sockets.socket(a.family(), Sockets.SOCK_DGRAM, Sockets.IPPROTO_UDP)) {
            Sockets.bind(probe, new SockAddr(a.family(), a.address(), 0));
            Sockets.connect(probe, new SockAddr(a.family(), a.address(), 9));
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
