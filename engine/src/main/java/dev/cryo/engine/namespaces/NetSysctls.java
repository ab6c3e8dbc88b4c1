package dev.cryo.engine.namespaces;

import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The sysctls of a net namespace (everything under /proc/sys/net a task of it may read and write:
 * TCP keepalive and timeouts, ICMP, per-device conf and neigh, unix, netfilter...) that a restore writes:
 * those that differ from a new namespace's on this host (a program or its container changed them), and
 * every entry of conf/all and conf/default. Keys are paths under /proc/sys, in the order a restore writes
 * them: conf/all/forwarding (and ipv4/ip_forward), the rest of conf/all, conf/default, the others, those
 * of the namespace's own devices last (they exist once made again; a device entry is compared with the
 * new namespace's default).
 *
 * <p>The kernel writes some entries as it writes others: conf/all/forwarding sets conf/all/accept_redirects
 * to its opposite, conf/default/forwarding and every device's forwarding; conf/all/disable_ipv6 sets
 * conf/default's and every device's; conf/default reaches every device not set on its own (and a device
 * made later starts from it); stable_secret sets addr_gen_mode to stable privacy. So an entry equal to a new namespace's may still differ once those are
 * written: conf/all and conf/default are kept whole, and a device's (lo's too) entry is kept when conf/all
 * or conf/default of that entry is written.
 */
final class NetSysctls {
    private NetSysctls() {}

    private static final Path ROOT = Path.of("/proc/sys");
    private static final Set<String> NOT_DEVICES = Set.of("all", "default", "lo");

    /** Those of the net namespace of {@code p} a restore writes. */
    static Map<String, String> changed(Pid p) {
        return changed(all(p));
    }

    /** Every sysctl of the net namespace of {@code p}, as it is now. */
    static Map<String, String> all(Pid p) {
        return Namespaces.inside(p, "net", NetSysctls::read);
    }

    /** The calling thread's net namespace's sysctl files kept open, read again at a freeze ({@link KeptSysctls}). */
    static KeptSysctls kept() throws IOException {
        return KeptSysctls.of(files());
    }

    /** Every sysctl of a new net namespace on this host. */
    static Map<String, String> fresh() {
        return Namespaces.fresh("net", NetSysctls::read);
    }

    /** Those of {@code mine} (a namespace's {@link #all}) a restore writes. */
    static Map<String, String> changed(Map<String, String> mine) {
        Map<String, String> fresh = fresh();
        List<String> keys = new ArrayList<>(mine.keySet());
        // a write to stable_secret sets addr_gen_mode to stable privacy: the secret goes first
        keys.sort(Comparator.comparingInt(NetSysctls::rank).thenComparing(k -> !k.endsWith("/stable_secret")));
        Set<String> spread = new java.util.HashSet<>(); // "net/ipv4/conf/*/forwarding" of a changed conf/all or default entry
        for (String k : keys) {
            if (!mine.get(k).equals(fresh.get(k)) && rank(k) <= 2) {
                spread.add(k.equals("net/ipv4/ip_forward") ? "net/ipv4/conf/*/forwarding"
                        : k.replaceFirst("/(conf|neigh)/(all|default)/", "/$1/*/"));
            }
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : keys) {
            String v = mine.get(k), d = fresh.get(isDevice(k) ? asDefault(k) : k);
            if (!v.equals(d) || rank(k) <= 2 || spread.contains(k.replaceFirst("/(conf|neigh)/[^/]+/", "/$1/*/"))) {
                out.put(k, v);
            }
        }
        return out;
    }

    /** The sysctls of the net namespace of {@code p} whose values are not a new namespace's (a device's: its default's). */
    static List<String> differing(Pid p) {
        Map<String, String> fresh = fresh();
        return all(p).entrySet().stream().filter(e -> !e.getValue().equals(fresh.containsKey(e.getKey())
                ? fresh.get(e.getKey()) : fresh.get(asDefault(e.getKey())))).map(Map.Entry::getKey).toList();
    }

    /** Whether {@code key} is an entry of one of the namespace's own devices (net/ipv4/conf/veth0/...), made after the first writes. */
    static boolean isDevice(String key) {
        String[] f = key.split("/");
        return f.length >= 5 && (f[2].equals("conf") || f[2].equals("neigh")) && !NOT_DEVICES.contains(f[3]);
    }

    private static String asDefault(String key) {
        String[] f = key.split("/", 5);
        return f[0] + "/" + f[1] + "/" + f[2] + "/default/" + f[4];
    }

    private static int rank(String key) {
        // ipv4/ip_forward is conf/all/forwarding under another name: it too reaches every device
        return key.endsWith("/conf/all/forwarding") || key.equals("net/ipv4/ip_forward") ? 0 : key.contains("/conf/all/") ? 1
                : key.contains("/conf/default/") || key.contains("/neigh/default/") ? 2 : isDevice(key) ? 4 : 3;
    }

    /** Every readable and writable sysctl under net of the calling thread's net namespace. */
    private static Map<String, String> read() throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (String f : files()) {
            String v = NetNamespaceScan.readOr(f, null); // null: unreadable (an unset stable_secret)
            if (v != null) {
                out.put(ROOT.relativize(Path.of(f)).toString(), v.strip());
            }
        }
        return out;
    }

    /** The paths of every readable and writable file under /proc/sys/net of the calling thread's net namespace. */
    private static List<String> files() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(ROOT.resolve("net"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f) && Files.isReadable(f) && Files.isWritable(f)) {
                    out.add(f.toString());
                }
            }
        }
        return out;
    }
}
