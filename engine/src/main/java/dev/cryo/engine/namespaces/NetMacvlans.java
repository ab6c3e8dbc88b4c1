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
 * A macvlan whose lower device is outside the tree's namespaces (the host's NIC: zdtm's macvlan) is
 * dumped with {@code outside=} the lower's name in cryo's namespace at the dump (or ifN, its index
 * elsewhere) instead of {@code lower=}; its restore needs {@code --external macvlan[NAME]:DEVICE}, as
 * CRIU's does, which gives the device of cryo's namespace it is made on ({@link ExternalNetDevices}).
 * Source mode stays refused: its list of remote MACs is not carried.
 */
final class NetMacvlans {
    private NetMacvlans() {}

    static boolean is(String line) {
        return line.startsWith("macvlan ");
    }

    /** The image line of macvlan {@code l} of {@code what}. */
    static String line(String what, NetDevices.Link l, List<NetDevices.Link> inside) {
        boolean outside = l.elsewhere() || l.peer() == null || inside.stream().noneMatch(o -> o.name().equals(l.peer()));
        Map<String, String> s = NetBridges.settings(l.text(), "macvlan", List.of("mode", "bcqueuelen"));
        String mode = s.getOrDefault("mode", "vepa");
        if (mode.equals("source")) {
            throw new DumpException(what + " has macvlan " + l.name() + " in source mode, whose list of remote MACs"
                    + " is not carried; not supported");
        }
        if (l.text().contains(" passthru nopromisc ")) {
            mode = "passthru+nopromisc";
        }
        return "macvlan name=" + l.name() + " index=" + l.index() + (outside ? " outside=" + outsideName(l)
                : " lower=" + l.peer()) + " mac=" + l.mac() + " mtu="
                + l.mtu() + " up=" + (l.up() ? 1 : 0) + " mode=" + mode
                + (s.containsKey("bcqueuelen") ? " bcqueuelen=" + s.get("bcqueuelen") : "");
    }

    /** The lower device's name in cryo's namespace when it is there (same ifindex, a macvlan's link), else ifN. */
    private static String outsideName(NetDevices.Link l) {
        if (l.peer() != null) {
            return l.peer();
        }
        return NetDevices.parse(NetnsCommand.runHere("ip", "-o", "link", "show")).stream()
                .filter(h -> h.index() == l.peerIndex()).map(NetDevices.Link::name).findFirst()
                .orElse("if" + l.peerIndex());
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
        if (d.get("lower") == null) { // outside, and no --external macvlan[] named the device (ExternalNetDevices refuses that)
            throw new RestoreException("macvlan " + d.get("name") + " has no lower device");
        }
        boolean outside = d.containsKey("outside");
        List<String> cmd = new ArrayList<>(List.of("ip", "link", "add", d.get("name"), "index", Integer.toString(index),
                "link", d.get("lower"), "address", d.get("mac"), "mtu", d.get("mtu")));
        if (outside) { // made on cryo's device, into the namespace at once: its ifindex is the namespace's
            cmd.addAll(List.of("netns", p.toString()));
        }
        cmd.addAll(List.of("type", "macvlan", "mode"));
        cmd.addAll(List.of(mode.split("\\+")));
        if (d.containsKey("bcqueuelen")) {
            cmd.addAll(List.of("bcqueuelen", d.get("bcqueuelen")));
        }
        if (outside) {
            NetnsCommand.runHere(cmd.toArray(String[]::new));
        } else {
            NetnsCommand.run(p, cmd.toArray(String[]::new));
        }
    }
}
