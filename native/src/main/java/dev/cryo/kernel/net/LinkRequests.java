package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.Sockets.*;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.SyscallException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * rtnetlink requests made in the calling thread's net namespace without an ip process (fork, exec and netlink:
 * 25-45 ms each in a migrated container's restore at load 11-33, its downtime): a veth pair, an address, a device up,
 * a device's master, a unicast route. Each is sent and acknowledged before the next, as {@code ip -batch} does them; a refused one
 * throws with {@code shown} (the ip command it stands for) and the kernel's error.
 */
public final class LinkRequests implements AutoCloseable {
    private final Fd socket;
    private int seq;

    private LinkRequests(Fd socket) {
        this.socket = socket;
    }

    /** A rtnetlink socket of the calling thread's net namespace. */
    public static LinkRequests open() {
        Fd s = Sockets.socket(SockAddr.AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
        try {
            Sockets.bind(s, SockAddr.netlink(0, 0));
            Sockets.setBytes(s, SOL_SOCKET, SO_RCVTIMEO, ByteBuffer.allocate(16).order(ByteOrder.nativeOrder())
                    .putLong(30).putLong(0).array());
            return new LinkRequests(s);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** One end of a veth pair: name, MAC (6 bytes), MTU, ifindex (0: the kernel's choice). */
    public record End(String name, byte[] mac, int mtu, int index) {}

    /**
     * A veth pair, {@code end} here and {@code peer} in the net namespace of task {@code peerNsPid} (0: here too),
     * both down.
     */
    public void veth(End end, End peer, int peerNsPid, String shown) {
        Message m = new Message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(end.index(), 0, 0);
        linkAttributes(m, end);
        int info = m.nest(IFLA_LINKINFO);
        m.string(IFLA_INFO_KIND, "veth");
        int data = m.nest(IFLA_INFO_DATA);
        int p = m.nest(VETH_INFO_PEER);
        m.ifinfo(peer.index(), 0, 0);
        linkAttributes(m, peer);
        if (peerNsPid != 0) {
            m.u32(IFLA_NET_NS_PID, peerNsPid);
        }
        m.close(p);
        m.close(data);
        m.close(info);
        request(m, shown);
    }

    private static void linkAttributes(Message m, End e) {
        m.string(IFLA_IFNAME, e.name());
        if (e.mac() != null) {
            m.bytes(IFLA_ADDRESS, e.mac());
        }
        if (e.mtu() > 0) {
            m.u32(IFLA_MTU, e.mtu());
        }
    }

    /** An address ({@code ip addr add A/P scope S [label L] [nodad] [noprefixroute] dev D}), 4 or 16 bytes. */
    public void address(int ifindex, byte[] address, int prefix, int scope, int flags, String label, String shown) {
        Message m = new Message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        m.b.put((byte) (address.length == 4 ? SockAddr.AF_INET : SockAddr.AF_INET6)).put((byte) prefix)
                .put((byte) (flags & 0xff)).put((byte) scope).putInt(ifindex); // struct ifaddrmsg
        m.bytes(IFA_LOCAL, address);
        m.bytes(IFA_ADDRESS, address);
        if (label != null) {
            m.string(IFA_LABEL, label);
        }
        m.u32(IFA_FLAGS, flags);
        request(m, shown);
    }

    /** Device {@code ifindex} up ({@code ip link set D up}). */
    public void up(int ifindex, String shown) {
        Message m = new Message(RTM_NEWLINK, 0);
        m.ifinfo(ifindex, IFF_UP, IFF_UP);
        request(m, shown);
    }

    /** Device {@code ifindex} a port of {@code master} ({@code ip link set D master M}). */
    public void master(int ifindex, int master, String shown) {
        Message m = new Message(RTM_NEWLINK, 0);
        m.ifinfo(ifindex, 0, 0);
        m.u32(IFLA_MASTER, master);
        request(m, shown);
    }

    /**
     * A unicast route ({@code ip route add}), as ip sends it: {@code dst} null for default, {@code gateway},
     * {@code prefSrc} null for none, {@code oif} 0 for none, {@code metric} and {@code pref} (IPv6's router preference)
     * null for the kernel's, {@code flags} RTNH_F_ONLINK or 0.
     */
    public record Route(int family, byte[] dst, int dstLen, byte[] gateway, int oif, int table, int protocol, int scope,
                        Integer metric, byte[] prefSrc, int flags, Integer pref) {}

    /** Adds {@code r} ({@code ip route add ...}, NLM_F_CREATE | NLM_F_EXCL as ip's). */
    public void route(Route r, String shown) {
        Message m = new Message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        // struct rtmsg: a table above 255 goes in RTA_TABLE only, as ip sends it
        m.b.put((byte) r.family()).put((byte) r.dstLen()).put((byte) 0).put((byte) 0)
                .put((byte) (r.table() < 256 ? r.table() : 0)).put((byte) r.protocol()).put((byte) r.scope())
                .put((byte) RTN_UNICAST).putInt(r.flags());
        if (r.dst() != null) {
            m.bytes(RTA_DST, r.dst());
        }
        if (r.gateway() != null) {
            m.bytes(RTA_GATEWAY, r.gateway());
        }
        if (r.oif() != 0) {
            m.u32(RTA_OIF, r.oif());
        }
        if (r.metric() != null) {
            m.u32(RTA_PRIORITY, r.metric());
        }
        if (r.prefSrc() != null) {
            m.bytes(RTA_PREFSRC, r.prefSrc());
        }
        if (r.table() >= 256) {
            m.u32(RTA_TABLE, r.table());
        }
        if (r.pref() != null) {
            m.b.putShort((short) 5).putShort((short) RTA_PREF).put((byte) r.pref().intValue()).put(new byte[3]);
        }
        request(m, shown);
    }

    private void request(Message m, String shown) {
        int id = ++seq;
        byte[] msg = m.finish(id);
        try {
            Sockets.sendTo(socket, msg, 0, SockAddr.netlink(0, 0));
            while (true) {
                byte[] answer = Sockets.recv(socket, 8192, 0);
                if (answer == null) {
                    throw new KernelException(shown + ": rtnetlink did not answer within 30 s");
                }
                ByteBuffer a = ByteBuffer.wrap(answer).order(ByteOrder.nativeOrder());
                if (answer.length < 20 || (a.getShort(4) & 0xffff) != NLMSG_ERROR) {
                    throw new KernelException(shown + ": unexpected rtnetlink answer of " + answer.length + " bytes");
                }
                if (a.getInt(8) != id) {
                    continue; // an earlier request's late answer cannot come: each is awaited
                }
                int errno = -a.getInt(16);
                if (errno != 0) {
                    throw new KernelException(shown + " failed: " + Errno.describe(errno));
                }
                return;
            }
        } catch (SyscallException e) {
            throw new KernelException(shown + " failed: " + e.getMessage(), e);
        }
    }

    /** One request: the netlink header, its struct, attributes (each padded to 4 bytes). */
    private static final class Message {
        final ByteBuffer b = ByteBuffer.allocate(1024).order(ByteOrder.nativeOrder());

        Message(int type, int flags) {
            b.putInt(0).putShort((short) type).putShort((short) (NLM_F_REQUEST | NLM_F_ACK | flags)).putInt(0).putInt(0);
        }

        /** struct ifinfomsg: family, index, flags and the flags changed. */
        void ifinfo(int index, int flags, int change) {
            b.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(index).putInt(flags).putInt(change);
        }

        void string(int type, String s) {
            byte[] v = s.getBytes(StandardCharsets.UTF_8);
            byte[] z = new byte[v.length + 1];
            System.arraycopy(v, 0, z, 0, v.length);
            bytes(type, z);
        }

        void u32(int type, int v) {
            b.putShort((short) 8).putShort((short) type).putInt(v);
        }

        void bytes(int type, byte[] v) {
            b.putShort((short) (4 + v.length)).putShort((short) type).put(v);
            while ((b.position() & 3) != 0) {
                b.put((byte) 0);
            }
        }

        /** A nested attribute, without NLA_F_NESTED as ip sends it (a veth's peer is a struct, not attributes). */
        int nest(int type) {
            int at = b.position();
            b.putShort((short) 0).putShort((short) type);
            return at;
        }

        void close(int nest) {
            b.putShort(nest, (short) (b.position() - nest));
        }

        byte[] finish(int seq) {
            b.putInt(0, b.position()).putInt(8, seq);
            byte[] out = new byte[b.position()];
            b.duplicate().flip().get(out);
            return out;
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
