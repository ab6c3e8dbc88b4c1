package dev.cryo.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CRIU's {@code --external TYPE[ID]:VALUE} (and {@code --ext-mount-map}, which {@link CriuHabits} spells as it):
 * the forms whose meaning cryo honours, and the others refused by name. {@code mnt[]} (CRIU's auto-detection, with
 * its flags m and s) is what cryo always does: it finds bind mounts of host paths, shared and slave ones too, and
 * binds them again by itself. {@code mnt[POINT]:NAME} at a dump names the mount at POINT in the image, and
 * {@code mnt[NAME]:PATH} at a restore binds the host's PATH there instead
 * ({@link dev.cryo.engine.namespaces.ExternalMounts}); {@code macvlan[NAME]:DEVICE} at a restore makes a macvlan whose
 * lower device was outside the tree's namespaces on DEVICE, and {@code veth[NAME]:OUTER[@BRIDGE]} names the outer end
 * of a veth pair to the host and its bridge; {@code netdev[NAME]:DEVICE} at a restore moves DEVICE in as the veth end
 * NAME whose peer was outside ({@link dev.cryo.engine.namespaces.ExternalNetDevices}).
 */
final class CriuExternals {
    private CriuExternals() {}

    private static final Pattern FORM = Pattern.compile("([a-z]+)\\[([^\\]]*)\\](?::(.*))?");

    /** {@code dump --external}: the mounts named, point → name; an IllegalArgumentException says why not. */
    static Map<String, String> dumpMounts(List<String> values) {
        return parse(values, false).mounts();
    }

    /**
     * {@code restore --external}: the mounts bound from host paths, name → absolute path (a relative one from /), and
     * the devices outside macvlans are made on, name → device.
     */
    static dev.cryo.engine.namespaces.RestoreExternals restore(List<String> values) {
        return parse(values, true);
    }

    private static dev.cryo.engine.namespaces.RestoreExternals parse(List<String> values, boolean restore) {
        Map<String, String> out = new LinkedHashMap<>(), macvlans = new LinkedHashMap<>(), netdevs = new LinkedHashMap<>(),
                veths = new LinkedHashMap<>();
        for (String v : values) {
            Matcher m = FORM.matcher(v);
            if (!m.matches()) {
                throw new IllegalArgumentException("--external " + v + ": expected TYPE[ID]:VALUE, as mnt[" + (restore
                        ? "NAME]:PATH" : "POINT]:NAME") + " (CRIU's syntax)");
            }
            String type = m.group(1), id = m.group(2), value = m.group(3) == null ? "" : m.group(3);
            String refused = refusal(type, restore);
            if (refused != null) {
                throw new IllegalArgumentException("--external " + v + ": " + refused);
            }
            if (type.equals("netdev")) {
                if (id.isEmpty() || value.isEmpty() || netdevs.put(id, value) != null) {
                    throw new IllegalArgumentException("--external " + v + ": expected netdev[NAME]:DEVICE, once for"
                            + " each veth NAME (the device of this host's moved in as it)");
                }
                continue;
            }
            if (type.equals("macvlan") || type.equals("veth")) {
                if (id.isEmpty() || value.isEmpty() || (type.equals("veth") ? veths : macvlans).put(id, value) != null) {
                    throw new IllegalArgumentException("--external " + v + ": expected " + (type.equals("veth")
                            ? "veth[NAME]:OUTER[@BRIDGE], once for each veth NAME (its outer end's name here, and the"
                            + " bridge it joins)" : "macvlan[NAME]:DEVICE, once for each macvlan NAME (the device of this"
                            + " host's it is made on)"));
                }
                continue;
            }
            if (id.isEmpty()) { // CRIU's auto-detection: cryo's way always
                if (!restore && !value.matches("[ms]*")) {
                    throw new IllegalArgumentException("--external " + v + ": mnt[]'s flags are m (external masters)"
                            + " and s (external shared mounts)");
                }
                continue;
            }
            if (value.isEmpty()) {
                throw new IllegalArgumentException("--external " + v + ": expected " + (restore ? "mnt[NAME]:PATH, the"
                        + " host path to bind at the mount dumped as NAME" : "mnt[POINT]:NAME, the name the image gives"
                        + " the mount at POINT"));
            }
            if (!restore && !id.startsWith("/")) {
                throw new IllegalArgumentException("--external " + v + ": " + id + " is no absolute mount point");
            }
            String key = restore ? id : Path.of(id).normalize().toString();
            // a relative path is taken from the root, as CRIU takes it (zdtm's mnt_root_ext: .zdtm_root_ext.tmp is /'s)
            String val = restore ? Path.of("/").resolve(value).normalize().toString() : value;
            if (out.put(key, val) != null) {
                throw new IllegalArgumentException("--external " + v + ": mnt[" + id + "] is given twice");
            }
        }
        return new dev.cryo.engine.namespaces.RestoreExternals(out, macvlans, netdevs, veths);
    }

    /** Why an external resource of {@code type} is not taken; null for mounts and a restore's macvlans, veths and netdevs. */
    private static String refusal(String type, boolean restore) {
        return switch (type) {
            case "mnt" -> null;
            case "dev" -> "a block device mounted in the tree's mount namespace; cryo makes no mount of a device again "
                    + "(its dump refuses one, naming it), so there is no device to name";
            case "file", "tty", "unix" -> "an open file, terminal or socket the tree reaches outside itself; cryo takes "
                    + "none by name: it carries what it can reach, refuses the rest at dump naming it (--shell-job for "
                    + "the terminal, --ext-unix-sk for sockets), and `cryo restore --inherit-fd` hands the tree a pipe "
                    + "or file in place of a dumped one";
            case "net", "pid" -> "a namespace left out of the image; cryo makes the tree's own namespaces again (`cryo "
                    + "restore --join-ns net:PATH` joins another net namespace)";
            case "veth" -> restore ? null : "name the outer end of a veth pair and its bridge: a restore's option (the"
                    + " dump records both)";
            case "netdev" -> restore ? null : "name a device of this host's moved into the tree's net namespace as one"
                    + " of its veth ends: a restore's option";
            case "macvlan" -> restore ? null : "name the device of this host's a macvlan whose lower device was outside"
                    + " the tree's namespaces is made on: a restore's option (the dump records such a macvlan by itself)";
            default -> "unknown external resource type '" + type + "' (CRIU's are mnt, dev, file, tty, unix, net, pid,"
                    + " veth, macvlan, netdev; cryo takes mnt, and macvlan, veth and netdev at a restore)";
        };
    }
}
