package dev.cryo.engine.namespaces;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.LinkRequests;
import dev.cryo.kernel.net.PacketSockets;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * What a restore gives a net namespace's devices, made as rtnetlink requests from the calling thread
 * ({@link LinkRequests}) instead of an ip process each (fork, exec: 25-45 ms apiece of a migrated container's
 * downtime at load 11-33): its veth pairs, and the {@code ip -batch} lines of addresses and devices up or enslaved
 * ("addr add 10.1.0.2/24 scope global dev veth0", "link set veth0 up", "link set veth0 master br0"), and its unicast
 * routes ({@link #routes}: "route add default via 10.1.0.1 dev veth0 scope global"). A line of any other form makes
 * {@link #apply} or {@link #routes} do nothing, and ip does them all as before.
 */
final class LinkSetup {
    private LinkSetup() {}

    private static final Map<String, Integer> SCOPES = Map.of("global", 0, "site", 200, "link", 253, "host", 254, "nowhere", 255);

    /** Does {@code lines} in the calling thread's net namespace, in order; false (nothing done) if one is not understood. */
    static boolean apply(List<String> lines, String where) {
        List<BiConsumer<LinkRequests, Fd>> steps = new ArrayList<>();
        for (String line : lines) {
            BiConsumer<LinkRequests, Fd> step = step(line.strip().split("\\s+"), "ip " + line + " in " + where);
            if (step == null) {
                return false;
            }
            steps.add(step);
        }
        run(steps);
        return true;
    }

    private static void run(List<BiConsumer<LinkRequests, Fd>> steps) {
        if (!steps.isEmpty()) {
            try (LinkRequests rt = LinkRequests.open(); Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0)) {
                steps.forEach(st -> st.accept(rt, s));
            }
        }
    }

    /** The routing tables and protocols ip names (iproute2's rt_tables and rt_protos), the preferences of an IPv6 route. */
    private static final Map<String, Integer> TABLES = Map.of("main", Sockets.RT_TABLE_MAIN, "local", 255, "default", 253);
    private static final Map<String, Integer> PROTOCOLS = Map.ofEntries(Map.entry("redirect", 1), Map.entry("kernel", 2),
            Map.entry("boot", Sockets.RTPROT_BOOT), Map.entry("static", 4), Map.entry("ra", 9), Map.entry("zebra", 11),
            Map.entry("bird", 12), Map.entry("dhcp", 16), Map.entry("keepalived", 18), Map.entry("babel", 42),
            Map.entry("bgp", 186), Map.entry("isis", 187), Map.entry("ospf", 188), Map.entry("rip", 189));
    private static final Map<String, Integer> PREFS = Map.of("low", 3, "medium", 0, "high", 1);

    /**
     * Does the {@code ip FAMILY -batch} lines {@code lines} ("route add 10.2.0.0/16 via 10.1.0.1 dev veth0 metric 100
     * scope global") of {@code family} ("-4" or "-6") in the calling thread's net namespace, in order; false (nothing
     * done) if one is of a form not read here (route types, metrics such as mtu, multipath, expires...).
     */
    static boolean routes(String family, List<String> lines, String where) {
        List<BiConsumer<LinkRequests, Fd>> steps = new ArrayList<>();
        for (String line : lines) {
            BiConsumer<LinkRequests, Fd> step = route(family.equals("-6") ? 16 : 4, line.strip().split("\\s+"),
                    "ip " + family + " " + line + " in " + where);
            if (step == null) {
                return false;
            }
            steps.add(step);
        }
        run(steps);
        return true;
    }

    private static BiConsumer<LinkRequests, Fd> route(int length, String[] w, String shown) {
        if (w.length < 3 || !w[0].equals("route") || !w[1].equals("add")) {
            return null;
        }
        byte[] dst = null;
        int dstLen = 0;
        if (!w[2].equals("default")) {
            int slash = w[2].indexOf('/');
            dst = literal(slash < 0 ? w[2] : w[2].substring(0, slash));
            dstLen = slash < 0 ? length * 8 : number(w[2].substring(slash + 1), length * 8);
            if (dst == null || dst.length != length || dstLen < 0) {
                return null;
            }
        }
        byte[] gateway = null, src = null;
        String dev = null;
        Integer metric = null, pref = null, scope = null;
        int table = Sockets.RT_TABLE_MAIN, protocol = Sockets.RTPROT_BOOT, flags = 0;
        for (int i = 3; i < w.length; i++) {
            if (w[i].equals("onlink")) {
                flags |= Sockets.RTNH_F_ONLINK;
                continue;
            }
            if (i + 1 == w.length) {
                return null;
            }
            String v = w[++i];
            switch (w[i - 1]) {
                case "via" -> gateway = literal(v);
                case "src" -> src = literal(v);
                case "dev" -> dev = v;
                case "metric" -> metric = number(v, -1);
                case "table" -> table = TABLES.getOrDefault(v, number(v, -1));
                case "proto" -> protocol = PROTOCOLS.getOrDefault(v, number(v, 255));
                case "scope" -> scope = SCOPES.getOrDefault(v, number(v, 255));
                case "pref" -> pref = length == 16 ? PREFS.get(v) : null;
                default -> {
                    return null; // types, metrics (mtu, hoplimit...), nexthops, expires: ip's
                }
            }
            boolean bad = switch (w[i - 1]) {
                case "via" -> gateway == null || gateway.length != length;
                case "src" -> src == null || src.length != length;
                case "metric" -> metric < 0;
                case "table" -> table <= 0;
                case "proto" -> protocol < 0;
                case "scope" -> scope < 0;
                case "pref" -> pref == null;
                default -> false;
            };
            if (bad) {
                return null;
            }
        }
        if (scope == null) {
            return null; // ip picks one by the gateway and type
        }
        LinkRequests.Route r = new LinkRequests.Route(length == 16 ? SockAddr.AF_INET6 : SockAddr.AF_INET, dst, dstLen,
                gateway, 0, table, protocol, scope, metric, src, flags, pref);
        String d = dev;
        return (rt, s) -> rt.route(d == null ? r : new LinkRequests.Route(r.family(), r.dst(), r.dstLen(), r.gateway(),
                index(s, d, shown), r.table(), r.protocol(), r.scope(), r.metric(), r.prefSrc(), r.flags(), r.pref()), shown);
    }

    /** A decimal number up to {@code max} (-1: any int), -1 for anything else. */
    private static int number(String s, int max) {
        try {
            int n = Integer.parseInt(s);
            return n < 0 || max >= 0 && n > max ? -1 : n;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static BiConsumer<LinkRequests, Fd> step(String[] w, String shown) {
        if (w.length == 4 && w[0].equals("link") && w[1].equals("set") && w[3].equals("up")) {
            return (rt, s) -> rt.up(index(s, w[2], shown), shown);
        }
        if (w.length == 5 && w[0].equals("link") && w[1].equals("set") && w[3].equals("master")) {
            return (rt, s) -> rt.master(index(s, w[2], shown), index(s, w[4], shown), shown);
        }
        if (w.length < 3 || !w[0].equals("addr") || !w[1].equals("add") || !w[2].contains("/")) {
            return null;
        }
        byte[] address = literal(w[2].substring(0, w[2].indexOf('/')));
        int prefix;
        try {
            prefix = Integer.parseInt(w[2].substring(w[2].indexOf('/') + 1));
        } catch (NumberFormatException e) {
            return null;
        }
        if (address == null || prefix < 0 || prefix > address.length * 8) {
            return null;
        }
        Integer scope = null;
        int flags = 0;
        String label = null, dev = null;
        for (int i = 3; i < w.length; i++) {
            switch (w[i]) {
                case "nodad" -> flags |= Sockets.IFA_F_NODAD;
                case "noprefixroute" -> flags |= Sockets.IFA_F_NOPREFIXROUTE;
                case "scope", "label", "dev" -> {
                    if (++i == w.length) {
                        return null;
                    }
                    if (w[i - 1].equals("scope")) {
                        scope = SCOPES.get(w[i]);
                        if (scope == null) {
                            return null;
                        }
                    } else if (w[i - 1].equals("label")) {
                        label = w[i];
                    } else {
                        dev = w[i];
                    }
                }
                default -> {
                    return null; // peer, brd, lifetimes...: ip's
                }
            }
        }
        if (scope == null || dev == null) {
            return null; // ip picks a scope by the address
        }
        int sc = scope, fl = flags;
        String lb = label, d = dev;
        return (rt, s) -> rt.address(index(s, d, shown), address, prefix, sc, fl, lb, shown);
    }

    private static int index(Fd s, String dev, String shown) {
        try {
            return PacketSockets.ifIndex(s, dev);
        } catch (dev.cryo.kernel.SyscallException e) {
            throw new dev.cryo.kernel.KernelException(shown + " failed: no device " + dev + " (" + e.getMessage() + ")", e);
        }
    }

    /** An IPv4 or IPv6 address literal's bytes, null for anything else (never a name looked up). */
    private static byte[] literal(String a) {
        if (!a.matches("[0-9.]+|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*")) {
            return null;
        }
        try {
            return java.net.InetAddress.getByName(a).getAddress();
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }

    /**
     * A veth pair made in the calling thread's net namespace: {@code end} here, {@code peer} in the net namespace of
     * task {@code peerNsPid} (0: here), as {@code ip link add NAME address MAC mtu MTU index I type veth peer name P
     * ... netns PID} would, {@code shown}.
     */
    static void veth(LinkRequests.End end, LinkRequests.End peer, int peerNsPid, String shown) {
        try (LinkRequests rt = LinkRequests.open()) {
            rt.veth(end, peer, peerNsPid, shown);
        }
    }

    /** A veth end of the image's device line: its name, "aa:bb:cc:dd:ee:ff" MAC, MTU and ifindex ("" or null: any). */
    static LinkRequests.End end(String name, String mac, String mtu, String index) {
        byte[] m = null;
        if (mac != null && !mac.isEmpty()) {
            String[] h = mac.split(":");
            m = new byte[h.length];
            for (int i = 0; i < h.length; i++) {
                m[i] = (byte) Integer.parseInt(h[i], 16);
            }
        }
        return new LinkRequests.End(name, m, mtu == null ? 0 : Integer.parseInt(mtu), index == null ? 0 : Integer.parseInt(index));
    }
}
