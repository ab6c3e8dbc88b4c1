package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.ImageContents;
import dev.cryo.engine.restore.RestoreException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * CRIU's {@code restore --external macvlan[NAME]:DEVICE}: the device of cryo's net namespace a macvlan of the tree
 * whose lower device was outside its namespaces ({@link NetMacvlans}, {@code outside=}) is made on; and {@code
 * --external veth[NAME]:OUTER[@BRIDGE]}: the name in cryo's namespace of the outer end of the tree's veth NAME, and
 * the bridge it joins (without one, the bridge it was in at the dump, if any); and {@code --external
 * netdev[NAME]:DEVICE}: instead of making the veth pair whose end NAME was in a net namespace of the tree and whose
 * peer was in cryo's, the restore moves DEVICE of cryo's net namespace in and names it NAME, with its dumped MAC
 * address, MTU, addresses and state (zdtm's cr_veth02: a container's link the runtime made before the restore; the
 * pair cryo made beside it was left behind, and the test's cleanup waited for its peer for ever). Its ifindex stays
 * the kernel's. Checked before any task is made: such a macvlan without a device given, a name that is no such
 * macvlan or veth, a device or bridge cryo's namespace lacks, are refused.
 */
public final class ExternalNetDevices {
    private ExternalNetDevices() {}

    /** Veth line {@code line} ({@code d} its fields) with its outer end named and bridged as {@code to} says. */
    private static String outer(String line, Map<String, String> d, String to) {
        String what = "--external veth[" + d.get("name") + "]:" + to;
        int at = to.indexOf('@');
        String name = at < 0 ? to : to.substring(0, at), bridge = at < 0 ? null : to.substring(at + 1);
        if (!name.matches("[^/\\s=@:]{1,15}") || bridge != null && !bridge.matches("[^/\\s=@:]{1,15}")) {
            throw new RestoreException(what + ": expected OUTER or OUTER@BRIDGE, device names of up to 15 characters");
        }
        if (bridge != null && !hasDevice(bridge)) {
            throw new RestoreException(what + ": cryo's net namespace has no bridge " + bridge);
        }
        StringBuilder b = new StringBuilder("veth");
        boolean bridged = false;
        for (var e : d.entrySet()) {
            String v = e.getKey().equals("outer") ? name : e.getKey().equals("outermaster") && bridge != null ? bridge
                    : e.getValue();
            bridged |= e.getKey().equals("outermaster");
            b.append(' ').append(e.getKey()).append('=').append(v);
        }
        if (bridge != null && !bridged) {
            b.append(" outermaster=").append(bridge);
        }
        return b.toString();
    }

    /** Whether cryo's net namespace has {@code device} (asked by netlink: a /sys may be another namespace's). */
    static boolean hasDevice(String device) {
        try {
            NetnsCommand.runHere("ip", "link", "show", "dev", device);
            return true;
        } catch (dev.cryo.kernel.KernelException e) {
            return false;
        }
    }

    /** Device {@code device} of cryo's net namespace that {@code what} names, checked. */
    private static String device(String what, String device) {
        if (!device.matches("[^/\\s=]{1,15}") || !hasDevice(device)) {
            throw new RestoreException(what + ": cryo's net namespace has no device " + device);
        }
        return device;
    }

    /** Veth line fields {@code d} with its end moved in from {@code device} of cryo's namespace, not made. */
    private static String movedIn(Map<String, String> d, String device) {
        device("--external netdev[" + d.get("name") + "]:" + device, device);
        d.keySet().removeIf(k -> k.startsWith("outer"));
        d.put("moved", device);
        return NetDevices.line(d);
    }

    /**
     * {@code image} with each outside macvlan's {@code lower=} the device {@code lowers} (name → device) gives, each
     * veth's outer end {@code outers} (name → OUTER[@BRIDGE]) names renamed and bridged, and each veth end {@code
     * moved} (name → device) names moved in instead of made (after {@code outers}: it wins when both name one).
     */
    public static ImageContents apply(ImageContents image, Map<String, String> lowers, Map<String, String> outers,
                                      Map<String, String> moved) {
        Set<String> used = new HashSet<>(), usedVeths = new HashSet<>(), usedMoved = new HashSet<>();
        List<NetNamespaceImage> nets = new ArrayList<>();
        boolean changed = false;
        for (NetNamespaceImage n : image.netNamespaces()) {
            List<String> devices = new ArrayList<>();
            for (String line : n.devices()) {
                Map<String, String> d = NetDevices.fields(line);
                String name = d.get("name");
                if (line.startsWith("veth ") && d.containsKey("outer")
                        && (outers.containsKey(name) || moved.containsKey(name))) {
                    if (outers.containsKey(name)) {
                        line = outer(line, d, outers.get(name));
                        usedVeths.add(name);
                    }
                    if (moved.containsKey(name)) {
                        line = movedIn(NetDevices.fields(line), moved.get(name));
                        usedMoved.add(name);
                    }
                    devices.add(line);
                    changed = true;
                    continue;
                }
                if (!NetMacvlans.is(line) || !d.containsKey("outside")) {
                    devices.add(line);
                    continue;
                }
                String device = lowers.get(name);
                if (device == null) {
                    throw new RestoreException("macvlan " + name + " of pid " + n.pid() + "'s net namespace was made on"
                            + " a device outside the tree's namespaces (" + d.get("outside") + " at the dump): give the"
                            + " device of this host's to make it on with --external macvlan[" + name + "]:DEVICE (as"
                            + " CRIU needs)");
                }
                used.add(name);
                devices.add(line + " lower=" + device("--external macvlan[" + name + "]:" + device, device));
                changed = true;
            }
            nets.add(n.withDevices(devices));
        }
        unused("macvlan", lowers, used, " macvlan %s made on a device outside the tree's namespaces");
        unused("veth", outers, usedVeths, " veth %s whose other end is in cryo's net namespace");
        unused("netdev", moved, usedMoved, " veth end %s whose peer was outside the tree's namespaces");
        return !changed ? image : image.withNetNamespaces(nets);
    }

    /** Refuses a name of {@code given} (--external KIND[NAME]:...) that no device of the image took. */
    private static void unused(String kind, Map<String, String> given, Set<String> used, String what) {
        for (String name : given.keySet()) {
            if (!used.contains(name)) {
                throw new RestoreException("--external " + kind + "[" + name + "]:" + given.get(name) + ": the image has"
                        + " no" + what.formatted(name));
            }
        }
    }
}
