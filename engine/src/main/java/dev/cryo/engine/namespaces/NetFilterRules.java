package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.NetworkLock;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The firewall of a net namespace the tree made (a container's own filtering and NAT): its nftables
 * tables, those iptables-nft made among them, with their rules, counters, sets and maps with their
 * elements (an element's remaining timeout too: nft lists it as "expires" and takes it back). Each
 * table is kept in the words of the tool that made it, which the restore gives back to the same tool
 * inside the new namespace: iptables-nft's with {@code iptables-nft-save -c} (nft cannot list its
 * comments and xtables matches back), the others with {@code nft list table}. Before keeping them the
 * dump loads them into a new namespace of its own and lists them again: a table that does not come
 * back the same is refused by name. Legacy iptables tables (x_tables) are refused.
 */
final class NetFilterRules {
    private NetFilterRules() {}

    /** The part of each tool, in the order a restore loads them, and the command that loads it from stdin. */
    static final Map<String, List<String>> LOADERS = new LinkedHashMap<>();
    private static final Map<String, String> FAMILY = Map.of("iptables", "ip", "ip6tables", "ip6");

    static {
        LOADERS.put("iptables", List.of("iptables-nft-restore", "-c"));
        LOADERS.put("ip6tables", List.of("ip6tables-nft-restore", "-c"));
        LOADERS.put("nft", List.of("nft", "-f", "-"));
    }

    /** The rules of the net namespace of {@code p}, by tool (none: empty); {@code what} names it in refusals. */
    static Map<String, String> scan(Pid p, String what) {
        String legacy = Namespaces.inside(p, "net", () -> NetNamespaceScan.readOr("/proc/thread-self/net/ip_tables_names", "")
                + NetNamespaceScan.readOr("/proc/thread-self/net/ip6_tables_names", "")).strip();
        if (!legacy.isEmpty()) {
            throw new DumpException(what + " has legacy iptables tables (" + legacy.replace('\n', ' ') + ", x_tables,"
                    + " which only iptables-legacy lists); rules of iptables-legacy inside a net namespace of the tree's"
                    + " are not supported (iptables-nft's are carried)");
        }
        if (NetworkLock.nft() == null) {
            return Map.of(); // no nft here: no nftables tool made any
        }
        Map<String, String> tables = tables(NetnsCommand.run(p, "nft", "list", "ruleset"));
        if (tables.isEmpty()) {
            return Map.of();
        }
        Map<String, String> out = new LinkedHashMap<>();
        Set<String> byIptables = new HashSet<>();
        for (String tool : FAMILY.keySet().stream().sorted().toList()) {
            String save = tool + "-nft-save";
            if (!installed(save)) {
                continue; // its tables, if any, are listed by nft (the check below refuses what nft cannot give back)
            }
            String saved = withoutComments(NetnsCommand.run(p, save, "-c"));
            for (String line : saved.split("\n")) {
                if (line.startsWith("*")) {
                    byIptables.add(FAMILY.get(tool) + " " + line.substring(1).strip());
                }
            }
            if (!saved.isBlank()) {
                out.put(tool, saved);
            }
        }
        StringBuilder nft = new StringBuilder();
        for (String table : tables.keySet()) {
            if (!byIptables.contains(table)) {
                String[] f = table.split(" ");
                nft.append(NetnsCommand.run(p, "nft", "list", "table", f[0], f[1]));
            }
        }
        if (!nft.isEmpty()) {
            out.put("nft", nft.toString());
        }
        Map<String, String> ordered = new LinkedHashMap<>();
        LOADERS.keySet().stream().filter(out::containsKey).forEach(k -> ordered.put(k, out.get(k)));
        List<String> devices = NetDevices.parse(NetnsCommand.run(p, "ip", "-o", "link", "show")).stream()
                .map(NetDevices.Link::name).filter(n -> !n.equals("lo")).toList();
        checkLoadsBack(what, ordered, tables, byIptables, devices);
        return ordered;
    }

    /** Loads {@code rules} (from {@link #scan}) into the net namespace of {@code p}. */
    static void load(Pid p, Map<String, String> rules) {
        rules.forEach((tool, text) -> NetnsCommand.feed(p, text, loader(tool)));
    }

    private static String[] loader(String tool) {
        List<String> argv = LOADERS.get(tool);
        if (argv == null) {
            throw new KernelException("unknown firewall tool " + tool + " in the image");
        }
        return argv.toArray(String[]::new);
    }

    /**
     * Loads {@code rules} into a new net namespace and refuses a table that does not list the same
     * there: nft's tables by nft's listing, iptables-nft's by iptables-nft-save's (iptables-nft-restore
     * makes every built-in chain of a table, where iptables made only those it used). Counter values
     * and remaining timeouts are left out of the comparison: packets from outside may still count while
     * the tree is frozen, and time passes. The namespace's {@code devices} are stood in for by dummy
     * devices of the same names (a rule naming one by its index, {@code iif}, loads once it exists, as
     * at the restore, which makes them before the rules).
     */
    private static void checkLoadsBack(String what, Map<String, String> rules, Map<String, String> want,
                                       Set<String> byIptables, List<String> devices) {
        Map<String, String> got = Namespaces.fresh("net", () -> {
            String ns = "/proc/" + Files.readSymbolicLink(Path.of("/proc/thread-self")) + "/ns/net";
            Map<String, String> listed = new LinkedHashMap<>();
            for (String d : devices) {
                NetnsCommand.feed(ns, "a new net namespace", "", "ip", "link", "add", d, "type", "dummy");
            }
            try {
                rules.forEach((tool, text) -> NetnsCommand.feed(ns, "a new net namespace", text, loader(tool)));
            } catch (KernelException e) {
                throw new DumpException(what + " has firewall rules that do not load into a new net namespace ("
                        + e.getMessage() + "); not supported");
            }
            listed.putAll(tables(NetnsCommand.feed(ns, "a new net namespace", "", "nft", "list", "ruleset")));
            for (String tool : rules.keySet()) {
                if (!tool.equals("nft")) {
                    listed.put(tool, withoutComments(NetnsCommand.feed(ns, "a new net namespace", "", tool + "-nft-save",
                            "-c")));
                }
            }
            return listed;
        });
        for (Map.Entry<String, String> t : want.entrySet()) {
            if (!byIptables.contains(t.getKey())) {
                differs(what, "nftables table " + t.getKey(), t.getValue(), got.get(t.getKey()));
            }
        }
        rules.keySet().stream().filter(k -> !k.equals("nft")).forEach(tool ->
                differs(what, tool + "-nft tables", rules.get(tool), got.get(tool)));
    }

    private static void differs(String what, String table, String want, String got) {
        List<String> a = normalized(want), b = got == null ? List.of() : normalized(got);
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            String x = i < a.size() ? a.get(i) : "(nothing)", y = i < b.size() ? b.get(i) : "(nothing)";
            if (!x.equals(y)) {
                throw new DumpException(what + " has " + table + ", which does not come back the same when loaded"
                        + " into a new net namespace (" + x.strip() + " comes back as " + y.strip() + "); not supported");
            }
        }
    }

    private static List<String> normalized(String text) {
        List<String> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            out.add(line.replaceAll(" expires \\S+", "").replaceAll("packets \\d+ bytes \\d+", "packets bytes")
                    .replaceAll("\\[\\d+:\\d+]", "[:]"));
        }
        return out;
    }

    /** Each table of an {@code nft list ruleset} listing ("inet fw" → its text), in order. */
    static Map<String, String> tables(String listing) {
        Map<String, String> out = new LinkedHashMap<>();
        String name = null;
        StringBuilder b = new StringBuilder();
        for (String line : listing.split("\n")) {
            if (name == null && line.startsWith("table ") && line.endsWith("{")) {
                String[] f = line.split(" ");
                name = f[1] + " " + f[2];
                b.setLength(0);
            }
            if (name != null) {
                b.append(line).append('\n');
                if (line.equals("}")) {
                    out.put(name, b.toString());
                    name = null;
                }
            }
        }
        return out;
    }

    /** iptables-nft-save's text without its dated "# Generated"/"# Completed" lines. */
    private static String withoutComments(String saved) {
        StringBuilder b = new StringBuilder();
        saved.lines().filter(l -> !l.startsWith("#")).forEach(l -> b.append(l).append('\n'));
        return b.toString();
    }

    private static boolean installed(String command) {
        for (String dir : List.of("/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/")) {
            if (Files.isExecutable(Path.of(dir + command))) {
                return true;
            }
        }
        return false;
    }
}
