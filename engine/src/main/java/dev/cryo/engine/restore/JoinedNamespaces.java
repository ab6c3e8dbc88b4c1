package dev.cryo.engine.restore;

import dev.cryo.engine.namespaces.NamespaceImage;
import dev.cryo.engine.namespaces.NetNamespaceImage;
import dev.cryo.kernel.Clone;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CRIU's {@code restore --join-ns KIND:PATH} (or {@code KIND:PID}, repeatable): the tree's root joins the
 * namespace at PATH instead of the one the image has it make, or instead of cryo's.
 * <ul>
 * <li>net: only a namespace the root made (an {@code unshare -n} container) is replaced, as a tree dumped in a
 * namespace bound on the host is ({@link NamespaceImage#joinsNet}); its sockets are rebuilt inside, its devices,
 * addresses, routes, sysctls and firewall are the joined namespace's (the image's are left out).</li>
 * <li>uts: the root joins PATH whether it made its own or was in cryo's; the host and domain names are the joined
 * namespace's (the image's are left out). A task below that made its own makes it again inside.</li>
 * <li>ipc: only a namespace the root made, holding no SysV object or POSIX queue (those would have to be made
 * in a namespace others use, and a failed restore could not take them back); its sysctls are the joined one's.
 * A tree in cryo's ipc namespace may hold its objects (attached segments, queues): refused.</li>
 * <li>time: only a namespace the root made (and entered), whose CLOCK_MONOTONIC and CLOCK_BOOTTIME read, in the
 * joined one, no earlier than the tree's did at the dump (checked in the root once it joined: the clocks would go
 * back); they read the joined namespace's clocks, which may have gone on further than its own would. One the root
 * made for its children only is made again.</li>
 * </ul>
 * Refused with the reason: pid (as CRIU), mnt (cryo makes the tree's mount table again itself; CRIU joins none
 * either), user and cgroup, and any join when the root made a user namespace (from inside it the root may not join
 * the host's).
 */
public final class JoinedNamespaces {
    private JoinedNamespaces() {}

    /**
     * The namespace files {@code restore --join-ns KIND:VALUE[,...]} options name, by kind ("net", "uts", "ipc", "time"), or an
     * IllegalArgumentException saying why not.
     */
    public static Map<String, String> paths(List<String> options) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String option : options) {
            int colon = option.indexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("--join-ns " + option + ": expected KIND:PATH or KIND:PID (net, uts, ipc, time)");
            }
            String kind = option.substring(0, colon);
            String value = option.substring(colon + 1);
            String refused = switch (kind) {
                case "net", "uts", "ipc", "time" -> null;
                case "pid" -> "a pid namespace is not joined (neither does CRIU): cryo makes the tree's own pid namespace"
                        + " again, or restores it in its own";
                case "mnt" -> "cryo makes the tree's own mount namespace again with its mount table, or restores it in"
                        + " its own; joining another is not supported (nor by CRIU)";
                case "user" -> "cryo makes the tree's own user namespace again with its maps, or restores it in its"
                        + " own; joining another is not supported";
                case "cgroup" -> "cryo makes the tree's own cgroup namespace again rooted at its cgroups; joining"
                        + " another is not supported";
                default -> "unknown namespace kind '" + kind + "': net, uts, ipc and time are joined";
            };
            if (refused != null) {
                throw new IllegalArgumentException("--join-ns " + option + ": " + refused);
            }
            if (value.indexOf(',') >= 0) {
                throw new IllegalArgumentException("--join-ns " + option + ": a " + kind + " namespace takes no extra options");
            }
            String path;
            if (value.matches("[0-9]+")) {
                path = "/proc/" + value + "/ns/" + kind;
            } else if (value.startsWith("/")) {
                path = value;
            } else {
                throw new IllegalArgumentException("--join-ns " + option + ": expected an absolute path or a pid after "
                        + kind + ":");
            }
            if (out.put(kind, path) != null) {
                throw new IllegalArgumentException("--join-ns " + option + ": a " + kind + " namespace is named twice");
            }
        }
        return out;
    }

    /** {@code image} with its root's namespaces joined at the {@code paths} ({@link #paths}) instead. */
    public static ImageContents apply(ImageContents image, Map<String, String> paths) {
        int root = image.root();
        NamespaceImage made = image.namespaceImages().stream().filter(n -> n.pid() == root).findFirst().orElse(null);
        if (made != null && made.has(Clone.NEWUSER) && !paths.isEmpty()) {
            throw new RestoreException("--join-ns: the root (pid " + root + ") made a user namespace; from inside it, it"
                    + " may not join a namespace of the host's");
        }
        for (var e : paths.entrySet()) {
            image = switch (e.getKey()) {
                case "net" -> net(image, e.getValue());
                case "uts" -> joined(image, Clone.NEWUTS, e.getValue());
                case "ipc" -> ipc(image, e.getValue());
                case "time" -> time(image, e.getValue());
                default -> throw new IllegalArgumentException("--join-ns " + e.getKey());
            };
        }
        return image;
    }

    private static NamespaceImage madeByRoot(ImageContents image) {
        int root = image.root();
        return image.namespaceImages().stream().filter(n -> n.pid() == root).findFirst().orElse(null);
    }

    private static ImageContents ipc(ImageContents image, String path) {
        NamespaceImage made = madeByRoot(image);
        int root = image.root();
        if (made == null || !made.has(Clone.NEWIPC)) {
            throw new RestoreException("--join-ns ipc:" + path + ": the root (pid " + root + ") was in the ipc namespace"
                    + " of " + (image.namespaceImages().stream().anyMatch(n -> n.has(Clone.NEWIPC)) ? "its parent, and"
                    + " only a task below it made one" : "the host it was dumped on, whose SysV objects and queues it may"
                    + " hold") + "; only an ipc namespace the root made is joined instead of made");
        }
        if (!made.ipc().isEmpty()) {
            throw new RestoreException("--join-ns ipc:" + path + ": the ipc namespace the root (pid " + root + ") made"
                    + " holds " + made.ipc().json() + "; they would be made in a namespace others use (and a failed"
                    + " restore could not take them back): only an ipc namespace with no object is joined");
        }
        return joined(image, Clone.NEWIPC, path);
    }

    private static ImageContents time(ImageContents image, String path) {
        NamespaceImage made = madeByRoot(image);
        if (made == null || made.time() == null || made.time().own() == null) {
            throw new RestoreException("--join-ns time:" + path + ": the root (pid " + image.root() + ") was in the time"
                    + " namespace of " + (image.namespaceImages().stream().anyMatch(n -> n.time() != null) ? "its parent,"
                    + " and only a task below it (or its children) had one of their own" : "the host it was dumped on")
                    + "; only a time namespace the root made is joined instead of made");
        }
        return joined(image, Clone.NEWTIME, path);
    }

    /** {@code image} with its root's namespace of kind {@code flag} joined at {@code path}. */
    private static ImageContents joined(ImageContents image, int flag, String path) {
        int root = image.root();
        List<NamespaceImage> namespaces = new ArrayList<>();
        boolean found = false;
        for (NamespaceImage n : image.namespaceImages()) {
            found |= n.pid() == root;
            namespaces.add(n.pid() == root ? n.joining(flag, path) : n);
        }
        if (!found) { // the root was in cryo's: it joins this one all the same
            namespaces.add(0, new NamespaceImage(root, 0, "", "", Map.of(), false, List.of(), List.of())
                    .joining(flag, path));
        }
        return image.withNamespaceImages(namespaces);
    }

    /** {@code image} with its root's net namespace joined at {@code path}. */
    private static ImageContents net(ImageContents image, String path) {
        int root = image.root();
        NamespaceImage made = madeByRoot(image);
        if (made == null || !made.has(Clone.NEWNET)) {
            boolean below = image.namespaceImages().stream().anyMatch(n -> n.has(Clone.NEWNET));
            throw new RestoreException("--join-ns net:" + path + ": the root (pid " + root + ") was in "
                    + (below ? "its parent's net namespace, and only a task below it made one" : "the net namespace of"
                    + " the host it was dumped on, with no namespace of its own") + "; only a net namespace the root"
                    + " made is joined instead of made");
        }
        List<NamespaceImage> namespaces = new ArrayList<>();
        image.namespaceImages().forEach(n -> namespaces.add(n.pid() == root ? n.joiningNet(path) : n));
        List<NetNamespaceImage> nets = new ArrayList<>();
        image.netNamespaces().forEach(n -> nets.add(n.pid() != root ? n // only the tree's sockets go into the joined one
                : new NetNamespaceImage(n.pid(), n.sockets(), List.of(), List.of(), List.of(), Map.of(), Map.of())));
        return image.withNamespaceImages(namespaces).withNetNamespaces(nets);
    }
}
