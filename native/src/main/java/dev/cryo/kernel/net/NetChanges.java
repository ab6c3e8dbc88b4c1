package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.Sockets.*;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SyscallException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Whether a net namespace's configuration changed since a moment: the kernel's notifications of it (rtnetlink's
 * groups of devices, addresses, routes, rules, nexthops, per-device settings; xfrm's of IPsec), joined at that
 * moment on sockets opened in the calling thread's net namespace, and nothing queued since. Reading a namespace
 * while its tree runs, then this at the freeze, is as good as reading it frozen; any notification, or more than
 * the receive buffer held, counts as a change.
 */
public final class NetChanges implements AutoCloseable {
    private static final int MAX = 1 << 16;
    private static final int[] CONFIGURATION = {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_RULE,
            RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV6_IFINFO, RTNLGRP_IPV6_PREFIX, RTNLGRP_IPV6_RULE,
            RTNLGRP_IPV4_NETCONF, RTNLGRP_IPV6_NETCONF, RTNLGRP_NEXTHOP};

    private final List<Fd> sockets;
    /** Only link and address notifications of these ifindexes count; null: every notification. */
    private final Set<Integer> devices;

    private NetChanges(List<Fd> sockets, Set<Integer> devices) {
        this.sockets = sockets;
        this.devices = devices;
    }

    /** Every notification of the namespace's configuration (IPsec's too where the kernel has xfrm's netlink). */
    public static NetChanges ofNamespace() {
        List<Fd> s = new ArrayList<>();
        try {
            s.add(joined(NETLINK_ROUTE, CONFIGURATION));
            try {
                s.add(joined(NETLINK_XFRM, new int[] {XFRMNLGRP_SA, XFRMNLGRP_POLICY}));
            } catch (SyscallException e) {
                // no xfrm_user: no IPsec state can be made over netlink, and `ip xfrm` lists none either
            }
            return new NetChanges(s, null);
        } catch (RuntimeException e) {
            s.forEach(Fd::close);
            throw e;
        }
    }

    /**
     * Notifications about some devices of the namespace: their state, settings and addresses. Which devices
     * ({@link #about}) may be told later: what came before is kept and looked at by {@link #seen}.
     */
    public static NetChanges ofDevices() {
        return new NetChanges(List.of(joined(NETLINK_ROUTE, new int[] {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
                RTNLGRP_IPV6_IFADDR})), java.util.concurrent.ConcurrentHashMap.newKeySet());
    }

    /** Notifications about devices {@code ifindexes} count too (a watch {@link #ofDevices}). */
    public void about(Set<Integer> ifindexes) {
        devices.addAll(ifindexes);
    }

    private static Fd joined(int protocol, int[] groups) {
        Fd s = Sockets.socket(SockAddr.AF_NETLINK, SOCK_RAW, protocol);
        try {
            Sockets.bind(s, SockAddr.netlink(0, 0)); // a port of its own: the kernel skips port 0 when it broadcasts
            for (int g : groups) {
                Sockets.setInt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
            }
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** The first change queued since the sockets were opened ("rtnetlink message 20"), null for none. */
    public String seen() {
        for (Fd s : sockets) {
            while (true) {
                byte[] d;
                try {
                    d = Sockets.recv(s, MAX, MSG_DONTWAIT);
                } catch (SyscallException e) {
                    return e.errno() == Errno.ENOBUFS ? "more notifications than the receive buffer held" : e.getMessage();
                }
                if (d == null) {
                    break;
                }
                String change = relevant(d);
                if (change != null) {
                    return change;
                }
            }
        }
        return null;
    }

    private String relevant(byte[] datagram) {
        ByteBuffer b = ByteBuffer.wrap(datagram).order(ByteOrder.nativeOrder());
        for (int off = 0; off + 16 <= datagram.length; ) {
            int len = b.getInt(off), type = b.getShort(off + 4) & 0xffff;
            if (len < 16 || off + len > datagram.length) {
                return "a malformed notification of " + len + " bytes";
            }
            if (devices == null && !kernels(b.duplicate().position(off + 16).limit(off + len).slice()
                    .order(ByteOrder.nativeOrder()), type)) {
                return "notification of kind " + type;
            }
            if (devices == null) {
                off += (len + 3) & ~3;
                continue;
            }
            boolean aboutDevice = type == RTM_NEWLINK || type == RTM_DELLINK || type == RTM_NEWADDR || type == RTM_DELADDR;
            if (aboutDevice && len >= 24 && devices.contains(b.getInt(off + 20))) {
                return "notification of kind " + type + " about device " + b.getInt(off + 20);
            }
            off += (len + 3) & ~3;
        }
        return null;
    }

    /**
     * Whether notification {@code body} of kind {@code type} is about what the kernel makes itself, which a net
     * namespace's image leaves out (it makes them again): an IPv6 link-local address in fe80::/64 (its duplicate
     * address detection ends seconds after the device comes up), a route of protocol kernel.
     */
    private static boolean kernels(ByteBuffer body, int type) {
        if ((type == RTM_NEWROUTE || type == RTM_DELROUTE) && body.limit() >= 12) {
            return (body.get(5) & 0xff) == RTPROT_KERNEL;
        }
        if ((type == RTM_NEWADDR || type == RTM_DELADDR) && body.limit() >= 8 && body.get(0) == SockAddr.AF_INET6
                && (body.get(1) & 0xff) == 64 && (body.get(3) & 0xff) == RT_SCOPE_LINK) {
            for (SockDiag.Attr a : SockDiag.attrs(body, 8)) {
                if (a.type() == IFA_ADDRESS && a.data().remaining() == 16) {
                    return a.data().getLong(0) == ByteBuffer.wrap(new byte[] {(byte) 0xfe, (byte) 0x80, 0, 0, 0, 0, 0, 0})
                            .order(ByteOrder.nativeOrder()).getLong(0);
                }
            }
        }
        return false;
    }

    @Override
    public void close() {
        sockets.forEach(Fd::close);
    }
}
