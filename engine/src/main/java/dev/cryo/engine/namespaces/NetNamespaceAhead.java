package dev.cryo.engine.namespaces;

import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.NetChanges;
import dev.cryo.kernel.net.NfTables;
import dev.cryo.kernel.net.PacketSockets;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The net namespaces of a tree read while it still runs (pre-copy rounds), for {@link NetNamespaceScan} at the
 * freeze: a container's devices, addresses, routes and firewall are ip and nft processes, 0.3-0.6 s of a migration's
 * downtime at load 20-30, and its configuration rarely changes. Before a namespace is read, the kernel's
 * notifications of its configuration are joined ({@link NetChanges}: devices, addresses, routes, rules, nexthops,
 * per-device settings, IPsec), those of its veths' outside ends in cryo's namespace too, and its nftables
 * generation and sysctls noted (their files kept open, {@link KeptSysctls}). At the freeze, what was read stands only
 * if no notification came, the generation, every sysctl (the outside ends' too) and the absence of legacy iptables
 * tables are the same: anything else, a
 * failure, or a namespace with more than lo and veths (a tun's state is the tree's, a bridge learns from traffic) or
 * with firewall tables (their counters count on) is read again frozen, as without this.
 */
public final class NetNamespaceAhead implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NetNamespaceAhead.class);

    /** What was read of one namespace, and what tells whether it still holds. */
    private record Read(Pid pid, Set<Pid> treeNets, NetChanges changes, NfTables nft, long generation, KeptSysctls sysctls,
                        String legacy, NetNamespaceImage configuration, Map<String, List<String>> outerFiles,
                        KeptSysctls outer) {}

    private final CompletableFuture<Map<String, Read>> reads;
    private final List<AutoCloseable> watches = java.util.Collections.synchronizedList(new ArrayList<>());
    private volatile NetChanges outside;
    private boolean closed;
    /** Why the last {@link #take} read again (null: it did not), as the debug log says it. */
    volatile String lastChange;
    private final Map<String, String> failures = new java.util.concurrent.ConcurrentHashMap<>();

    private NetNamespaceAhead(List<Pid> tree) {
        reads = CompletableFuture.supplyAsync(() -> readAll(tree), r -> {
            Thread t = new Thread(r, "net namespaces read ahead");
            t.setDaemon(true);
            t.start();
        });
    }

    /** Starts reading the net namespaces the tasks of {@code tree} made (the tree runs). */
    public static NetNamespaceAhead start(List<Pid> tree) {
        return new NetNamespaceAhead(tree);
    }

    private Map<String, Read> readAll(List<Pid> tree) {
        long t0 = System.nanoTime();
        Map<String, Read> out = readEach(tree);
        log.debug("{} net namespace(s) read before the freeze in {} ms", out.size(), (System.nanoTime() - t0) / 1_000_000);
        return out;
    }

    private Map<String, Read> readEach(List<Pid> tree) {
        String own = Namespaces.link("self", "net");
        Map<String, Pid> byLink = new LinkedHashMap<>();
        for (Pid p : tree) { // parents first: a namespace's first task is the one that made it
            String link = Namespaces.link(p.toString(), "net");
            if (link != null && !link.equals(own) && NetNamespaceScan.boundAt(link).isEmpty()) {
                byLink.putIfAbsent(link, p);
            }
        }
        Map<String, Read> out = new LinkedHashMap<>();
        if (byLink.isEmpty()) {
            return out;
        }
        outside = watched(NetChanges.ofDevices());
        Set<Pid> nets = Set.copyOf(byLink.values());
        for (Map.Entry<String, Pid> e : byLink.entrySet()) {
            Pid p = e.getValue();
            try {
                Read r = Namespaces.inside(p, "net", () -> {
                    NetChanges changes = watched(NetChanges.ofNamespace());
                    // kept: a netlink socket answers for the namespace it was made in, asked again frozen from any thread
                    NfTables nft = NfTables.unavailable() != null ? null : watched(NfTables.open());
                    return new Read(p, nets, changes, nft, generation(nft), watched(NetSysctls.kept()), legacyTables(p),
                            null, null, null);
                });
                NetNamespaceImage n = NetNamespaceScan.configuration(p, e.getKey(), List.copyOf(nets));
                // the outside ends' settings kept open after the read: the freeze compares them with the image's
                Map<String, List<String>> outerFiles = new LinkedHashMap<>();
                NetDevices.outerEnds(n.devices()).forEach(d -> outerFiles.put(d, NetDevices.outerFiles(d)));
                KeptSysctls outer = watched(KeptSysctls.of(outerFiles.values().stream().flatMap(List::stream).toList()));
                out.put(e.getKey(), new Read(p, nets, r.changes(), r.nft(), r.generation(), r.sysctls(), r.legacy(), n,
                        outerFiles, outer));
            } catch (RuntimeException x) {
                failures.put(e.getKey(), x.toString());
                log.debug("net namespace of pid {} not read before the freeze ({}): read frozen", p, x.getMessage());
            }
        }
        Set<Integer> outer = new HashSet<>();
        try (dev.cryo.kernel.Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0)) {
            for (Read r : out.values()) {
                for (String d : NetDevices.outerEnds(r.configuration().devices())) {
                    outer.add(PacketSockets.ifIndex(s, d));
                }
            }
        }
        outside.about(outer);
        return out;
    }

    private <T extends AutoCloseable> T watched(T w) {
        synchronized (watches) {
            if (closed) { // the dump ended while this was read
                try {
                    w.close();
                } catch (Exception e) {
                    // a netlink socket's close
                }
                throw new java.util.concurrent.CancellationException("the dump ended");
            }
            watches.add(w);
        }
        return w;
    }

    /** Whether the read ahead has ended (read, failed or cancelled). */
    public boolean isRead() {
        return reads.isDone();
    }

    /** Completes (normally, whatever the read gave) when the read ahead ends. */
    public java.util.concurrent.CompletionStage<Void> read() {
        return reads.handle((m, e) -> null);
    }

    /** Waits for the read ahead to end (a test changes the namespace after it). */
    void awaitRead() {
        reads.join();
    }

    /**
     * The configuration read ahead of the namespace {@code link} task {@code p} made (no sockets), if it has not
     * changed since; null: read it frozen. {@code treeNets}: the tree's namespaces' tasks, as the freeze found them.
     */
    NetNamespaceImage take(Pid p, String link, List<Pid> treeNets) {
        Read r;
        long t0 = System.nanoTime();
        try {
            r = reads.join().get(link);
        } catch (CompletionException e) {
            lastChange = e.getCause().toString();
            log.debug("net namespaces not read before the freeze ({}): read frozen", lastChange);
            return null;
        }
        if (r == null) {
            lastChange = "not read ahead: " + failures.get(link);
            return null;
        }
        long t1 = System.nanoTime();
        String change = change(r, p, treeNets);
        lastChange = change;
        if (change != null) {
            log.debug("net namespace of pid {} changed since it was read before the freeze ({}): read again", p, change);
            return null;
        }
        log.debug("net namespace of pid {}: read before the freeze, unchanged since (waited {} µs for the read, checked in {} µs)",
                p, (t1 - t0) / 1000, (System.nanoTime() - t1) / 1000);
        return r.configuration();
    }

    /** What differs from the namespace as read ahead, or null. */
    private String change(Read r, Pid p, List<Pid> treeNets) {
        if (!r.pid().equals(p) || !r.treeNets().equals(Set.copyOf(treeNets))) {
            return "its tasks differ";
        }
        NetNamespaceImage n = r.configuration();
        if (!n.firewall().isEmpty()) {
            return "it has firewall tables, whose counters count on";
        }
        if (n.devices().stream().anyMatch(d -> !d.startsWith("veth "))) {
            return "it has devices other than veths";
        }
        try {
            String seen = r.changes().seen();
            if (seen == null) {
                seen = outside.seen();
            }
            if (seen != null) {
                return seen;
            }
            // no thread joins the namespace for these: one waited to be scheduled in the freeze
            seen = generation(r.nft()) != r.generation() ? "a new nftables generation"
                    : !Objects.equals(legacyTables(p), r.legacy()) ? "legacy iptables tables"
                    : null;
            if (seen != null) {
                return seen;
            }
            String sysctl = r.sysctls().differing(); // read through the files kept open, from this thread
            if (sysctl != null) {
                return "sysctl " + sysctl;
            }
            for (String d : n.devices()) {
                Map<String, String> f = NetDevices.fields(d);
                if (f.containsKey("outer") && !NetDevices.outerSysctls(r.outerFiles().get(f.get("outer")), r.outer()::now)
                        .equals(f.getOrDefault("outersysctl", ""))) {
                    return "a setting of the outside end " + f.get("outer");
                }
            }
        } catch (RuntimeException e) {
            return e.getMessage();
        }
        return null;
    }

    /** The nftables generation of the namespace {@code nft} was made in; -1 where the kernel has no nf_tables (null). */
    private static long generation(NfTables nft) {
        return nft == null ? -1L : nft.generation();
    }

    /** The legacy iptables tables (x_tables) of task {@code p}'s net namespace, read through its /proc. */
    private static String legacyTables(Pid p) {
        String net = dev.cryo.kernel.ExitedLeaders.proc(p) + "/net/";
        return NetNamespaceScan.readOr(net + "ip_tables_names", "") + NetNamespaceScan.readOr(net + "ip6_tables_names", "");
    }

    @Override
    public void close() {
        reads.cancel(false);
        synchronized (watches) {
            closed = true;
            for (AutoCloseable w : watches) {
                try {
                    w.close();
                } catch (Exception e) {
                    // a netlink socket's close
                }
            }
            watches.clear();
        }
    }
}
