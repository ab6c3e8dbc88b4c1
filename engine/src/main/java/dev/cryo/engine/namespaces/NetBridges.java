package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The bridges of a net namespace of the tree's (a container runtime's docker0/cni0/podman0 inside
 * a pod or a nested container, lxc's lxcbr0) and their ports, veth or tap ends of that namespace:
 * the bridge dies with the namespace, so the restore makes it again under its ifindex, enslaves its
 * ports, and gives both the settings {@code ip -d link} shows (the IFLA_BR_* ones — STP, its timers,
 * ageing, priority, multicast snooping and querier... — and each port's IFLA_BRPORT_* ones: cost,
 * priority, learning, flooding, hairpin, isolation...) where a new bridge or port has others, then
 * its MAC and MTU. A bridge is one line "bridge name= index= mac= mtu= up= set=KEY:VALUE,...", a
 * port one line "port name= master= set=...", after the devices, in {@link NetDevices}' image lines.
 * Learned forwarding entries and multicast groups are soft state, learned again from traffic; what
 * a program set and a new bridge would not have (static fdb or mdb entries, a VLAN table) is
 * refused by name.
 */
final class NetBridges {
    private NetBridges() {}

    /** The IFLA_BR_* settings {@code ip link set type bridge} takes, as {@code ip -d link} names them. */
    private static final List<String> BRIDGE = List.of("forward_delay", "hello_time", "max_age", "ageing_time",
            "stp_state", "priority", "vlan_filtering", "vlan_protocol", "vlan_default_pvid", "group_fwd_mask",
            "group_address", "mcast_snooping", "no_linklocal_learn", "mcast_vlan_snooping", "mcast_router",
            "mcast_query_use_ifaddr", "mcast_querier", "mcast_hash_elasticity", "mcast_hash_max",
            "mcast_last_member_count", "mcast_startup_query_count", "mcast_last_member_interval",
            "mcast_membership_interval", "mcast_querier_interval", "mcast_query_interval",
            "mcast_query_response_interval", "mcast_startup_query_interval", "mcast_stats_enabled",
            "mcast_igmp_version", "mcast_mld_version", "nf_call_iptables", "nf_call_ip6tables", "nf_call_arptables");

    /** The IFLA_BRPORT_* settings {@code ip link set type bridge_slave} takes (its STP state follows the link). */
    private static final List<String> PORT = List.of("priority", "cost", "hairpin", "guard", "root_block",
            "fastleave", "learning", "flood", "proxy_arp", "proxy_arp_wifi", "mcast_router", "mcast_flood",
            "bcast_flood", "mcast_to_unicast", "neigh_suppress", "group_fwd_mask", "vlan_tunnel", "isolated", "locked");

    static boolean is(String line) {
        return line.startsWith("bridge ") || line.startsWith("port ");
    }

    /**
     * The image line of bridge {@code l} of {@code p}'s namespace, with the link-local addresses the
     * kernel gave it ({@code ll=}): a bridge given its MAC, or without a port, has no carrier, where a
     * new one with none had it, so it would not get them again (zdtm's bridge compares them).
     */
    static String line(Pid p, NetDevices.Link l) {
        return line(l, kernelLinkLocals(p, l.name()));
    }

    /** The same with its kernel link-locals {@code ll}. */
    static String line(NetDevices.Link l, List<String> ll) {
        Map<String, String> s = settings(l.text(), "bridge", BRIDGE);
        return "bridge name=" + l.name() + " index=" + l.index() + " mac=" + l.mac() + " mtu=" + l.mtu() + " up="
                + (l.up() ? 1 : 0) + " set=" + join(s) + (ll.isEmpty() ? "" : " ll=" + String.join(",", ll));
    }

    /** The fe80::/64 addresses of {@code dev}, which the kernel makes from its MAC. */
    private static List<String> kernelLinkLocals(Pid p, String dev) {
        List<String> out = new ArrayList<>();
        for (String line : NetnsCommand.run(p, "ip", "-o", "-6", "addr", "show", "dev", dev).split("\n")) {
            String a = NetNamespaceScan.address(line);
            if (a != null && a.matches("fe80::[0-9a-f:]*/64 scope link")) {
                out.add(a.split(" ")[0]);
            }
        }
        return out;
    }

    /** Once the devices are up: gives bridge {@code d} the kernel's link-local addresses it had and lacks now. */
    static void linkLocals(Pid p, Map<String, String> d) {
        if (!d.containsKey("ll")) {
            return;
        }
        List<String> now = kernelLinkLocals(p, d.get("name"));
        for (String a : d.get("ll").split(",")) {
            if (!a.matches("fe80::[0-9a-f:]*/64")) {
                throw new RestoreException("bad link-local address of bridge " + d.get("name") + " in the image: " + a);
            }
            if (!now.contains(a)) {
                try {
                    NetnsCommand.run(p, "ip", "addr", "add", a, "scope", "link", "dev", d.get("name"));
                } catch (RuntimeException e) {
                    // the kernel's addrconf may make the same address (from the same MAC) after it was looked at
                    if (!kernelLinkLocals(p, d.get("name")).contains(a)) {
                        throw e;
                    }
                }
            }
        }
    }

    /** The image line of port {@code l} of bridge {@code l.master()}. */
    static String portLine(NetDevices.Link l) {
        return "port name=" + l.name() + " master=" + l.master() + " set=" + join(settings(l.text(), "bridge_slave", PORT));
    }

    /**
     * Refuses what the bridges {@code bridges} of {@code p}'s namespace hold that a new one would not:
     * forwarding entries a program added (static, or permanent on an address no device of the
     * namespace has), static multicast groups, a VLAN table (vlan_filtering on). {@code macs}: the
     * namespace's devices' MACs, whose permanent entries the kernel makes.
     */
    static void refuseUncarried(Pid p, String what, List<NetDevices.Link> bridges, Set<String> macs) {
        for (NetDevices.Link b : bridges) {
            if ("1".equals(settings(b.text(), "bridge", BRIDGE).get("vlan_filtering"))) {
                throw new DumpException(what + ": bridge " + b.name() + " filters by VLAN (vlan_filtering 1), and its"
                        + " VLAN table is not carried; not supported");
            }
            for (String e : NetnsCommand.run(p, "bridge", "fdb", "show", "br", b.name()).split("\n")) {
                String[] f = e.strip().split("\\s+");
                List<String> words = List.of(f);
                if (words.contains("master") && (words.contains("static")
                        || words.contains("permanent") && !macs.contains(f[0].toLowerCase()))) {
                    throw new DumpException(what + ": bridge " + b.name() + " has a forwarding entry a program added ("
                            + e.strip() + "); static forwarding entries are not carried (learned ones are learned again)");
                }
            }
            for (String e : mdb(p, b.name()).split("\n")) {
                if (e.contains(" permanent")) {
                    throw new DumpException(what + ": bridge " + b.name() + " has a static multicast group (" + e.strip()
                            + "); static mdb entries are not carried (those snooping learned are learned again)");
                }
            }
        }
    }

    private static String mdb(Pid p, String bridge) {
        try {
            return NetnsCommand.run(p, "bridge", "mdb", "show", "dev", bridge);
        } catch (KernelException e) {
            return ""; // a kernel without multicast snooping has no mdb, so none was set
        }
    }

    /** Makes bridge {@code d} (a line's fields) in {@code p}'s new namespace, down, with a new bridge's settings. */
    static void make(Pid p, Map<String, String> d) {
        NetnsCommand.run(p, "ip", "link", "add", d.get("name"), "index", index(d), "type", "bridge");
    }

    /**
     * Once every device of every namespace is made: enslaves the ports, then gives ports and bridges the
     * settings that differ from what they have now, and the bridges their MAC and MTU (a bridge takes its
     * ports' otherwise: set only where they differ, as ip would keep them set).
     */
    static void link(Pid p, List<Map<String, String>> lines) {
        for (Map<String, String> d : lines) {
            if (d.containsKey("master")) {
                NetnsCommand.run(p, "ip", "link", "set", "dev", d.get("name"), "master", d.get("master"));
                apply(p, d, "bridge_slave", PORT);
            }
        }
        for (Map<String, String> d : lines) {
            if (!d.containsKey("master")) {
                apply(p, d, "bridge", BRIDGE);
                NetDevices.Link now = NetDevices.parse(NetnsCommand.run(p, "ip", "-o", "link", "show", "dev",
                        d.get("name"))).get(0);
                if (!now.mac().equals(d.get("mac"))) {
                    NetnsCommand.run(p, "ip", "link", "set", "dev", d.get("name"), "address", d.get("mac"));
                }
                if (!Integer.toString(now.mtu()).equals(d.get("mtu"))) {
                    NetnsCommand.run(p, "ip", "link", "set", "dev", d.get("name"), "mtu", d.get("mtu"));
                }
            }
        }
    }

    private static void apply(Pid p, Map<String, String> d, String segment, List<String> keys) {
        String text = NetDevices.parse(NetnsCommand.run(p, "ip", "-o", "-d", "link", "show", "dev", d.get("name")))
                .get(0).text();
        Map<String, String> now = settings(text, segment, keys);
        List<String> cmd = new ArrayList<>(List.of("ip", "link", "set", "dev", d.get("name"), "type", segment));
        for (String kv : d.getOrDefault("set", "").split(",")) {
            int colon = kv.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String k = kv.substring(0, colon), v = kv.substring(colon + 1);
            if (!keys.contains(k)) {
                throw new RestoreException("bad " + segment + " setting of " + d.get("name") + " in the image: " + kv);
            }
            if (!v.equals(now.get(k))) {
                cmd.addAll(List.of(k, v));
            }
        }
        if (cmd.size() > 7) {
            NetnsCommand.run(p, cmd.toArray(String[]::new));
        }
    }

    /**
     * The values of {@code keys} in the part of {@code ip -o -d link} line {@code text} that starts with
     * {@code segment} ("bridge forward_delay 1500 ...", "bridge_slave state disabled priority 32 ...").
     */
    static Map<String, String> settings(String text, String segment, List<String> keys) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String part : text.split("\\\\")) {
            String[] f = part.strip().split("\\s+");
            if (!f[0].equals(segment)) {
                continue;
            }
            for (int i = 1; i + 1 < f.length; i++) {
                if (keys.contains(f[i]) && !out.containsKey(f[i])) {
                    out.put(f[i], f[i + 1]);
                    i++;
                }
            }
        }
        return out;
    }

    private static String join(Map<String, String> s) {
        List<String> out = new ArrayList<>();
        s.forEach((k, v) -> out.add(k + ":" + v));
        return String.join(",", out);
    }

    private static String index(Map<String, String> d) {
        int i = Integer.parseInt(d.get("index"));
        if (i < 2) {
            throw new RestoreException("bad ifindex " + i + " of bridge " + d.get("name") + " in the image");
        }
        return Integer.toString(i);
    }
}
