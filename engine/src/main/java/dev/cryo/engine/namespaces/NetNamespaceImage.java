package dev.cryo.engine.namespaces;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.codec.ModelFields;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a network namespace a task of the tree made holds beyond its loopback's up/down state
 * (which {@link NamespaceImage} keeps): {@code pid} is that task. {@code sockets}: the inodes of
 * the tree's sockets living in it, rebuilt inside the new namespace once its task is forked;
 * {@code devices}: its veth pairs, one line each ({@link NetDevices}); {@code addresses}: addresses
 * on lo other than the ones bringing it up gives ("10.1.2.3/8 scope global"), and those of its veth
 * ends ("10.1.0.2/24 scope global dev veth0"); {@code routes}: routes a program added (not the kernel's own), in the words
 * {@code ip route add} takes, after the nexthop objects they may name ("nexthop -4 id 10 via ...": {@link NetNexthops}); {@code sysctls}: the net sysctls whose values differ from a new
 * namespace's (path under /proc/sys → value, in the order they are written: {@link NetSysctls};
 * images before, which kept a fixed few whatever their values, read the same); {@code firewall}: its
 * nftables and iptables-nft tables, the text each tool loads back, by tool ({@link NetFilterRules}; none
 * in images before version 3, which refused them); {@code conntrack}: its conntrack table ({@link NetConntrack}; empty
 * in images before version 4, which lost it); {@code expectations}: the table's expectations (none in images before
 * version 5, which refused them).
 */
public record NetNamespaceImage(int pid, List<Long> sockets, List<String> devices, List<String> addresses,
                                List<String> routes, Map<String, String> sysctls, Map<String, String> firewall,
                                List<dev.cryo.kernel.net.ConntrackEntry> conntrack,
                                List<dev.cryo.kernel.net.ConntrackExpectation> expectations) {
    public static final int RECORD_ID = 720;

    public NetNamespaceImage {
        sockets = List.copyOf(sockets);
        devices = List.copyOf(devices);
        addresses = List.copyOf(addresses);
        routes = List.copyOf(routes);
        sysctls = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sysctls));
        firewall = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(firewall));
        conntrack = List.copyOf(conntrack);
        expectations = List.copyOf(expectations);
    }

    public NetNamespaceImage(int pid, List<Long> sockets, List<String> devices, List<String> addresses,
                             List<String> routes, Map<String, String> sysctls, Map<String, String> firewall,
                             List<dev.cryo.kernel.net.ConntrackEntry> conntrack) {
        this(pid, sockets, devices, addresses, routes, sysctls, firewall, conntrack, List.of());
    }

    public NetNamespaceImage(int pid, List<Long> sockets, List<String> devices, List<String> addresses,
                             List<String> routes, Map<String, String> sysctls, Map<String, String> firewall) {
        this(pid, sockets, devices, addresses, routes, sysctls, firewall, List.of());
    }

    /** This namespace with the device lines {@code lines} instead. */
    public NetNamespaceImage withDevices(List<String> lines) {
        return new NetNamespaceImage(pid, sockets, lines, addresses, routes, sysctls, firewall, conntrack, expectations);
    }

    /** This namespace with the conntrack table {@code entries} instead. */
    public NetNamespaceImage withConntrack(List<dev.cryo.kernel.net.ConntrackEntry> entries) {
        return withConntrack(new NetConntrack.Table(entries, List.of()));
    }

    /** This namespace with the conntrack table {@code table} (its entries and expectations) instead. */
    public NetNamespaceImage withConntrack(NetConntrack.Table table) {
        return new NetNamespaceImage(pid, sockets, devices, addresses, routes, sysctls, firewall, table.entries(),
                table.expectations());
    }

    /** The ends of its veth pairs that live in cryo's namespace (a container's link to the host). */
    public List<String> outerEnds() {
        return NetDevices.outerEnds(devices);
    }

    /** For {@code cryo show}. */
    public Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", pid);
        m.put("sockets", sockets);
        if (!devices.isEmpty()) {
            m.put("devices", devices);
        }
        if (!addresses.isEmpty()) {
            m.put("loAddresses", addresses);
        }
        if (!routes.isEmpty()) {
            m.put("routes", routes);
        }
        m.put("sysctls", sysctls);
        if (!firewall.isEmpty()) {
            Map<String, Object> f = new LinkedHashMap<>();
            firewall.forEach((tool, text) -> f.put(tool, text.lines().toList()));
            m.put("firewall", f);
        }
        if (!conntrack.isEmpty()) {
            m.put("conntrackEntries", conntrack.size());
            m.put("conntrack", NetConntrack.json(conntrack));
        }
        if (!expectations.isEmpty()) {
            m.put("conntrackExpectations", expectations.stream().map(e -> e.identity() + ", timeout " + e.timeout() + " s")
                    .toList());
        }
        return m;
    }

    private static final int MAX_SOCKETS = 1 << 16, MAX_LINES = 1024, LINE = 1024, MAX_SYSCTLS = 4096,
            MAX_RULES = 64 << 20, MAX_CONNTRACK = 1 << 20;

    public static final RecordCodec<NetNamespaceImage> CODEC = RecordCodec.of(NetNamespaceImage.class, RECORD_ID, 5,
            (out, n) -> {
                out.writeVarInt(n.pid(), true);
                out.writeVarInt(n.sockets().size(), true);
                n.sockets().forEach(s -> out.writeLong(s));
                writeLines(out, n.devices(), "device");
                writeLines(out, n.addresses(), "address");
                writeLines(out, n.routes(), "route");
                out.writeVarInt(n.sysctls().size(), true);
                n.sysctls().forEach((k, v) -> {
                    ModelFields.writeText(out, k, LINE, "NetNamespaceImage.sysctl");
                    ModelFields.writeText(out, v, LINE, "NetNamespaceImage.sysctl");
                });
                out.writeVarInt(n.firewall().size(), true);
                n.firewall().forEach((tool, text) -> {
                    ModelFields.writeText(out, tool, LINE, "NetNamespaceImage.firewall");
                    ModelFields.writeText(out, text, MAX_RULES, "NetNamespaceImage.firewall");
                });
                ModelFields.writeList(out, NetConntrack.CODEC, n.conntrack(), MAX_CONNTRACK, "NetNamespaceImage.conntrack");
                ModelFields.writeList(out, NetConntrack.EXPECTATION_CODEC, n.expectations(), MAX_CONNTRACK,
                        "NetNamespaceImage.expectations");
            }, (in, version) -> {
                int pid = in.readVarInt(true);
                int n = ModelFields.readCount(in, "NetNamespaceImage", MAX_SOCKETS, "sockets");
                List<Long> sockets = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    sockets.add(in.readLong());
                }
                List<String> devices = version >= 2 ? readLines(in, "device") : List.of();
                List<String> addresses = readLines(in, "address");
                List<String> routes = readLines(in, "route");
                int k = ModelFields.readCount(in, "NetNamespaceImage", MAX_SYSCTLS, "sysctls");
                Map<String, String> sysctls = new LinkedHashMap<>();
                for (int i = 0; i < k; i++) {
                    sysctls.put(text(in, "sysctl"), text(in, "sysctl"));
                }
                Map<String, String> firewall = new LinkedHashMap<>();
                int f = version >= 3 ? ModelFields.readCount(in, "NetNamespaceImage", NetFilterRules.LOADERS.size(), "firewall tools") : 0;
                for (int i = 0; i < f; i++) {
                    String tool = text(in, "firewall tool");
                    if (!NetFilterRules.LOADERS.containsKey(tool)) {
                        throw new KryoException("NetNamespaceImage: unknown firewall tool " + tool);
                    }
                    String rules = ModelFields.readText(in, MAX_RULES, "NetNamespaceImage.firewall");
                    if (rules == null) {
                        throw new KryoException("NetNamespaceImage: no rules for " + tool);
                    }
                    firewall.put(tool, rules);
                }
                List<dev.cryo.kernel.net.ConntrackEntry> conntrack = version >= 4
                        ? ModelFields.readList(in, NetConntrack.CODEC, MAX_CONNTRACK, "NetNamespaceImage.conntrack") : List.of();
                List<dev.cryo.kernel.net.ConntrackExpectation> expectations = version >= 5 ? ModelFields.readList(in,
                        NetConntrack.EXPECTATION_CODEC, MAX_CONNTRACK, "NetNamespaceImage.expectations") : List.of();
                return new NetNamespaceImage(pid, sockets, devices, addresses, routes, sysctls, firewall, conntrack,
                        expectations);
            });

    private static void writeLines(com.esotericsoftware.kryo.io.Output out, List<String> lines, String what) {
        out.writeVarInt(lines.size(), true);
        lines.forEach(l -> ModelFields.writeText(out, l, LINE, "NetNamespaceImage." + what));
    }

    private static List<String> readLines(Input in, String what) {
        int n = ModelFields.readCount(in, "NetNamespaceImage", MAX_LINES, what + "es");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(text(in, what));
        }
        return out;
    }

    private static String text(Input in, String what) {
        String s = ModelFields.readText(in, LINE, "NetNamespaceImage." + what);
        if (s == null) {
            throw new KryoException("NetNamespaceImage: no " + what);
        }
        return s;
    }
}
