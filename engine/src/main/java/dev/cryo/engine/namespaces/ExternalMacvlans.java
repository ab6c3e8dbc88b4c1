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
 * whose lower device was outside its namespaces ({@link NetMacvlans}, {@code outside=}) is made on. Checked before any
 * task is made: such a macvlan without a device given, a name that is no such macvlan, a device cryo's namespace
 * lacks, are refused.
 */
public final class ExternalMacvlans {
    private ExternalMacvlans() {}

    /** Whether cryo's net namespace has {@code device} (asked by netlink: a /sys may be another namespace's). */
    static boolean hasDevice(String device) {
        try {
            NetnsCommand.runHere("ip", "link", "show", "dev", device);
            return true;
        } catch (dev.cryo.kernel.KernelException e) {
            return false;
        }
    }

    /** {@code image} with each outside macvlan's {@code lower=} the device {@code lowers} (name → device) gives. */
    public static ImageContents lower(ImageContents image, Map<String, String> lowers) {
        Set<String> used = new HashSet<>();
        List<NetNamespaceImage> nets = new ArrayList<>();
        boolean changed = false;
        for (NetNamespaceImage n : image.netNamespaces()) {
            List<String> devices = new ArrayList<>();
            for (String line : n.devices()) {
                Map<String, String> d = NetDevices.fields(line);
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
        return !changed ? image : new ImageContents(image.dir(), image.info(), image.tasks(), image.zombies(),
                image.pages(), image.pagesVerified(), image.namespaceImages(), nets, image.userNamespaces());
    }
}
