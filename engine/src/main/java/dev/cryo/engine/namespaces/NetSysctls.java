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
 * TCP keepalive and timeouts, ICMP, per-device conf and neigh, unix, netfilter...) that differ from a
 * new namespace's on this host: those a program or its container changed. Keys are paths under
 * /proc/sys, in the order a restore writes them: conf/all (and ipv4/ip_forward) before conf/default
 * and the rest (a write to all reaches every device), those of the namespace's own devices last (they exist once made again;
 * a device entry is compared with the new namespace's default).
 */
final class NetSysctls {
    private NetSysctls() {}

    private static final Path ROOT = Path.of("/proc/sys");
    private static final Set<String> NOT_DEVICES = Set.of("all", "default", "lo");

    /** Those of the net namespace of {@code p} that differ from a new one's. */
    static Map<String, String> changed(Pid p) {
        Map<String, String> mine = Namespaces.inside(p, "net", NetSysctls::read);
        Map<String, String> fresh = Namespaces.fresh("net", NetSysctls::read);
        List<String> keys = new ArrayList<>(mine.keySet());
        keys.sort(Comparator.comparingInt(NetSysctls::rank));
        Set<String> spread = new java.util.HashSet<>(); // "net/ipv4/conf/*/forwarding" of a changed conf/all entry
        for (String k : keys) {
            String v = mine.get(k), d = fresh.get(isDevice(k) ? asDefault(k) : k);
            if (!v.equals(d) && rank(k) == 0) {
                spread.add(k.equals("net/ipv4/ip_forward") ? "net/ipv4/conf/*/forwarding" : k.replace("/conf/all/", "/conf/*/"));
            }
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : keys) {
            String v = mine.get(k), d = fresh.get(isDevice(k) ? asDefault(k) : k);
            // a device's entry equal to a new one's is kept too when the write to conf/all changes it
            if (!v.equals(d) || spread.contains(k.replaceFirst("/conf/[^/]+/", "/conf/*/"))) {
                out.put(k, v);
            }
        }
        return out;
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
        return key.contains("/conf/all/") || key.equals("net/ipv4/ip_forward") ? 0 : key.contains("/conf/default/") || key.contains("/neigh/default/") ? 1
                : isDevice(key) ? 3 : 2;
    }

    /** Every readable and writable sysctl under net of the calling thread's net namespace. */
    private static Map<String, String> read() throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Stream<Path> files = Files.walk(ROOT.resolve("net"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (!Files.isRegularFile(f) || !Files.isReadable(f) || !Files.isWritable(f)) {
                    continue;
                }
                String v = NetNamespaceScan.readOr(f.toString(), null); // null: unreadable (an unset stable_secret)
                if (v != null) {
                    out.put(ROOT.relativize(f).toString(), v.strip());
                }
            }
        }
        return out;
    }
}
