package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;

/**
 * Reads a network namespace a task of the tree made (an {@code unshare -n} container, a sandbox), or one
 * bound on the host the tree is in ({@link #boundAt}: only its sockets, the restore joins it again),
 * and refuses what a restore cannot make again. Carried: its loopback up or down, addresses and
 * routes (and the nexthop objects they name, {@link NetNexthops}), its veth pairs and tun/tap devices ({@link NetDevices}), the sysctls it changed ({@link NetSysctls}), and the tree's sockets
 * living in it, which the restore rebuilds inside the new namespace, its firewall ({@link NetFilterRules}) and, read
 * later with the tree's connections held, its conntrack table ({@link NetConntrack}).
 * Refused by name: other device kinds (bridges, macvlan...), IPsec, legacy iptables tables.
 */
public final class NetNamespaceScan {
    private NetNamespaceScan() {}

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(NetNamespaceScan.class);

    /** The addresses lo gets when it is brought up, which bringing it up gives back. */
    private static final List<String> DEFAULT_LO = List.of("127.0.0.1", "::1/128");

    /** The same as {@code ip} shows them. */
    private static final List<String> DEFAULT_IP = List.of("127.0.0.1/8", "::1/128");

    /**
     * The loopback state {@link NamespaceImage} keeps for the net namespace {@code link} task
     * {@code p} made; refuses devices other than lo. {@code what}: "pid N: its net namespace (...)".
     */
    static Namespaces.Network loopback(Pid p, String link) {
        Namespaces.Network net = Namespaces.inside(p, "net", Namespaces::network);
        String what = "pid " + p + ": its net namespace (" + link + ")";
        if (!net.loUp() && !net.loAddresses().isEmpty()) {
            throw new DumpException(what + ": lo is down with addresses " + net.loAddresses() + " (brought up and"
                    + " down again); not supported yet");
        }
        return new Namespaces.Network(net.devices(), net.loUp(),
                net.loAddresses().stream().filter(DEFAULT_LO::contains).toList());
    }

    /**
     * Whether lo is up in the net namespace {@code link} thread {@code thread} made alone and bound nowhere (Go's
     * netns.New()), which a restore makes again in that thread; anything else it holds (devices, addresses, routes,
     * changed sysctls, a firewall, IPsec) is refused by name: such a namespace is made again with its loopback only.
     * {@code who}: "pid N thread T".
     */
    public static boolean loopbackOnly(Pid thread, String link, String who) {
        Namespaces.Network lo = loopback(thread, link);
        NetNamespaceImage n = configuration(thread, link, List.of());
        List<String> sysctls = NetSysctls.differing(thread);
        String what = !n.addresses().isEmpty() ? "addresses " + n.addresses()
                : !n.devices().isEmpty() ? "devices " + n.devices() : !n.routes().isEmpty() ? "routes " + n.routes()
                : !sysctls.isEmpty() ? "sysctls changed " + sysctls
                : !n.firewall().isEmpty() ? "a firewall (" + String.join(", ", n.firewall().keySet()) + ")" : null;
        if (what != null) {
            throw new DumpException(who + ": its net namespace (" + link + "), made by that thread alone and bound nowhere,"
                    + " has " + what + "; a restore makes such a namespace again with its loopback only: not supported yet");
        }
        return lo.loUp();
    }

    /**
     * Where the net namespace {@code link} the tree is in is bound on the host ({@code ip netns add}
     * then {@code ip netns exec}, {@code nsenter --net=/run/netns/NAME}; a container runtime's), "" when
     * it is not: a bound one outlives the tree, and whatever reaches the tree through it (clients run
     * with {@code ip netns exec}, its veth peers) is still there, so the restore joins it again at that
     * path rather than make a new one. Under /run/netns first, where {@code ip netns} names it.
     */
    public static String boundAt(String link) {
        if (link == null || link.equals(Namespaces.link("self", "net"))) {
            return "";
        }
        String at = "";
        for (dev.cryo.kernel.proc.MountInfo.Mount m : MountScan.read("/proc/self/mountinfo")) {
            if (m.fsType().equals("nsfs") && m.root().equals(link)
                    && (at.isEmpty() || m.point().startsWith("/run/netns/") && !at.startsWith("/run/netns/"))) {
                at = m.point();
            }
        }
        return at;
    }

    /**
     * The net namespaces of {@code namespaces} (read frozen, after {@link NamespaceScan#scan}), each
     * with the sockets of {@code tree} living in it, its addresses, routes and sysctls.
     */
    public static List<NetNamespaceImage> scan(List<NamespaceImage> namespaces, List<Pid> tree) {
        return scan(namespaces, tree, null);
    }

    /**
     * {@link #scan(List, List)}, taking from {@code ahead} (null: none) what was read before the freeze of a
     * namespace that has not changed since.
     */
    public static List<NetNamespaceImage> scan(List<NamespaceImage> namespaces, List<Pid> tree, NetNamespaceAhead ahead) {
        return scan(namespaces, tree, ahead, NetNamespaceScan::unixSockets);
    }

    /**
     * {@link #scan(List, List, NetNamespaceAhead)}, the unix sockets of the namespace a task made given by {@code unixIn}
     * (the dump's: asked through the sock_diag socket it made in the namespace before the freeze, where a thread of
     * its own would join the namespace frozen).
     */
    public static List<NetNamespaceImage> scan(List<NamespaceImage> namespaces, List<Pid> tree, NetNamespaceAhead ahead,
                                               java.util.function.IntFunction<Map<Long, SockDiag.UnixSocket>> unixIn) {
        Map<String, Integer> byLink = new LinkedHashMap<>();
        for (NamespaceImage n : namespaces) {
            if (n.has(Clone.NEWNET)) {
                String link = Namespaces.link(Integer.toString(n.pid()), "net");
                if (link != null) {
                    byLink.put(link, n.pid());
                }
            }
        }
        if (byLink.isEmpty()) {
            return List.of();
        }
        long t0 = System.nanoTime();
        java.util.Set<Long> held = new java.util.HashSet<>();
        Map<Integer, List<Long>> sockets = socketsIn(byLink, tree, held);
        sockets.forEach((pid, inos) -> crossings(Pid.of(pid), inos, held, unixIn.apply(pid)));
        log.debug("the tree's sockets in its net namespaces found in {} µs", (System.nanoTime() - t0) / 1000);
        List<NetNamespaceImage> out = new ArrayList<>();
        List<Pid> nets = byLink.values().stream().map(Pid::of).toList();
        java.util.Set<Integer> joined = new java.util.HashSet<>();
        namespaces.stream().filter(NamespaceImage::joinsNet).forEach(n -> joined.add(n.pid()));
        byLink.forEach((link, pid) -> out.add(joined.contains(pid) // only its sockets: the rest stays in it
                ? new NetNamespaceImage(pid, sockets.getOrDefault(pid, List.of()), List.of(), List.of(), List.of(),
                        Map.of(), Map.of())
                : withSockets(ahead == null ? null : ahead.take(Pid.of(pid), link, nets), Pid.of(pid), link,
                        sockets.getOrDefault(pid, List.of()), nets)));
        return out;
    }

    private static NetNamespaceImage withSockets(NetNamespaceImage read, Pid p, String link, List<Long> sockets,
                                                 List<Pid> treeNets) {
        NetNamespaceImage n = read != null ? read : configuration(p, link, treeNets);
        return new NetNamespaceImage(p.value(), sockets, n.devices(), n.addresses(), n.routes(), n.sysctls(), n.firewall());
    }

    /** Everything of the namespace {@code link} task {@code p} made but its sockets (none in the image returned). */
    static NetNamespaceImage configuration(Pid p, String link, List<Pid> treeNets) {
        String what = "pid " + p + ": its net namespace (" + link + ")";
        try (NetReads reads = new NetReads()) {
            Future<String> state = reads.start(() -> xfrm(p, "state"));
            Future<String> policy = reads.start(() -> xfrm(p, "policy"));
            Future<String> lo = reads.start(() -> NetnsCommand.run(p, "ip", "-o", "addr", "show", "dev", "lo"));
            Future<Map<String, String>> firewall = reads.start(() -> NetFilterRules.scan(p, what));
            Future<List<String>> nexthops = reads.start(() -> NetNexthops.scan(p));
            Future<String> routes4 = reads.start(() -> NetnsCommand.run(p, "ip", "-4", "-o", "route", "show", "table", "all"));
            Future<String> routes6 = reads.start(() -> NetnsCommand.run(p, "ip", "-6", "-o", "route", "show", "table", "all"));
            Future<String> rules4 = reads.start(() -> rules(p, "-4"));
            Future<String> rules6 = reads.start(() -> rules(p, "-6"));
            for (Future<String> table : List.of(state, policy)) {
                String ipsec = NetReads.done(table);
                if (!ipsec.isEmpty()) {
                    throw new DumpException(what + " has IPsec " + (table == state ? "security associations"
                            : "policies") + " (ip xfrm " + (table == state ? "state" : "policy") + ": " + firstLine(ipsec)
                            + "...), which a restore would not make again (strongSwan's, libreswan's); IPsec inside a net"
                            + " namespace of the tree's is not supported");
                }
            }
            List<String> addresses = new ArrayList<>();
            for (String line : NetReads.done(lo).split("\n")) {
                String a = address(line);
                if (a != null && !DEFAULT_IP.contains(a.split(" ")[0])) {
                    addresses.add(a);
                }
            }
            // before the devices, whose scan attaches a file to a fileless persistent tun for a moment
            // (TreeTunDevices keeps its carrier from reaching ipv6)
            Map<String, String> sysctls = NetSysctls.changed(p);
            List<String> devices = NetDevices.scan(p, what, addresses, treeNets, reads);
            Map<String, String> rules = NetReads.done(firewall);
            List<String> routes = new ArrayList<>(NetReads.done(nexthops)); // before the routes naming them
            for (Future<String> family : List.of(routes4, routes6)) {
                for (String line : NetReads.done(family).split("\n")) {
                    String r = route(line);
                    if (r != null) {
                        routes.add((family == routes4 ? "-4 " : "-6 ") + r);
                    }
                }
            }
            routes.addAll(NetRules.scan(NetReads.done(rules4), NetReads.done(rules6), what)); // after the routes
            return new NetNamespaceImage(p.value(), List.of(), devices, addresses, routes, sysctls, rules);
        }
    }

    /** The policy routing rules of {@code family} ("-4") {@code ip} lists; "" where that family is off. */
    private static String rules(Pid p, String family) {
        try {
            return NetnsCommand.run(p, "ip", family, "-o", "rule", "show");
        } catch (KernelException e) {
            if (family.equals("-6") && !new java.io.File("/proc/" + p + "/net/if_inet6").exists()) {
                return ""; // ipv6.disable=1
            }
            throw e;
        }
    }

    /** What {@code ip xfrm TABLE} lists in the namespace; "" also where the kernel has no xfrm netlink (none can be set). */
    private static String xfrm(Pid p, String table) {
        try {
            return NetnsCommand.run(p, "ip", "xfrm", table, "list").strip();
        } catch (KernelException e) {
            return "";
        }
    }

    /** "10.1.2.3/8 scope global" of one line of {@code ip -o addr show}, null for none; a label other than lo's is kept. */
    static String address(String line) {
        String[] f = line.replace("\\", " ").strip().split("\\s+");
        for (int i = 0; i + 1 < f.length; i++) {
            if (f[i].equals("inet") || f[i].equals("inet6")) {
                StringBuilder b = new StringBuilder(f[i + 1]);
                for (int j = i + 2; j < f.length && !f[j].equals("valid_lft"); j++) {
                    if (f[j].equals("peer") && j + 1 < f.length) {
                        b.append(" peer ").append(f[++j]); // a point-to-point address: without it, another address
                    } else if (f[j].equals("scope") && j + 1 < f.length) {
                        b.append(" scope ").append(f[j + 1]);
                    } else if (f[j].equals("nodad") || f[j].equals("noprefixroute")) {
                        b.append(' ').append(f[j]); // flags ip addr add takes (zdtm's bridge: an unchecked link-local)
                    } else if (f[j].startsWith("lo:")) {
                        b.append(" label ").append(f[j]);
                    }
                }
                return b.toString();
            }
        }
        return null;
    }

    /** A route of {@code ip -o route show table all} that a program added, as {@code ip route add} takes it; null for the kernel's. */
    static String route(String line) {
        String l = line.replace("\\", " ").strip();
        if (l.isEmpty() || l.contains(" proto kernel") || l.startsWith("Error")) {
            return null;
        }
        List<String> words = new ArrayList<>(List.of(l.split("\\s+")));
        words.removeIf(w -> w.equals("linkdown") || w.equals("dead") || w.equals("offload") || w.equals("trap"));
        words = new ArrayList<>(NetNexthops.routeWords(words));
        if (!words.contains("scope")) {
            // ip shows no scope for global, but adds a route on a device without a gateway as scope link;
            // a program deleting it by its scope (zdtm's netlink00) would not find that one (ESRCH)
            words.addAll(List.of("scope", "global"));
        }
        return String.join(" ", words);
    }

    /**
     * Refuses a unix socket of the namespace {@code creator} made connected to a socket of the tree
     * in another namespace: the restore builds each namespace's sockets inside it, one namespace at a time.
     */
    private static void crossings(Pid creator, List<Long> inside, java.util.Set<Long> treeSockets,
                                  Map<Long, SockDiag.UnixSocket> unix) {
        java.util.Set<Long> here = java.util.Set.copyOf(inside);
        for (long ino : inside) {
            SockDiag.UnixSocket u = unix.get(ino);
            if (u != null && u.peerIno() != 0 && !here.contains(u.peerIno()) && treeSockets.contains(u.peerIno())) {
                throw new DumpException("unix socket " + ino + " (" + u.address() + ") lives in the net namespace pid "
                        + creator + " made and is connected to socket " + u.peerIno() + " of the tree in another one;"
                        + " a unix connection across net namespaces is not supported");
            }
        }
    }

    /** The unix sockets of the net namespace task {@code creator} is in, by inode, asked on a thread that joins it. */
    private static Map<Long, SockDiag.UnixSocket> unixSockets(int creator) {
        return Namespaces.inside(Pid.of(creator), "net", () -> {
            try (SockDiag d = SockDiag.open()) {
                return d.unixSockets();
            }
        });
    }

    /**
     * The tree's sockets living in each of its net namespaces, by the namespace's creator; {@code seen}
     * gets every socket inode the tree's fds hold.
     */
    private static Map<Integer, List<Long>> socketsIn(Map<String, Integer> byLink, List<Pid> tree, java.util.Set<Long> seen) {
        Map<Integer, List<Long>> out = new LinkedHashMap<>();
        for (Pid p : tree) { // a zombie or a task gone holds none: the seize says
            Map<Integer, Long> sockets = new LinkedHashMap<>();
            for (Map.Entry<Integer, String> f : ProcFs.fdTargets(p).entrySet()) {
                String t = f.getValue();
                if (t.startsWith("socket:[")) {
                    long ino = Long.parseLong(t.substring(8, t.length() - 1));
                    if (seen.add(ino)) {
                        sockets.put(f.getKey(), ino);
                    }
                }
            }
            if (sockets.isEmpty()) {
                continue;
            }
            try (Fd pidfd = Sys.pidfdOpen(p)) { // one for the task: a server's thousands of sockets are asked in the freeze
                sockets.forEach((fd, ino) -> {
                    String ns = netnsOf(pidfd, p, fd);
                    Integer creator = ns == null ? null : byLink.get(ns);
                    if (creator != null) {
                        out.computeIfAbsent(creator, k -> new ArrayList<>()).add(ino);
                    }
                });
            } catch (KernelException gone) {
                // its handlers say what is wrong with its sockets
            }
        }
        return out;
    }

    /** The link of the net namespace socket fd {@code fd} of {@code p} ({@code pidfd}) lives in ("net:[4026532...]"). */
    private static String netnsOf(Fd pidfd, Pid p, int fd) {
        try (Fd sock = Sys.pidfdGetfd(pidfd, p, fd)) {
            return "net:[" + Sockets.netnsInode(sock) + "]";
        } catch (KernelException e) {
            return null; // its handler says what is wrong with it
        }
    }

    /** A /proc file's text (Files.readString trusts its size of 0 and stops after the first byte). */
    static String readOr(String path, String otherwise) {
        try (java.io.FileInputStream in = new java.io.FileInputStream(path)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            return otherwise;
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
