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
 * the bridge it joins (without one, the bridge it was in at the dump, if any). Checked before any task is made: such
 * a macvlan without a device given, a name that is no such macvlan or veth, a device or bridge cryo's namespace
 * lacks, are refused.
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

    /**
     * {@code image} with each outside macvlan's {@code lower=} the device {@code lowers} (name → device) gives, and
     * each veth's outer end {@code outers} (name → OUTER[@BRIDGE]) names renamed and bridged.
     */
    public static ImageContents apply(ImageContents image, Map<String, String> lowers, Map<String, String> outers) {
        Set<String> used = new HashSet<>(), usedVeths = new HashSet<>();
        List<NetNamespaceImage> nets = new ArrayList<>();
        boolean changed = false;
        for (NetNamespaceImage n : image.netNamespaces()) {
            List<String> devices = new ArrayList<>();
            for (String line : n.devices()) {
                Map<String, String> d = NetDevices.fields(line);
                if (line.startsWith("veth ") && d.containsKey("outer") && outers.containsKey(d.get("name"))) {
                    devices.add(outer(line, d, outers.get(d.get("name"))));
                    usedVeths.add(d.get("name"));
                    changed = true;
                    continue;
                }
                if (!NetMacvlans.is(line) || !d.containsKey("outside")) {
                    devices.add(line);
                    continue;
                }
                String name = d.get("name"), device = lowers.get(name);
                if (device == null) {
                    throw new RestoreException("macvlan " + name + " of pid " + n.pid() + "'s net namespace was made on"
                            + " a device outside the tree's namespaces (" + d.get("outside") + " at the dump): give the"
                            + " device of this host's to make it on with --external macvlan[" + name + "]:DEVICE (as"
                            + " CRIU needs)");
                }
                if (!device.matches("[^/\\s=]{1,15}") || !hasDevice(device)) {
                    throw new RestoreException("--external macvlan[" + name + "]:" + device + ": cryo's net namespace"
                            + " has no device " + device);
                }
                used.add(name);
                devices.add(line + " lower=" + device);
                changed = true;
            }
            nets.add(new NetNamespaceImage(n.pid(), n.sockets(), devices, n.addresses(), n.routes(), n.sysctls(),
                    n.firewall()));
        }
        for (String name : lowers.keySet()) {
            if (!used.contains(name)) {
                throw new RestoreException("--external macvlan[" + name + "]:" + lowers.get(name) + ": the image has no"
                        + " macvlan " + name + " made on a device outside the tree's namespaces");
            }
        }
        for (String name : outers.keySet()) {
            if (!usedVeths.contains(name)) {
                throw new RestoreException("--external veth[" + name + "]:" + outers.get(name) + ": the image has no"
                        + " veth " + name + " whose other end is in cryo's net namespace");
            }
        }
        return !changed ? image : new ImageContents(image.dir(), image.info(), image.tasks(), image.zombies(),
                image.pages(), image.pagesVerified(), image.namespaceImages(), nets, image.userNamespaces());
    }
}
