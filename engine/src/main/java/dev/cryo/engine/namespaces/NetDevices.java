package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.LinkRequests;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The devices of a net namespace of the tree's besides lo. Carried: veth pairs, both ends inside,
 * or one end in each of two net namespaces of the tree (two containers, or a test's two hosts,
 * linked: written once, by the namespace whose task has the lower pid, and made by it with the peer
 * end straight in the other), or one end inside and its peer in cryo's namespace (a container's link to the host,
 * CRIU's {@code --external veth[...]}): the namespace dies with the tree, and its veth ends with
 * it, taking their peers along, so the restore makes the pair again, both ends as they were —
 * names, ifindexes inside the tree, MAC addresses, MTUs, up or down, addresses, and the outside end's bridge and its own
 * settings (forwarding, proxy_arp... of a routed container's host end). tun/tap devices too ({@link TreeTunDevices}).
 * Anything else (bridges, macvlan, vxlan, a veth whose peer is in a namespace outside the tree) is refused by
 * name. Each device is one line of {@code key=value} words in {@link NetNamespaceImage#devices()}.
 */
final class NetDevices {
    private NetDevices() {}

    /** One line of {@code ip -o -d link show}, whole in {@code text} (its kind's details: {@link NetBridges#settings}). */
    record Link(int index, String name, String peer, int peerIndex, boolean elsewhere, String mac, int mtu,
                boolean up, String kind, String master, String text) {}

    static List<Link> parse(String ipLink) {
        List<Link> out = new ArrayList<>();
        for (String line : ipLink.split("\n")) {
            String[] f = line.replace("\\", " ").strip().split("\\s+");
            if (f.length < 3 || !f[0].matches("\\d+:")) {
                continue; // not a link: a message of ip's on its merged stderr ("Error: ..." seen under load at a restore)
            }
            int index = Integer.parseInt(f[0].substring(0, f[0].length() - 1));
            String name = f[1].substring(0, f[1].length() - 1), peer = null;
            int peerIndex = 0, at = name.indexOf('@');
            if (at > 0) {
                peer = name.substring(at + 1);
                name = name.substring(0, at);
                if (peer.startsWith("if") && peer.substring(2).chars().allMatch(Character::isDigit)) {
                    peerIndex = Integer.parseInt(peer.substring(2));
                    peer = null;
                }
            }
            boolean up = f[2].matches("<(.*,)?UP(,.*)?>");
            String mac = "", kind = "", master = "";
            int mtu = 0;
            boolean elsewhere = false;
            for (int i = 3; i < f.length; i++) {
                switch (f[i]) {
                    case "mtu" -> mtu = Integer.parseInt(f[i + 1]);
                    case "link/ether" -> mac = f[i + 1];
                    case "link-netnsid", "link-netns" -> elsewhere = true; // "link-netns NAME" when the peer's is named
                    case "master" -> master = f[i + 1];
                    default -> {
                        if (kind.isEmpty() && List.of("veth", "tun", "bridge", "macvlan", "ipvlan", "vxlan", "dummy",
                                "bond", "vlan", "ipip", "gre", "sit", "wireguard", "geneve", "macvtap", "vrf").contains(f[i])
                                && i > 0 && f[i - 1].matches("\\d+") && f[i - 2].equals("maxmtu")) {
                            kind = f[i];
                        }
                    }
                }
            }
            if (name.equals("lo")) {
                kind = "loopback";
            }
            out.add(new Link(index, name, peer, peerIndex, elsewhere, mac, mtu, up, kind.isEmpty() ? "unknown" : kind,
                    master, line));
        }
        return out;
    }

    /**
     * The devices of the namespace task {@code p} made, as lines for the image; addresses of its
     * veth ends go to {@code addresses} ("10.1.0.2/24 scope global dev veth0"). Refuses the rest.
     */
    static List<String> scan(Pid p, String what, List<String> addresses, List<Pid> treeNets, NetReads reads) {
        // all at once, the host's too (a container's veth has its other end there): four processes, 1 wait
        java.util.concurrent.Future<String> insideAddresses = reads.start(() -> NetnsCommand.run(p, "ip", "-o", "addr", "show"));
        java.util.concurrent.Future<List<Link>> hostLinks = reads.start(() -> parse(NetnsCommand.runHere("ip", "-o", "-d", "link", "show")));
        java.util.concurrent.Future<String> hostAddresses = reads.start(() -> NetnsCommand.runHere("ip", "-o", "addr", "show"));
        List<Link> inside = links(p);
        List<String> out = new ArrayList<>();
        List<Link> host = null;
        Map<String, TreeTunDevices.Tun> tuns = null;
        List<String> ports = new ArrayList<>();
        for (Link l : inside) {
            if (l.kind().equals("loopback")) {
                continue;
            }
            if (!List.of("veth", "tun", "bridge", "macvlan").contains(l.kind())) {
                throw new DumpException(what + " has device " + l.name() + " of kind " + l.kind() + "; only lo, veth"
                        + " pairs, tun/tap devices, bridges and macvlans are supported in a net namespace of the tree's"
                        + " (vlan, vxlan, bonds and other device kinds are not)");
            }
            addresses.addAll(addressesOf(NetReads.done(insideAddresses), l.name()).stream().map(a -> a + " dev " + l.name()).toList());
            if (!l.master().isEmpty()) {
                if (inside.stream().noneMatch(b -> b.name().equals(l.master()) && b.kind().equals("bridge"))) {
                    throw new DumpException(what + ": device " + l.name() + " has master " + l.master()
                            + ", which is not a bridge of the namespace; not supported");
                }
                ports.add(NetBridges.portLine(l));
            }
            if (l.kind().equals("bridge")) {
                out.add(NetBridges.line(p, l));
                continue;
            }
            if (l.kind().equals("macvlan")) {
                out.add(NetMacvlans.line(what, l, inside));
                continue;
            }
            if (l.kind().equals("tun")) {
                if (tuns == null) {
                    tuns = TreeTunDevices.read(p);
                }
                out.add(TreeTunDevices.line(p, l, tuns));
                continue;
            }
            Map<String, String> d = new LinkedHashMap<>();
            d.put("name", l.name());
            d.put("index", Integer.toString(l.index()));
            d.put("mac", l.mac());
            d.put("mtu", Integer.toString(l.mtu()));
            d.put("up", l.up() ? "1" : "0");
            if (!l.elsewhere()) { // both ends inside: the pair is written once, by its first end
                Link peer = inside.stream().filter(o -> o.name().equals(l.peer())).findFirst().orElse(null);
                if (peer == null) {
                    throw new DumpException(what + ": veth " + l.name() + " has no peer " + l.peer() + " in it");
                }
                if (inside.indexOf(peer) < inside.indexOf(l)) {
                    continue;
                }
                d.put("peer", peer.name());
                d.put("peerindex", Integer.toString(peer.index()));
                d.put("peermac", peer.mac());
                d.put("peermtu", Integer.toString(peer.mtu()));
                d.put("peerup", peer.up() ? "1" : "0");
                out.add(line(d));
                continue;
            }
            if (host == null) {
                host = NetReads.done(hostLinks);
            }
            Link outer = host.stream().filter(o -> o.index() == l.peerIndex() && o.peerIndex() == l.index()
                    && o.kind().equals("veth")).findFirst().orElse(null);
            if (outer == null) {
                Across across = across(p, l, treeNets, what);
                if (across.pid().value() < p.value()) {
                    continue; // the other namespace writes the pair
                }
                d.put("across", across.end().name());
                d.put("acrossindex", Integer.toString(across.end().index()));
                d.put("acrossmac", across.end().mac());
                d.put("acrossmtu", Integer.toString(across.end().mtu()));
                d.put("acrossup", across.end().up() ? "1" : "0");
                d.put("acrosspid", across.pid().toString());
                out.add(line(d));
                continue;
            }
            d.put("outer", outer.name());
            d.put("outermac", outer.mac());
            d.put("outermtu", Integer.toString(outer.mtu()));
            d.put("outerup", outer.up() ? "1" : "0");
            if (!outer.master().isEmpty()) {
                d.put("outermaster", outer.master());
            }
            List<String> outerAddresses = addressesOf(NetReads.done(hostAddresses), outer.name());
            if (!outerAddresses.isEmpty()) {
                d.put("outeraddr", String.join(",", outerAddresses).replace(' ', '+'));
            }
            String settings = outerSysctls(outer.name());
            if (!settings.isEmpty()) {
                d.put("outersysctl", settings);
            }
            out.add(line(d));
        }
        List<Link> bridges = inside.stream().filter(l -> l.kind().equals("bridge")).toList();
        if (!bridges.isEmpty()) {
            NetBridges.refuseUncarried(p, what, bridges, inside.stream().map(l -> l.mac().toLowerCase())
                    .collect(java.util.stream.Collectors.toSet()));
        }
        out.addAll(ports); // after every device: each names its bridge, which the restore makes first
        return out;
    }

    private static final List<String> FAMILIES = List.of("ipv4", "ipv6");

    private static List<Link> links(Pid p) {
        return parse(NetnsCommand.run(p, "ip", "-o", "-d", "link", "show"));
    }

    /** The peer end of a veth in another net namespace of the tree: that namespace's task, and the end. */
    private record Across(Pid pid, Link end) {}

    /**
     * Where the peer of {@code l} (inside {@code p}'s namespace, its peer elsewhere) is among the
     * tree's other net namespaces: the one veth there whose index and peer index mirror it.
     * ifindexes are per namespace, so two matches are refused rather than guessed between.
     */
    private static Across across(Pid p, Link l, List<Pid> treeNets, String what) {
        List<Across> found = new ArrayList<>();
        for (Pid other : treeNets) {
            if (other.equals(p)) {
                continue;
            }
            links(other).stream().filter(o -> o.kind().equals("veth") && o.elsewhere() && o.index() == l.peerIndex()
                    && o.peerIndex() == l.index()).forEach(o -> found.add(new Across(other, o)));
        }
        if (found.size() != 1) {
            throw new DumpException(what + ": the peer of veth " + l.name() + " (ifindex " + l.peerIndex() + ") is"
                    + (found.isEmpty() ? " in a net namespace that is neither the tree's nor cryo's; not supported"
                    : " ambiguous: " + found.size() + " net namespaces of the tree have a veth that mirrors it"));
        }
        return found.get(0);
    }

    /**
     * The per-device settings of the outside end {@code dev} (in cryo's namespace) that differ from
     * those a new device gets (conf/default): what its host set on it — forwarding, proxy_arp,
     * rp_filter... (a routed container's host end). Lost with the end when the tree's namespace dies,
     * so written "ipv4.forwarding:1;ipv4.proxy_arp:1" for the restore.
     */
    static String outerSysctls(String dev) {
        return outerSysctls(outerFiles(dev), f -> NetNamespaceScan.readOr(f, null));
    }

    /** The files of {@link #outerSysctls}: the writable settings of {@code dev} (the mtu aside) and their defaults. */
    static List<String> outerFiles(String dev) {
        List<String> out = new ArrayList<>();
        for (String family : FAMILIES) {
            java.io.File[] files = java.nio.file.Path.of("/proc/sys/net", family, "conf", dev).toFile().listFiles();
            if (files == null) {
                continue;
            }
            java.util.Arrays.sort(files);
            for (java.io.File f : files) {
                if (f.canWrite() && !f.getName().equals("mtu")) { // not read-only (mc_forwarding); ipv6's mtu follows the link's
                    out.add(f.getPath());
                    out.add(defaultOf(f.getPath()));
                }
            }
        }
        return out;
    }

    /** {@link #outerSysctls} of {@code files} ({@link #outerFiles}), each read by {@code read} (null: unreadable). */
    static String outerSysctls(List<String> files, java.util.function.Function<String, String> read) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i + 1 < files.size(); i += 2) {
            java.nio.file.Path f = java.nio.file.Path.of(files.get(i));
            String v = read.apply(files.get(i)), d = read.apply(files.get(i + 1));
            if (v != null && d != null && !v.strip().equals(d.strip())) {
                out.add(f.getParent().getParent().getParent().getFileName() + "." + f.getFileName() + ":"
                        + v.strip().replaceAll("\\s+", "+"));
            }
        }
        return String.join(";", out);
    }

    private static String defaultOf(String file) {
        java.nio.file.Path f = java.nio.file.Path.of(file);
        return f.getParent().resolveSibling("default").resolve(f.getFileName()).toString();
    }

    private static void setOuterSysctls(String dev, String settings) {
        for (String s : settings.split(";")) {
            int dot = s.indexOf('.'), colon = s.indexOf(':');
            String family = s.substring(0, dot), name = s.substring(dot + 1, colon);
            if (!FAMILIES.contains(family) || name.contains("/") || name.contains("..")) {
                throw new RestoreException("bad setting of the outside end " + dev + " in the image: " + s);
            }
            java.nio.file.Path f = java.nio.file.Path.of("/proc/sys/net", family, "conf", dev, name);
            try {
                java.nio.file.Files.writeString(f, s.substring(colon + 1).replace('+', ' '));
            } catch (java.io.IOException e) {
                throw new RestoreException("cannot set " + f + " of the outside end " + dev + " again: " + e.getMessage());
            }
        }
    }

    /**
     * Device {@code dev}'s addresses among {@code all} (ip -o addr show's lines) but the link-local ones the
     * kernel made, in fe80::/64, which it makes again from the MAC (one a program added elsewhere, fe80:4567::1
     * or 169.254.1.1, is carried).
     */
    static List<String> addressesOf(String all, String dev) {
        List<String> out = new ArrayList<>();
        for (String line : all.split("\n")) {
            String[] f = line.strip().split("\\s+"); // "2: eth0    inet 10.0.0.2/24 ...", -o: one address a line
            if (f.length < 2 || !f[1].equals(dev)) {
                continue;
            }
            String a = NetNamespaceScan.address(line);
            if (a != null && !(a.contains("scope link") && a.matches("fe80::[0-9a-f:]*/64 .*"))) {
                out.add(a);
            }
        }
        return out;
    }

    static String line(Map<String, String> d) {
        StringBuilder b = new StringBuilder("veth");
        d.forEach((k, v) -> b.append(' ').append(k).append('=').append(v));
        return b.toString();
    }

    /** The names of the ends in cryo's namespace of veth pairs {@code lines} ({@link #scan}). */
    static List<String> outerEnds(List<String> lines) {
        return lines.stream().map(l -> fields(l).get("outer")).filter(java.util.Objects::nonNull).toList();
    }

    static Map<String, String> fields(String line) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String w : line.split(" ")) {
            int eq = w.indexOf('=');
            if (eq > 0) {
                m.put(w.substring(0, eq), w.substring(eq + 1));
            }
        }
        return m;
    }

    /**
     * Makes the devices of {@code lines} in the new namespace of {@code p} (down, as they are
     * made), the outside ends in cryo's with their bridge and addresses. Refuses to take a name
     * cryo's namespace already uses.
     */
    static void make(Pid p, List<String> lines) {
        for (String line : lines) {
            Map<String, String> d = fields(line);
            if (line.startsWith("tun ")) {
                TreeTunDevices.make(p, d);
                continue;
            }
            if (line.startsWith("bridge ")) {
                NetBridges.make(p, d);
                continue;
            }
            if (NetMacvlans.is(line) || line.startsWith("port ")) {
                continue; // once every namespace's devices are made (link)
            }
            List<String> cmd = new ArrayList<>(List.of("ip", "link", "add", d.get("name"), "address", d.get("mac"),
                    "mtu", d.get("mtu")));
            cmd.addAll(index(d, "index"));
            cmd.addAll(List.of("type", "veth", "peer", "name"));
            LinkRequests.End end = LinkSetup.end(d.get("name"), d.get("mac"), d.get("mtu"), indexOf(d, "index"));
            if (d.containsKey("peer")) {
                cmd.addAll(List.of(d.get("peer"), "address", d.get("peermac"), "mtu", d.get("peermtu")));
                cmd.addAll(index(d, "peerindex"));
                veth(p, end, LinkSetup.end(d.get("peer"), d.get("peermac"), d.get("peermtu"), indexOf(d, "peerindex")), 0, cmd);
                continue;
            }
            if (d.containsKey("across")) { // the other namespace of the tree exists: its end goes there at once
                cmd.addAll(List.of(d.get("across"), "address", d.get("acrossmac"), "mtu", d.get("acrossmtu")));
                cmd.addAll(index(d, "acrossindex"));
                int across = Integer.parseInt(d.get("acrosspid"));
                cmd.addAll(List.of("netns", Integer.toString(across)));
                veth(p, end, LinkSetup.end(d.get("across"), d.get("acrossmac"), d.get("acrossmtu"), indexOf(d, "acrossindex")),
                        across, cmd);
                continue;
            }
            if (d.containsKey("moved")) { // CRIU's restore --external netdev[NAME]:DEVICE: the device given, moved in
                int here = parse(NetnsCommand.runHere("ip", "-o", "link", "show", "dev", d.get("moved"))).stream()
                        .findFirst().orElseThrow(() -> new RestoreException("--external netdev[" + d.get("name") + "]:"
                                + d.get("moved") + ": cryo's net namespace has no device " + d.get("moved"))).index();
                dev.cryo.kernel.net.LinkMove.moveIn(here, p.value(), d.get("name"), d.containsKey("index")
                        ? Integer.parseInt(index(d, "index").get(1)) : 0);
                NetnsCommand.run(p, "ip", "link", "set", "dev", d.get("name"), "address", d.get("mac"), "mtu", d.get("mtu"));
                continue;
            }
            String outer = d.get("outer");
            if (existsHere(outer)) {
                throw new RestoreException("the outside end of veth " + d.get("name") + ", " + outer + ", exists in cryo's"
                        + " net namespace already (the dumped namespace still lives, or another device took the name)");
            }
            int cryo = (int) ProcessHandle.current().pid();
            cmd.addAll(List.of(outer, "address", d.get("outermac"), "mtu", d.get("outermtu"), "netns", Integer.toString(cryo)));
            veth(p, end, LinkSetup.end(outer, d.get("outermac"), d.get("outermtu"), null), cryo, cmd);
            try {
                if (d.containsKey("outersysctl")) { // before its addresses, as a device's settings are when it gets them
                    setOuterSysctls(outer, d.get("outersysctl"));
                }
                List<String> batch = new ArrayList<>();
                if (d.containsKey("outermaster")) {
                    batch.add("link set " + outer + " master " + d.get("outermaster"));
                }
                if (d.containsKey("outeraddr")) {
                    for (String a : d.get("outeraddr").split(",")) {
                        batch.add("addr add " + a.replace('+', ' ') + " dev " + outer);
                    }
                }
                if (d.get("outerup").equals("1")) {
                    batch.add("link set " + outer + " up");
                }
                if (!LinkSetup.apply(batch, "cryo's net namespace")) {
                    NetnsCommand.batchHere(batch);
                }
            } catch (RuntimeException e) {
                NetnsCommand.runHere("ip", "link", "del", outer); // and its inside end with it
                throw e;
            }
        }
    }

    /** The veth pair {@code cmd} ("ip link add ...") stands for, made in the net namespace of {@code p} without ip. */
    private static void veth(Pid p, LinkRequests.End end, LinkRequests.End peer, int peerNsPid, List<String> cmd) {
        String shown = String.join(" ", cmd) + " in the net namespace of pid " + p;
        dev.cryo.kernel.Namespaces.inside(p, "net", () -> {
            LinkSetup.veth(end, peer, peerNsPid, shown);
            return null;
        });
    }

    /** The ifindex {@link #index} gives, null for none. */
    private static String indexOf(Map<String, String> d, String key) {
        List<String> i = index(d, key);
        return i.isEmpty() ? null : i.get(1);
    }

    /** Whether cryo's net namespace has a device named {@code name}. */
    private static boolean existsHere(String name) {
        try (dev.cryo.kernel.Fd s = dev.cryo.kernel.net.Sockets.socket(dev.cryo.kernel.net.SockAddr.AF_INET,
                dev.cryo.kernel.net.Sockets.SOCK_DGRAM, 0)) {
            dev.cryo.kernel.net.PacketSockets.ifIndex(s, name);
            return true;
        } catch (dev.cryo.kernel.SyscallException e) {
            if (e.errno() == dev.cryo.kernel.Errno.ENODEV) {
                return false;
            }
            throw e;
        }
    }

    /**
     * "index N" for an end made in a namespace of the tree: its programs hold ifindexes (a multicast
     * membership's, a packet socket's binding, keepalived's own tables), so the end gets the one it had.
     * Images before the index was written make the ends with whatever index the kernel gives.
     */
    private static List<String> index(Map<String, String> d, String key) {
        String v = d.get(key);
        if (v == null) {
            return List.of();
        }
        int i = Integer.parseInt(v);
        if (i < 2) {
            throw new RestoreException("bad ifindex " + v + " of veth " + d.get("name") + " in the image");
        }
        return List.of("index", Integer.toString(i));
    }

    /**
     * Once every namespace's devices of {@link #make} exist: makes the macvlans on their lower devices,
     * then enslaves the bridges' ports and settles the bridges ({@link NetBridges#link}).
     */
    static void link(Pid p, List<String> lines) {
        List<Map<String, String>> bridged = new ArrayList<>();
        for (String line : lines) {
            if (NetMacvlans.is(line)) {
                NetMacvlans.make(p, fields(line));
            } else if (NetBridges.is(line)) {
                bridged.add(fields(line));
            }
        }
        NetBridges.link(p, bridged);
    }

    /**
     * The {@code ip -batch} lines ("link set veth0 up") bringing up the namespace's inside ends, tun devices, bridges
     * and macvlans that were up, run once their addresses are set; then {@link #up}.
     */
    static List<String> upLines(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (String line : lines) {
            Map<String, String> d = fields(line);
            if (line.startsWith("port ")) {
                continue;
            }
            if (d.get("up").equals("1")) {
                out.add("link set " + d.get("name") + " up");
            }
            if (d.containsKey("peer") && d.get("peerup").equals("1")) {
                out.add("link set " + d.get("peer") + " up");
            }
        }
        return out;
    }

    /** After {@link #upLines}: the ends in another namespace of the tree that were up, and the bridges' link-locals. */
    static void up(Pid p, List<String> lines) {
        for (String line : lines) {
            Map<String, String> d = fields(line);
            if (line.startsWith("port ")) {
                continue;
            }
            if (d.containsKey("across") && d.get("acrossup").equals("1")) {
                NetnsCommand.run(Pid.of(Integer.parseInt(d.get("acrosspid"))), "ip", "link", "set", d.get("across"), "up");
            }
        }
        lines.stream().filter(l -> l.startsWith("bridge ")).forEach(l -> NetBridges.linkLocals(p, fields(l)));
    }
}
