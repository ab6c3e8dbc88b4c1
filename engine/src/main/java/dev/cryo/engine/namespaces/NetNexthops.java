package dev.cryo.engine.namespaces;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The kernel's nexthop objects of a net namespace ({@code ip nexthop}, Linux 5.3+), which routes name
 * by id ({@code nhid 10}): FRR's zebra installs every route it learns that way. Kept among the
 * namespace's routes in {@link NetNamespaceImage} as "nexthop -4 id 10 via 10.1.0.3 dev veth0 proto
 * zebra" (single ones by family, a group after its members: "nexthop id 20 group 10/11,3") and made
 * again before the routes, with the same ids.
 */
final class NetNexthops {
    private NetNexthops() {}

    static final String PREFIX = "nexthop ";

    /** What {@code ip nexthop show} prints that {@code ip nexthop add} does not take (the kernel derives it). */
    private static final Set<String> SHOWN_ONLY = Set.of("scope", "unbalanced_time");
    private static final Set<String> FLAGS_SHOWN_ONLY = Set.of("linkdown", "dead", "offload", "trap", "rt_offload",
            "rt_trap", "rt_offload_failed");

    /** The namespace's nexthops as image lines, single ones first; none where the kernel has no nexthop objects. */
    static List<String> scan(Pid p) {
        List<String> all = show(p, null);
        if (all.isEmpty()) { // most namespaces: one command while the tree is frozen
            return List.of();
        }
        List<String> singles = new ArrayList<>(), groups = new ArrayList<>();
        for (String family : List.of("-4", "-6")) { // a device-only nexthop shows no family
            for (String line : show(p, family)) {
                singles.add(entry(family, line));
            }
        }
        for (String line : all) {
            if (line.contains(" group ")) { // of no family: neither -4 nor -6 lists them
                groups.add(entry(null, line));
            }
        }
        singles.addAll(groups);
        return singles;
    }

    static boolean is(String entry) {
        return entry.startsWith(PREFIX);
    }

    /** The {@code ip} command making the nexthop of image line {@code entry}. */
    static List<String> addCommand(String entry) {
        List<String> w = new ArrayList<>(List.of(entry.substring(PREFIX.length()).split(" ")));
        List<String> cmd = new ArrayList<>(List.of("ip"));
        if (w.get(0).startsWith("-")) {
            cmd.add(w.remove(0));
        }
        cmd.addAll(List.of("nexthop", "add"));
        cmd.addAll(w);
        return cmd;
    }

    /**
     * A route naming a nexthop ({@code nhid N}) without the gateways and devices {@code ip route show}
     * spells out from that nexthop, which {@code ip route add} refuses beside an id.
     */
    static List<String> routeWords(List<String> words) {
        if (!words.contains("nhid")) {
            return words;
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < words.size(); i++) {
            String w = words.get(i);
            if (w.equals("via") || w.equals("dev") || w.equals("weight")) {
                i++;
                if (w.equals("via") && i + 1 < words.size() && (words.get(i).equals("inet") || words.get(i).equals("inet6"))) {
                    i++; // "via inet6 fe80::1" of an IPv4 route through an IPv6 gateway
                }
            } else if (!w.equals("nexthop") && !w.equals("onlink")) {
                out.add(w);
            }
        }
        return out;
    }

    private static List<String> show(Pid p, String family) {
        List<String> argv = new ArrayList<>(List.of("ip"));
        if (family != null) {
            argv.add(family);
        }
        argv.addAll(List.of("-o", "nexthop", "show"));
        String out;
        try {
            out = NetnsCommand.run(p, argv.toArray(String[]::new));
        } catch (KernelException e) {
            return List.of(); // a kernel without nexthop objects: no route can name one
        }
        return out.lines().map(String::strip).filter(l -> l.startsWith("id ")).toList();
    }

    /** The image line of a nexthop {@code ip -o nexthop show} printed as {@code shown}; {@code family} null for a group. */
    static String entry(String family, String shown) {
        List<String> out = new ArrayList<>();
        if (family != null) {
            out.add(family);
        }
        String[] w = shown.strip().split("\\s+");
        for (int i = 0; i < w.length; i++) {
            if (SHOWN_ONLY.contains(w[i])) {
                i++;
            } else if (!FLAGS_SHOWN_ONLY.contains(w[i])) {
                out.add(w[i]);
            }
        }
        return PREFIX + String.join(" ", out);
    }
}
