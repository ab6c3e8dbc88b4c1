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
 * ("addr add 10.1.0.2/24 scope global dev veth0", "link set veth0 up", "link set veth0 master br0"). A line of any
 * other form makes {@link #apply} do nothing, and ip does them all as before.
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
        if (!steps.isEmpty()) {
            try (LinkRequests rt = LinkRequests.open(); Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0)) {
                steps.forEach(st -> st.accept(rt, s));
            }
        }
        return true;
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
