package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Pid;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The macvlan devices of a net namespace of the tree's whose lower device is in that namespace too
 * (a veth end, a bridge, a tap: a pod's macvlan CNI over its own link, a test's second "host" on a
 * shared segment): made again on that lower device, under their ifindex, with their MAC, MTU, mode
 * (private, vepa, bridge, passthru with or without nopromisc) and broadcast queue length. One line
 * "macvlan name= index= lower= mac= mtu= up= mode= bcqueuelen=" of {@link NetDevices}' image lines.
 * A macvlan whose lower device is outside the tree's namespaces (the host's NIC: zdtm's macvlan)
 * stays refused, as CRIU needs {@code --external macvlan[...]} there; so does source mode, whose
 * list of remote MACs is not carried.
 */
final class NetMacvlans {
    private NetMacvlans() {}

    static boolean is(String line) {
        return line.startsWith("macvlan ");
    }

    /** The image line of macvlan {@code l} of {@code what}, refused when its lower device is not in the namespace. */
    static String line(String what, NetDevices.Link l, List<NetDevices.Link> inside) {
        if (l.elsewhere() || l.peer() == null || inside.stream().noneMatch(o -> o.name().equals(l.peer()))) {
            throw new DumpException(what + " has macvlan " + l.name() + " whose lower device is outside the namespace"
                    + " (" + (l.peer() == null ? "ifindex " + l.peerIndex() : l.peer()) + "), which a restore would"
                    + " not find again; not supported (CRIU needs --external macvlan[" + l.name() + "]:... there too)");
        }
        Map<String, String> s = NetBridges.settings(l.text(), "macvlan", List.of("mode", "bcqueuelen"));
        String mode = s.getOrDefault("mode", "vepa");
        if (mode.equals("source")) {
            throw new DumpException(what + " has macvlan " + l.name() + " in source mode, whose list of remote MACs"
                    + " is not carried; not supported");
        }
        if (l.text().contains(" passthru nopromisc ")) {
            mode = "passthru+nopromisc";
        }
        return "macvlan name=" + l.name() + " index=" + l.index() + " lower=" + l.peer() + " mac=" + l.mac() + " mtu="
                + l.mtu() + " up=" + (l.up() ? 1 : 0) + " mode=" + mode
                + (s.containsKey("bcqueuelen") ? " bcqueuelen=" + s.get("bcqueuelen") : "");
    }

    /** Makes macvlan {@code d} (a line's fields) on its lower device, which exists by now, down. */
    static void make(Pid p, Map<String, String> d) {
        String mode = d.get("mode");
        if (!List.of("private", "vepa", "bridge", "passthru", "passthru+nopromisc").contains(mode)) {
            throw new RestoreException("bad mode of macvlan " + d.get("name") + " in the image: " + mode);
        }
        int index = Integer.parseInt(d.get("index"));
        if (index < 2) {
            throw new RestoreException("bad ifindex " + index + " of macvlan " + d.get("name") + " in the image");
        }
        List<String> cmd = new ArrayList<>(List.of("ip", "link", "add", d.get("name"), "index", Integer.toString(index),
                "link", d.get("lower"), "address", d.get("mac"), "mtu", d.get("mtu"), "type", "macvlan", "mode"));
        cmd.addAll(List.of(mode.split("\\+")));
        if (d.containsKey("bcqueuelen")) {
            cmd.addAll(List.of("bcqueuelen", d.get("bcqueuelen")));
        }
        NetnsCommand.run(p, cmd.toArray(String[]::new));
    }
}
