package dev.cryo.engine.namespaces;

import dev.cryo.kernel.proc.MountInfo.Mount;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The order a restore makes a namespace's mounts in. mountinfo lists them as they were made, but a
 * mount made by propagation may sit where no path reaches any more: systemd-nspawn's /run/host is a
 * bind of its /run's own directory, in /run's peer group, so what nspawn mounted in /run/host was
 * copied into the /run below it, under /run/host. A restore mounts by path, so such a hidden mount
 * must be made before the mount that covers the path to it; otherwise the table's order is kept.
 */
final class MountOrder {
    private MountOrder() {}

    /** The table with every mount after its parent and before any mount covering the path to it. */
    static List<Mount> sorted(List<Mount> table) {
        List<Mount> left = new ArrayList<>(table), out = new ArrayList<>();
        while (!left.isEmpty()) {
            Mount next = null;
            for (Mount m : left) {
                boolean waits = left.stream().anyMatch(o -> o != m && (o.id() == m.parent() || covers(m, o, table)));
                if (!waits) {
                    next = m;
                    break;
                }
            }
            if (next == null) { // no order satisfies every mount: the table's own
                out.addAll(left);
                break;
            }
            out.add(next);
            left.remove(next);
        }
        return out;
    }

    /**
     * Whether mount {@code a}, once made, covers the path to {@code b}: it is on one of {@code b}'s
     * ancestors, at a directory the path from there goes through before (or where) it crosses into
     * the next mount toward {@code b}, and is no ancestor of {@code b}.
     */
    static boolean covers(Mount a, Mount b, List<Mount> table) {
        if (a.id() == b.id() || !MountScan.under(b.point(), a.point())) {
            return false;
        }
        Map<Integer, Mount> byId = new HashMap<>();
        table.forEach(m -> byId.put(m.id(), m));
        List<Mount> chain = new ArrayList<>(List.of(b)); // b, its parent, ... up to the root
        for (Mount c = byId.get(b.parent()); c != null && !chain.contains(c); c = byId.get(c.parent())) {
            chain.add(c);
        }
        for (int j = 1; j < chain.size(); j++) {
            if (chain.get(j).id() == a.id()) {
                return false;
            }
            if (chain.get(j).id() == a.parent()) {
                return MountScan.under(chain.get(j - 1).point(), a.point());
            }
        }
        return false;
    }
}
