package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;

import java.util.ArrayList;
import java.util.List;

/**
 * Gives a net namespace the restore made (forked with CLONE_NEWNET, lo already up as it was, see
 * {@link NamespaceRestore}) what {@link NetNamespaceImage} kept: its sysctls, its veth pairs, the
 * addresses, the devices up as they were, the routes, then its firewall. Run once every task is forked, before the namespace's sockets are rebuilt in it
 * (they bind to those addresses). Refuses to touch cryo's own namespace.
 */
public final class NetNamespaceRestore {
    private NetNamespaceRestore() {}

    /**
     * In three passes over the namespaces, so that a veth pair between two of them (made by one,
     * its peer end straight in the other) exists before the other's addresses and is up before its
     * routes: devices; macvlans, bridge ports, device sysctls and addresses; devices up, routes, firewall.
     */
    public static void configure(List<NetNamespaceImage> nets) {
        for (NetNamespaceImage n : nets) {
            inNamespace(n, p -> {
                sysctls(p, n, false);
                NetDevices.make(p, n.devices());
            });
        }
        for (NetNamespaceImage n : nets) {
            inNamespace(n, p -> {
                NetDevices.link(p, n.devices()); // macvlans and bridge ports, whose lower devices and bridges exist now
                sysctls(p, n, true); // those of its devices, which exist now
                for (String a : n.addresses()) { // "10.1.2.3/8 scope global" on lo, or "... dev veth0"
                    List<String> cmd = new ArrayList<>(List.of("ip", "addr", "add"));
                    cmd.addAll(List.of(a.split(" ")));
                    if (!a.contains(" dev ")) {
                        cmd.addAll(List.of("dev", "lo"));
                    }
                    NetnsCommand.run(p, cmd.toArray(String[]::new));
                }
            });
        }
        for (NetNamespaceImage n : nets) {
            inNamespace(n, p -> {
                NetDevices.up(p, n.devices());
                for (String r : n.routes()) { // "-4 10.0.0.0/8 dev lo scope link"; nexthops first, which routes name
                    if (NetNexthops.is(r)) {
                        NetnsCommand.run(p, NetNexthops.addCommand(r).toArray(String[]::new));
                        continue;
                    }
                    String[] words = r.split(" ");
                    List<String> cmd = new ArrayList<>(List.of("ip", words[0], "route", "add"));
                    cmd.addAll(List.of(words).subList(1, words.length));
                    NetnsCommand.run(p, cmd.toArray(String[]::new));
                }
                NetFilterRules.load(p, n.firewall()); // before the sockets: a rebuilt connection's packets meet its NAT
            });
        }
    }

    /** The namespace's changed sysctls ({@link NetSysctls}), of its devices or the others, in the image's order. */
    private static void sysctls(Pid p, NetNamespaceImage n, boolean devices) {
        List<String> failed = Namespaces.inside(p, "net", () -> {
            List<String> bad = new ArrayList<>();
            n.sysctls().forEach((k, v) -> {
                if (NetSysctls.isDevice(k) != devices) {
                    return;
                }
                try {
                    java.nio.file.Path f = java.nio.file.Path.of("/proc/sys/" + k);
                    if (!v.equals(NetNamespaceScan.readOr(f.toString(), "").strip())) {
                        java.nio.file.Files.writeString(f, v);
                    }
                } catch (java.io.IOException e) {
                    bad.add(k + " = " + v + " (" + e.getMessage() + ")");
                }
            });
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
