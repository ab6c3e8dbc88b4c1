package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gives a net namespace the restore made (forked with CLONE_NEWNET, lo already up as it was, see
 * {@link NamespaceRestore}) what {@link NetNamespaceImage} kept: its sysctls, its veth pairs, the
 * addresses, the devices up as they were, the routes, then its firewall and its conntrack table. Run once every task is forked, before the namespace's sockets are rebuilt in it
 * (they bind to those addresses). Refuses to touch cryo's own namespace.
 */
public final class NetNamespaceRestore {
    private NetNamespaceRestore() {}

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(NetNamespaceRestore.class);

    /**
     * In three passes over the namespaces, so that a veth pair between two of them (made by one,
     * its peer end straight in the other) exists before the other's addresses and is up before its
     * routes: devices; macvlans, bridge ports and device sysctls; addresses, devices up, routes, firewall.
     * The addresses, devices up and common routes are rtnetlink requests of cryo's ({@link LinkSetup}); routes of
     * other forms go to one {@code ip -batch} process per family.
     */
    public static void configure(List<NetNamespaceImage> nets) {
        long t0 = System.nanoTime();
        long[] sysctls = new long[1];
        Map<String, String> fresh = FreshNetSysctls.take();
        for (NetNamespaceImage n : nets) {
            inNamespace(n, p -> {
                long s0 = System.nanoTime();
                sysctls(p, n, false, fresh);
                sysctls[0] += System.nanoTime() - s0;
                NetDevices.make(p, n.devices());
            });
        }
        for (NetNamespaceImage n : nets) {
            inNamespace(n, p -> {
                NetDevices.link(p, n.devices()); // macvlans and bridge ports, whose lower devices and bridges exist now
                long s0 = System.nanoTime();
                sysctls(p, n, true, null); // those of its devices, which exist now
                sysctls[0] += System.nanoTime() - s0;
            });
        }
        long t1 = System.nanoTime();
        long[] routed = new long[2];
        for (NetNamespaceImage n : nets) {
            inNamespace(n, p -> {
                List<String> lines = new ArrayList<>();
                for (String a : n.addresses()) { // "10.1.2.3/8 scope global" on lo, or "... dev veth0"
                    lines.add("addr add " + a + (a.contains(" dev ") ? "" : " dev lo"));
                }
                lines.addAll(NetDevices.upLines(n.devices()));
                String where = "the net namespace of pid " + p;
                if (!Namespaces.inside(p, "net", () -> LinkSetup.apply(lines, where))) {
                    NetnsCommand.batch(p, null, lines);
                }
                NetDevices.up(p, n.devices());
                long r0 = System.nanoTime();
                routes(p, n.routes());
                routed[0] += System.nanoTime() - r0;
                r0 = System.nanoTime();
                NetFilterRules.load(p, n.firewall()); // before the sockets: a rebuilt connection's packets meet its NAT
                NetConntrack.restore(p, n.conntrack(), n.expectations()); // after the firewall, whose NAT and labels it needs
                routed[1] += System.nanoTime() - r0;
            });
        }
        log.debug("{} net namespace(s) made in {} µs: devices and sysctls {} µs (sysctls {} µs{}), addresses and routes {} µs"
                + " (routes {} µs, firewall {} µs)", nets.size(), (System.nanoTime() - t0) / 1000, (t1 - t0) / 1000, sysctls[0] / 1000,
                fresh == null ? "" : ", a new namespace's read ahead",
                (System.nanoTime() - t1) / 1000, routed[0] / 1000, routed[1] / 1000);
    }

    /**
     * The routes ("-4 10.0.0.0/8 dev lo scope link"), those of a family in a row one {@link #batch}; a nexthop
     * ({@link NetNexthops}), which the routes after it name, and a policy routing rule ({@link NetRules}) on its own.
     */
    private static void routes(Pid p, List<String> routes) {
        List<String> batch = new ArrayList<>();
        String family = null;
        for (String r : routes) {
            String[] words = r.split(" ", 2);
            boolean single = NetNexthops.is(r) || NetRules.is(r);
            if (single || !words[0].equals(family)) {
                batch(p, family, batch);
                batch.clear();
                family = null;
            }
            if (single) {
                NetnsCommand.run(p, (NetNexthops.is(r) ? NetNexthops.addCommand(r) : NetRules.addCommand(r))
                        .toArray(String[]::new));
                continue;
            }
            family = words[0];
            batch.add("route add " + words[1]);
        }
        batch(p, family, batch);
    }

    /** A run of routes of {@code family} as rtnetlink requests of cryo's ({@link LinkSetup#routes}), else one ip -batch. */
    private static void batch(Pid p, String family, List<String> lines) {
        String where = "the net namespace of pid " + p;
        if (lines.isEmpty() || !Namespaces.inside(p, "net", () -> LinkSetup.routes(family, lines, where))) {
            NetnsCommand.batch(p, family, lines);
        }
    }

    /**
     * The namespace's changed sysctls ({@link NetSysctls}), of its devices or the others, in the image's order. With
     * {@code fresh} (a new namespace's, {@link FreshNetSysctls}) an entry that holds a new namespace's value is not read
     * until the first write, which may change others.
     */
    private static void sysctls(Pid p, NetNamespaceImage n, boolean devices, Map<String, String> fresh) {
        List<String> failed = Namespaces.inside(p, "net", () -> {
            List<String> bad = new ArrayList<>();
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocate(4096);
            boolean readEach = fresh == null;
            for (Map.Entry<String, String> e : n.sysctls().entrySet()) {
                String k = e.getKey(), v = e.getValue();
                if (NetSysctls.isDevice(k) != devices || !readEach && v.equals(fresh.get(k))) {
                    continue;
                }
                // one open for the read and the write, one read (KeptSysctls): conf/all and conf/default alone are
                // ~220 files, each opened twice and read to its end before, 81-222 ms of b's downtime at load 30-40
                try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(java.nio.file.Path.of("/proc/sys/" + k),
                        java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
                    if (!v.equals(KeptSysctls.pread(f, buffer))) {
                        readEach = true; // the kernel may have set others with it
                        f.write(java.nio.ByteBuffer.wrap(v.getBytes(java.nio.charset.StandardCharsets.UTF_8)), 0);
                    }
                } catch (java.io.IOException x) {
                    bad.add(k + " = " + v + " (" + x.getMessage() + ")");
                }
            }
            return bad;
        });
        if (!failed.isEmpty()) {
            throw new RestoreException("net namespace of pid " + p + ": cannot set sysctls " + failed);
        }
    }

    /** Runs {@code step} for the namespace of {@code n}'s task, never cryo's own. */
    private static void inNamespace(NetNamespaceImage n, java.util.function.Consumer<Pid> step) {
        Pid p = Pid.of(n.pid());
        String own = Namespaces.link(p.toString(), "net");
        if (own == null || own.equals(Namespaces.link("self", "net"))) { // never reconfigure cryo's host
            throw new RestoreException("pid " + p + " was not forked into a net namespace of its own (" + own + ")");
        }
        try {
            step.accept(p);
        } catch (KernelException e) {
            throw new RestoreException("cannot remake the net namespace of pid " + p + ": " + e.getMessage(), e);
        }
    }
}
