package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.Sockets.IPPROTO_UDP;
import static dev.cryo.kernel.net.Sockets.NLMSG_ERROR;
import static dev.cryo.kernel.net.Sockets.NLM_F_ACK;
import static dev.cryo.kernel.net.Sockets.NLM_F_REQUEST;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.SyscallException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The datagram a UDP socket holds corked (UDP_CORK, or sends with MSG_MORE) and has not sent yet.
 * No call reads it back (the UDP_REPAIR options CRIU relies on are not in mainline), so it is
 * pushed out and caught on its way: the socket is uncorked while an nftables rule of cryo's logs
 * the socket's outgoing datagrams to a nfnetlink_log group cryo listens on and drops them, so the
 * datagram reaches neither its destination nor the wire. The push is synchronous: the copy is in
 * cryo's netlink socket when setsockopt returns (the rule's queue threshold of 1 sends each at once).
 * The caller corks it again ({@link #cork}). A socket's send queue also counts datagrams already
 * handed to IP (waiting in a neighbour's queue for ARP or neighbour discovery, or in a qdisc): those
 * are below the output hook, so uncorking lets nothing out, which tells them from corked bytes.
 */
public final class CorkedDatagram {
    private CorkedDatagram() {}

    /** The corked bytes, the address they were sent from and the one they go to. */
    public record Pending(byte[] data, SockAddr from, SockAddr to) {}

    private static final int NETLINK_NETFILTER = Sockets.NETLINK_NETFILTER, NFNL_SUBSYS_ULOG = 4, NFULNL_MSG_PACKET = 0, NFULNL_MSG_CONFIG = 1;
    private static final int NFULA_CFG_CMD = 1, NFULA_CFG_MODE = 2, NFULNL_CFG_CMD_BIND = 1, NFULNL_COPY_PACKET = 2;
    private static final int NFULA_PAYLOAD = 9;
    private static final int MAX_PACKET = 65_535 + 60;

    /**
     * Takes the datagram {@code s} (bound to {@code local}) holds corked, leaving it uncorked and
     * empty; null when it holds none (its send queue holds datagrams handed to IP already).
     * {@code table} names the nftables table used for the moment. Runs in the socket's network namespace.
     */
    public static Pending take(Fd s, SockAddr local, String table) {
        NetworkLock.check(table);
        try (Fd nl = Sockets.socket(SockAddr.AF_NETLINK, Sockets.SOCK_RAW | Sockets.SOCK_CLOEXEC, NETLINK_NETFILTER)) {
            int group = bindGroup(nl);
            NetworkLock.commit(rule(table, local, group), "install the rule catching a corked datagram " + table);
            List<byte[]> packets;
            try {
                Sockets.setInt(s, Sockets.SOL_UDP, Sockets.UDP_CORK, 0); // pushes the pending datagram
                packets = drain(nl);
            } finally {
                NetworkLock.commit(new NfBatch().newTable(table).delTable(table),
                        "remove the rule catching a corked datagram " + table);
            }
            if (packets.isEmpty()) {
                return null;
            }
            if (packets.size() != 1) {
                throw new KernelException("UDP socket " + local + ": uncorking it let " + packets.size()
                        + " datagrams from its port out (1 expected); the corked bytes cannot be told apart");
            }
            return parse(packets.get(0), local);
        }
    }

    /** Corks {@code p} again in {@code s}: under UDP_CORK if {@code corkOption}, else as a send with MSG_MORE. */
    public static void cork(Fd s, Pending p, boolean corkOption) {
        if (corkOption) {
            Sockets.setInt(s, Sockets.SOL_UDP, Sockets.UDP_CORK, 1);
        }
        int sent = Sockets.sendTo(s, p.data(), corkOption ? 0 : Sockets.MSG_MORE, p.to());
        if (sent != p.data().length) {
            throw new KernelException("UDP socket " + p.from() + ": " + sent + " of " + p.data().length
                    + " corked bytes could be corked again");
        }
    }

    /** Binds a free nfnetlink_log group in copy-packet mode; returns its number. */
    private static int bindGroup(Fd nl) {
        for (int tries = 0; ; tries++) {
            int group = ThreadLocalRandom.current().nextInt(0x4000, 0x10000);
            try {
                config(nl, group, NFULA_CFG_CMD, new byte[] {NFULNL_CFG_CMD_BIND});
            } catch (SyscallException e) {
                if ((e.is(Errno.EBUSY) || e.is(Errno.EPERM)) && tries < 16) {
                    continue; // another listener has it
                }
                throw e;
            }
            ByteBuffer mode = ByteBuffer.allocate(6).order(ByteOrder.BIG_ENDIAN);
            mode.putInt(MAX_PACKET).put((byte) NFULNL_COPY_PACKET).put((byte) 0);
            config(nl, group, NFULA_CFG_MODE, mode.array());
            return group;
        }
    }

    private static void config(Fd nl, int group, int attr, byte[] value) {
        NetlinkWriter w = new NetlinkWriter();
        int m = w.message(NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, 1, NfTablesAbi.NFPROTO_UNSPEC, group);
        w.bytes(attr, value);
        w.end(m);
        Sockets.sendTo(nl, w.toArray(), 0, SockAddr.netlink(0, 0));
        byte[] ack = Sockets.recv(nl, 4096, 0);
        ByteBuffer a = ByteBuffer.wrap(ack).order(ByteOrder.nativeOrder());
        if (ack.length >= 20 && (a.getShort(4) & 0xffff) == NLMSG_ERROR && a.getInt(16) != 0) {
            throw new SyscallException("nfnetlink_log(bind group " + group + ")", -a.getInt(16));
        }
    }

    /** Logs and drops every UDP datagram leaving from {@code local}'s port (and address, unless a wildcard). */
    private static NfBatch rule(String table, SockAddr local, int group) {
        NfRule r = new NfRule().metaIs(NfTablesAbi.NFT_META_L4PROTO, IPPROTO_UDP);
        if (!local.isAnyAddress()) {
            boolean v4 = local.inetAddress() instanceof java.net.Inet4Address;
            r.metaIs(NfTablesAbi.NFT_META_NFPROTO, v4 ? NfTablesAbi.NFPROTO_IPV4 : NfTablesAbi.NFPROTO_IPV6)
                    .payloadIs(NfTablesAbi.NFT_PAYLOAD_NETWORK_HEADER, v4 ? 12 : 8, local.inetAddress().getAddress());
        }
        r.payloadIs(NfTablesAbi.NFT_PAYLOAD_TRANSPORT_HEADER, 0, new byte[] {(byte) (local.port() >> 8), (byte) local.port()})
                .log(group, MAX_PACKET, 1).verdict(NfTablesAbi.NF_DROP);
        return new NfBatch().newTable(table).delTable(table).newTable(table)
                .newChain(table, "out", NfTablesAbi.NF_INET_LOCAL_OUT, -300).newRule(table, "out", r);
    }

    /**
     * The payloads of the packets logged so far. They are there when the uncorking returns (a threshold of
     * one packet); the first is waited for a little all the same, in case the kernel's log ran late.
     */
    private static List<byte[]> drain(Fd nl) {
        List<byte[]> out = new ArrayList<>();
        for (int waited = 0; ; waited++) {
            byte[] b = Sockets.recv(nl, MAX_PACKET + 512, Sockets.MSG_DONTWAIT);
            if (b == null) {
                if (!out.isEmpty() || waited >= 50) {
                    return out;
                }
                sleep();
                continue;
            }
            ByteBuffer m = ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
            for (int off = 0; off + 16 <= b.length; ) {
                int len = m.getInt(off);
                if (len < 16 || off + len > b.length) {
                    break;
                }
                if ((m.getShort(off + 4) & 0xffff) == (NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET)) {
                    ByteBuffer body = ByteBuffer.wrap(Arrays.copyOfRange(b, off + 16, off + len)).order(ByteOrder.nativeOrder());
                    for (SockDiag.Attr a : SockDiag.attrs(body, 4)) {
                        if (a.type() == NFULA_PAYLOAD) {
                            out.add(a.bytes());
                        }
                    }
                }
                off += (len + 3) & ~3;
            }
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted while catching a corked datagram");
        }
    }

    /** The UDP payload and addresses of an IPv4 or IPv6 packet; IPv4 ones for an IPv6 socket as v4-mapped. */
    static Pending parse(byte[] pkt, SockAddr local) {
        ByteBuffer b = ByteBuffer.wrap(pkt).order(ByteOrder.BIG_ENDIAN);
        int version = pkt.length > 0 ? (pkt[0] & 0xff) >> 4 : 0;
        int udp;
        byte[] src, dst;
        if (version == 4 && pkt.length >= 20 && pkt[9] == IPPROTO_UDP) {
            udp = (pkt[0] & 0xf) * 4;
            src = Arrays.copyOfRange(pkt, 12, 16);
            dst = Arrays.copyOfRange(pkt, 16, 20);
            if (local.family() == SockAddr.AF_INET6) {
                src = mapped(src);
                dst = mapped(dst);
            }
        } else if (version == 6 && pkt.length >= 40 && pkt[6] == IPPROTO_UDP) {
            udp = 40;
            src = Arrays.copyOfRange(pkt, 8, 24);
            dst = Arrays.copyOfRange(pkt, 24, 40);
        } else {
            throw new KernelException("UDP socket " + local + ": the datagram caught after uncorking is not a plain"
                    + " IPv4 or IPv6 UDP packet (IP options or extension headers?)");
        }
        int udpLen = udp + 8 <= pkt.length ? b.getShort(udp + 4) & 0xffff : -1;
        if (udpLen < 8 || udp + udpLen > pkt.length) {
            throw new KernelException("UDP socket " + local + ": the datagram caught after uncorking was cut short ("
                    + pkt.length + " bytes)");
        }
        int family = local.family();
        return new Pending(Arrays.copyOfRange(pkt, udp + 8, udp + udpLen),
                new SockAddr(family, src, b.getShort(udp) & 0xffff), new SockAddr(family, dst, b.getShort(udp + 2) & 0xffff));
    }

    private static byte[] mapped(byte[] v4) {
        byte[] a = new byte[16];
        a[10] = (byte) 0xff;
        a[11] = (byte) 0xff;
        System.arraycopy(v4, 0, a, 12, 4);
        return a;
    }
}
