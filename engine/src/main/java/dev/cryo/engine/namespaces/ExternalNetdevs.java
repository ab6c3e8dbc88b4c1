package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.ImageContents;
import dev.cryo.engine.restore.RestoreException;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * CRIU's {@code restore --external netdev[NAME]:DEVICE}: instead of making the veth pair whose end NAME was in a net
 * namespace of the tree and whose peer was in cryo's, the restore moves DEVICE of cryo's net namespace in and names it
 * NAME, with its dumped MAC address, MTU, addresses and state (zdtm's cr_veth02: a container's link the runtime made
 * before the restore; the pair cryo made beside it was left behind, and the test's cleanup waited for its peer for
 * ever). Its ifindex stays the kernel's. Checked before any task is made: a name that is no such veth end, a device
 * cryo's namespace lacks, are refused.
 */
public final class ExternalNetdevs {
    private ExternalNetdevs() {}

    /** {@code image} with each veth end {@code devices} (name → device) names moved in instead of made. */
    public static ImageContents moveIn(ImageContents image, Map<String, String> devices) {
        if (devices.isEmpty()) {
            return image;
        }
        Set<String> used = new HashSet<>();
        List<NetNamespaceImage> nets = new ArrayList<>();
        for (NetNamespaceImage n : image.netNamespaces()) {
            List<String> lines = new ArrayList<>();
            for (String line : n.devices()) {
                Map<String, String> d = NetDevices.fields(line);
                String device = devices.get(d.get("name"));
                if (!line.startsWith("veth ") || !d.containsKey("outer") || device == null) {
                    lines.add(line);
                    continue;
                }
                if (!device.matches("[^/\\s=]{1,15}") || !ExternalNetDevices.hasDevice(device)) {
                    throw new RestoreException("--external netdev[" + d.get("name") + "]:" + device + ": cryo's net"
                            + " namespace has no device " + device);
                }
                d.keySet().removeIf(k -> k.startsWith("outer"));
                d.put("moved", device);
                used.add(d.get("name"));
                lines.add(NetDevices.line(d));
            }
            nets.add(new NetNamespaceImage(n.pid(), n.sockets(), lines, n.addresses(), n.routes(), n.sysctls(),
                    n.firewall()));
        }
        for (String name : devices.keySet()) {
            if (!used.contains(name)) {
                throw new RestoreException("--external netdev[" + name + "]:" + devices.get(name) + ": the image has no"
                        + " veth end " + name + " whose peer was outside the tree's namespaces");
            }
        }
        return new ImageContents(image.dir(), image.info(), image.tasks(), image.zombies(), image.pages(),
                image.pagesVerified(), image.namespaceImages(), nets, image.userNamespaces());
    }
}
