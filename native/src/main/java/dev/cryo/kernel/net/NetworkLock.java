package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.NfTablesAbi.*;

import dev.cryo.kernel.KernelException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * CRIU's "network lock", with nftables: while a dumped TCP connection has no socket (between the
 * dump and the restore), the kernel would answer the peer's packets with a reset. One nftables
 * table per dump drops — never rejects — exactly the packets of the dumped connections, both
 * ways; everything else passes. The table is installed before the sockets are released and
 * deleted once the restored tasks own them again. The table is made over nf_tables' netlink
 * interface ({@link NfTables}), in the net namespace of the calling thread, in one transaction.
 */
public final class NetworkLock {
    private NetworkLock() {}

    private static final List<String> NFT = List.of("/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft");
    private static final Pattern TABLE = Pattern.compile("cryo_[A-Za-z0-9_]{1,40}");

    /** One connection to hold: its local and remote address and port. */
    public record Flow(SockAddr local, SockAddr remote) {}

    /** The nft program, or null when it is not installed (the lock does without it; a net namespace's own firewall is carried with it). */
    public static String nft() {
        for (String p : NFT) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        return null;
    }

    /** Packets cryo sends itself with this mark (SO_MARK) pass the lock: a peer's FIN given again ({@link PeerFin}). */
    public static final int BYPASS_MARK = 0x63727930;

    /** Installs table {@code name} dropping every packet of {@code flows}, replacing any older one. */
    public static void lock(String name, List<Flow> flows) {
        lock(name, flows, List.of());
    }

    /**
     * {@link #lock(String, List)}, also dropping new connection attempts (a SYN without ACK) to the
     * listening addresses {@code listeners}: their clients retransmit the SYN a second later, while
     * packets of connections already made pass.
     */
    public static void lock(String name, List<Flow> flows, List<SockAddr> listeners) {
        lock(name, flows, listeners, List.of());
    }

    /**
     * {@link #lock(String, List, List)}, also dropping every datagram to the UDP addresses {@code udp}:
     * with no socket bound there the kernel would answer each with an ICMP "port unreachable", which a
     * client takes as "refused" (a DNS resolver gives up at once); a dropped one it sends again.
     */
    public static void lock(String name, List<Flow> flows, List<SockAddr> listeners, List<SockAddr> udp) {
        lock(name, flows, listeners, udp, List.of());
    }

    /** {@link #lock(String, List, List, List)}, also dropping every UDP-Lite datagram to the addresses {@code udplite}. */
    public static void lock(String name, List<Flow> flows, List<SockAddr> listeners, List<SockAddr> udp,
                            List<SockAddr> udplite) {
        if (inside(name, t -> lock(t, flows, listeners, udp, udplite))) {
            return;
        }
        check(name);
        // the flows are elements of one set per family, each matched by one rule per direction: a rule
        // per flow made a server's 900 connections 2700 rules, which nft took ~0.15 s of CPU to load
        // (seconds inside the freeze on a loaded machine) and every packet of the host walked
        Map<Boolean, Set<List<Byte>>> byFamily = new LinkedHashMap<>();
        for (Flow f : flows) {
            byFamily.computeIfAbsent(v4(f.local()), k -> new LinkedHashSet<>()).add(key(f));
        }
        // replacing any older table in the same transaction: created empty if missing, deleted, made again
        NfBatch b = new NfBatch().newTable(name).delTable(name).newTable(name);
        byFamily.forEach((v4, keys) -> b.newSet(name, set(v4), setId(v4), v4
                        ? concat(NFT_TYPE_IPADDR, NFT_TYPE_INET_SERVICE, NFT_TYPE_IPADDR, NFT_TYPE_INET_SERVICE)
                        : concat(NFT_TYPE_IP6ADDR, NFT_TYPE_INET_SERVICE, NFT_TYPE_IP6ADDR, NFT_TYPE_INET_SERVICE),
                v4 ? 16 : 40)
                .newElements(name, set(v4), setId(v4), keys.stream().map(NetworkLock::bytes).toList()));
        b.newChain(name, "in", NF_INET_LOCAL_IN, PRIORITY);
        b.newRule(name, "in", new NfRule().markIs(BYPASS_MARK).verdict(NF_ACCEPT));
        byFamily.keySet().forEach(v4 -> b.newRule(name, "in", flowRule(v4, true)));
        for (SockAddr l : listeners) {
            b.newRule(name, "in", to(l.inetAddress()).metaIs(NFT_META_L4PROTO, Sockets.IPPROTO_TCP)
                    .payloadIs(NFT_PAYLOAD_TRANSPORT_HEADER, 2, port(l.port()))
                    .payload(NFT_PAYLOAD_TRANSPORT_HEADER, TCP_FLAGS, 1, NFT_REG_1)
                    .bitwise(NFT_REG_1, new byte[] {SYN | ACK}, new byte[] {0})
                    .cmpEq(NFT_REG_1, new byte[] {SYN}).verdict(NF_DROP));
        }
        for (SockAddr u : udp) {
            b.newRule(name, "in", datagramsTo(u, Sockets.IPPROTO_UDP));
        }
        for (SockAddr u : udplite) {
            b.newRule(name, "in", datagramsTo(u, Sockets.IPPROTO_UDPLITE));
        }
        b.newChain(name, "out", NF_INET_LOCAL_OUT, PRIORITY);
        b.newRule(name, "out", new NfRule().markIs(BYPASS_MARK).verdict(NF_ACCEPT));
        byFamily.keySet().forEach(v4 -> b.newRule(name, "out", flowRule(v4, false)));
        // a peer routed through this host to a connection of a container's (its net namespace's veth)
        b.newChain(name, "routed", NF_INET_FORWARD, PRIORITY);
        byFamily.keySet().forEach(v4 -> b.newRule(name, "routed", flowRule(v4, false)).newRule(name, "routed", flowRule(v4, true)));
        commit(b, "install the network lock " + name);
    }

    /** Deletes table {@code name}; nothing happens if it is not there. */
    public static void unlock(String name) {
        if (inside(name, NetworkLock::unlock)) {
            return;
        }
        check(name);
        commit(new NfBatch().newTable(name).delTable(name), "remove the network lock " + name);
    }

    /** Whether table {@code name} is installed. */
    public static boolean isLocked(String name) {
        if (name.indexOf('@') >= 0) {
            boolean[] locked = new boolean[1];
            inside(name, t -> locked[0] = isLocked(t));
            return locked[0];
        }
        check(name);
        require();
        try (NfTables t = NfTables.open()) {
            return t.hasTable(NFPROTO_INET, name);
        }
    }

    /** The inet tables of this thread's net namespace (the locks among them are named cryo_...). */
    public static List<String> tables() {
        require();
        try (NfTables t = NfTables.open()) {
            return t.tables(NFPROTO_INET);
        }
    }

    /** Whether the kernel can hold a network lock (nf_tables). */
    public static boolean available() {
        return NfTables.unavailable() == null;
    }

    /** The hooks' priority (mangle's). */
    private static final int PRIORITY = -150;
    private static final int TCP_FLAGS = 13;
    private static final byte SYN = 0x02, ACK = 0x10;

    /** Whether an address talks IPv4 on the wire (an IPv6 socket's v4-mapped peer does). */
    private static boolean v4(SockAddr a) {
        return a.inetAddress() instanceof java.net.Inet4Address;
    }

    private static String set(boolean v4) {
        return v4 ? "ipflows" : "ip6flows";
    }

    private static int setId(boolean v4) {
        return v4 ? 1 : 2;
    }

    private static int concat(int... types) {
        int t = 0;
        for (int x : types) {
            t = t << NFT_TYPE_BITS | x;
        }
        return t;
    }

    /** A set element: local address and port, remote address and port, each field in a 4-byte register. */
    private static List<Byte> key(Flow f) {
        List<Byte> k = new ArrayList<>();
        for (SockAddr a : new SockAddr[] {f.local(), f.remote()}) {
            for (byte x : a.inetAddress().getAddress()) {
                k.add(x);
            }
            for (byte x : port(a.port())) {
                k.add(x);
            }
            k.add((byte) 0);
            k.add((byte) 0);
        }
        return k;
    }

    private static byte[] bytes(List<Byte> k) {
        byte[] b = new byte[k.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = k.get(i);
        }
        return b;
    }

    private static byte[] port(int port) {
        return new byte[] {(byte) (port >> 8), (byte) port};
    }

    /**
     * A TCP packet of a flow of the family's set: {@code toLocal}, from a flow's remote end to its local one
     * (the key read the other way round); else from its local end to its remote one.
     */
    private static NfRule flowRule(boolean v4, boolean toLocal) {
        int alen = v4 ? 4 : 16, src = v4 ? 12 : 8, dst = v4 ? 16 : 24;
        int sport = 0, dport = 2;
        // the key's registers: first address, its port, second address, its port (4-byte registers)
        int r1 = NFT_REG_1, r2 = NFT_REG32_00 + alen / 4, r3 = r2 + 1, r4 = r3 + alen / 4;
        return new NfRule().metaIs(NFT_META_NFPROTO, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6)
                .metaIs(NFT_META_L4PROTO, Sockets.IPPROTO_TCP)
                .payload(NFT_PAYLOAD_NETWORK_HEADER, toLocal ? dst : src, alen, r1)
                .payload(NFT_PAYLOAD_TRANSPORT_HEADER, toLocal ? dport : sport, 2, r2)
                .payload(NFT_PAYLOAD_NETWORK_HEADER, toLocal ? src : dst, alen, r3)
                .payload(NFT_PAYLOAD_TRANSPORT_HEADER, toLocal ? sport : dport, 2, r4)
                .lookup(set(v4), setId(v4), NFT_REG_1).verdict(NF_DROP);
    }

    /** Datagrams of {@code proto} (UDP, UDP-Lite) to an address. */
    private static NfRule datagramsTo(SockAddr u, int proto) {
        return to(u.inetAddress()).metaIs(NFT_META_L4PROTO, proto)
                .payloadIs(NFT_PAYLOAD_TRANSPORT_HEADER, 2, port(u.port())).verdict(NF_DROP);
    }

    /** Packets to an address: a wildcard IPv6 one is taken as dual-stack (its IPv4 side too). */
    private static NfRule to(java.net.InetAddress a) {
        boolean v4 = a instanceof java.net.Inet4Address;
        if (a.isAnyLocalAddress()) {
            return v4 ? new NfRule().metaIs(NFT_META_NFPROTO, NFPROTO_IPV4) : new NfRule();
        }
        return new NfRule().metaIs(NFT_META_NFPROTO, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6)
                .payloadIs(NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, a.getAddress());
    }

    /**
     * The name of lock {@code table} held inside the net namespace bound on the host at {@code path} ({@code ip netns
     * add}'s /run/netns/NAME): "TABLE@PATH", which {@link #lock}, {@link #unlock} and {@link #isLocked} take.
     */
    public static String inNamespace(String table, String path) {
        check(table);
        if (!path.startsWith("/") || path.indexOf('@') >= 0) {
            throw new IllegalArgumentException("bad net namespace path for a network lock: " + path);
        }
        return table + "@" + path;
    }

    /** For a name "TABLE@PATH": runs {@code op} with TABLE on a thread inside the net namespace at PATH, and says so. */
    private static boolean inside(String name, java.util.function.Consumer<String> op) {
        int at = name.indexOf('@');
        if (at < 0) {
            return false;
        }
        String table = name.substring(0, at), path = name.substring(at + 1);
        check(table);
        try (dev.cryo.kernel.Fd ns = dev.cryo.kernel.Sys.open(path, dev.cryo.kernel.Fcntl.O_RDONLY
                | dev.cryo.kernel.Fcntl.O_CLOEXEC)) {
            dev.cryo.kernel.Namespaces.insideNet(ns, () -> {
                op.accept(table);
                return null;
            });
        }
        return true;
    }

    static void check(String name) {
        if (!TABLE.matcher(name).matches()) {
            throw new IllegalArgumentException("bad network lock table name: " + name);
        }
    }

    private static void require() {
        String why = NfTables.unavailable();
        if (why != null) {
            throw new KernelException("the network lock needs nftables (CONFIG_NF_TABLES): " + why);
        }
    }

    /** Applies {@code batch} in this thread's net namespace. */
    static void commit(NfBatch batch, String what) {
        require();
        try (NfTables t = NfTables.open()) {
            t.commit(batch, what);
        }
    }
}
