package dev.cryo.kernel.net;

import dev.cryo.kernel.KernelException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * CRIU's "network lock", with nftables: while a dumped TCP connection has no socket (between the
 * dump and the restore), the kernel would answer the peer's packets with a reset. One nftables
 * table per dump drops — never rejects — exactly the packets of the dumped connections, both
 * ways; everything else passes. The table is installed before the sockets are released and
 * deleted once the restored tasks own them again.
 */
public final class NetworkLock {
    private NetworkLock() {}

    private static final List<String> NFT = List.of("/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft");
    private static final Pattern TABLE = Pattern.compile("cryo_[A-Za-z0-9_]{1,40}");

    /** One connection to hold: its local and remote address and port. */
    public record Flow(SockAddr local, SockAddr remote) {}

    /** The nft binary, or null when nftables is not installed. */
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
        check(name);
        // the flows are elements of one set per family, each matched by one rule per direction: a rule
        // per flow made a server's 900 connections 2700 rules, which nft took ~0.15 s of CPU to load
        // (seconds inside the freeze on a loaded machine) and every packet of the host walked
        Map<String, List<Flow>> byFamily = new LinkedHashMap<>();
        for (Flow f : flows) {
            byFamily.computeIfAbsent(ip(f.local()), k -> new ArrayList<>()).add(f);
        }
        StringBuilder s = new StringBuilder();
        s.append("table inet ").append(name).append(" {}\n");
        s.append("delete table inet ").append(name).append('\n');
        s.append("table inet ").append(name).append(" {\n");
        byFamily.forEach((ip, fs) -> {
            String addr = ip.equals("ip") ? "ipv4_addr" : "ipv6_addr";
            s.append("  set ").append(ip).append("flows { type ").append(addr).append(" . inet_service . ").append(addr)
                    .append(" . inet_service; elements = {");
            for (int i = 0; i < fs.size(); i++) {
                Flow f = fs.get(i);
                s.append(i == 0 ? " " : ", ").append(f.local().inetAddress().getHostAddress()).append(" . ").append(f.local().port())
                        .append(" . ").append(f.remote().inetAddress().getHostAddress()).append(" . ").append(f.remote().port());
            }
            s.append(" } }\n");
        });
        s.append("  chain in { type filter hook input priority -150; policy accept;\n");
        s.append("    meta mark ").append(BYPASS_MARK).append(" accept\n");
        byFamily.keySet().forEach(ip -> s.append("    ").append(toLocal(ip)).append(" drop\n"));
        for (SockAddr l : listeners) {
            s.append("    ").append(newConnectionsTo(l)).append(" drop\n");
        }
        for (SockAddr u : udp) {
            s.append("    ").append(datagramsTo(u, "udp")).append(" drop\n");
        }
        for (SockAddr u : udplite) {
            s.append("    ").append(datagramsTo(u, "udplite")).append(" drop\n");
        }
        s.append("  }\n  chain out { type filter hook output priority -150; policy accept;\n");
        s.append("    meta mark ").append(BYPASS_MARK).append(" accept\n");
        byFamily.keySet().forEach(ip -> s.append("    ").append(fromLocal(ip)).append(" drop\n"));
        // a peer routed through this host to a connection of a container's (its net namespace's veth)
        s.append("  }\n  chain routed { type filter hook forward priority -150; policy accept;\n");
        byFamily.keySet().forEach(ip -> s.append("    ").append(fromLocal(ip)).append(" drop\n    ").append(toLocal(ip))
                .append(" drop\n"));
        s.append("  }\n}\n");
        run(s.toString(), "install the network lock " + name);
    }

    /** Deletes table {@code name}; nothing happens if it is not there. */
    public static void unlock(String name) {
        check(name);
        run("table inet " + name + " {}\ndelete table inet " + name + "\n", "remove the network lock " + name);
    }

    /** Whether table {@code name} is installed. */
    public static boolean isLocked(String name) {
        check(name);
        String nft = require();
        try {
            Process p = new ProcessBuilder(nft, "list", "table", "inet", name).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            throw new KernelException("nft list table inet " + name + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted while running nft");
        }
    }

    /** "ip" or "ip6": the protocol an address talks on the wire (an IPv6 socket's v4-mapped peer talks IPv4). */
    private static String ip(SockAddr a) {
        return a.inetAddress() instanceof java.net.Inet4Address ? "ip" : "ip6";
    }

    /** A packet from a flow's local end to its remote one, looked up in the family's set. */
    private static String fromLocal(String ip) {
        return ip + " saddr . tcp sport . " + ip + " daddr . tcp dport @" + ip + "flows";
    }

    /** A packet from a flow's remote end to its local one: the same set, the key read the other way round. */
    private static String toLocal(String ip) {
        return ip + " daddr . tcp dport . " + ip + " saddr . tcp sport @" + ip + "flows";
    }

    /** SYNs to a listener: a wildcard IPv6 one is taken as dual-stack (its IPv4 side too). */
    private static String newConnectionsTo(SockAddr l) {
        return to(l.inetAddress()) + "tcp dport " + l.port() + " tcp flags & (syn | ack) == syn";
    }

    /** Datagrams ({@code proto}: udp, udplite) to an address: a wildcard IPv6 one is taken as dual-stack (its IPv4 side too). */
    private static String datagramsTo(SockAddr u, String proto) {
        return to(u.inetAddress()) + proto + " dport " + u.port();
    }

    private static String to(java.net.InetAddress a) {
        if (a.isAnyLocalAddress()) {
            return a instanceof java.net.Inet4Address ? "meta nfproto ipv4 " : "";
        }
        return (a instanceof java.net.Inet4Address ? "ip" : "ip6") + " daddr " + a.getHostAddress() + " ";
    }

    static void check(String name) {
        if (!TABLE.matcher(name).matches()) {
            throw new IllegalArgumentException("bad network lock table name: " + name);
        }
    }

    private static String require() {
        String nft = nft();
        if (nft == null) {
            throw new KernelException("the network lock needs nftables: the nft command is not installed"
                    + " (apt-get install nftables)");
        }
        return nft;
    }

    static void run(String script, String what) {
        String nft = require();
        try {
            Process p = new ProcessBuilder(nft, "-f", "-").redirectErrorStream(true).start();
            p.getOutputStream().write(script.getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new KernelException("could not " + what + ": nft did not finish");
            }
            if (p.exitValue() != 0) {
                throw new KernelException("could not " + what + ": nft: " + out);
            }
        } catch (IOException e) {
            throw new KernelException("could not " + what + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted while trying to " + what);
        }
    }
}
