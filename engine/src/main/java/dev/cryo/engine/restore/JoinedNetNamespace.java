package dev.cryo.engine.restore;

import dev.cryo.engine.namespaces.NamespaceImage;
import dev.cryo.engine.namespaces.NetNamespaceImage;
import dev.cryo.kernel.Clone;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * CRIU's {@code restore --join-ns net:PATH} (or {@code net:PID}): the net namespace the tree's root made
 * (an {@code unshare -n} container) is not made again; the root joins the one at PATH, as a tree dumped
 * in a namespace bound on the host does ({@link NamespaceImage#joinsNet}), and the tree's sockets are
 * rebuilt inside it. Its devices, addresses, routes, sysctls and firewall are that namespace's: the
 * image's are left out. A root that was in cryo's namespace has none to replace: refused, as is a
 * namespace made below the root (only the root's is named by CRIU's option).
 */
public final class JoinedNetNamespace {
    private JoinedNetNamespace() {}

    /** The path {@code restore --join-ns KIND:VALUE[,...]} names for net, or an IllegalArgumentException saying why not. */
    public static String path(String option) {
        int colon = option.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--join-ns " + option + ": expected net:PATH or net:PID");
        }
        String kind = option.substring(0, colon);
        String value = option.substring(colon + 1);
        int comma = value.indexOf(',');
        if (!kind.equals("net")) {
            throw new IllegalArgumentException("--join-ns " + option + ": only a net namespace is joined; cryo makes the"
                    + " tree's own " + kind + " namespace again itself, and restores the rest in its own");
        }
        if (comma >= 0) {
            throw new IllegalArgumentException("--join-ns " + option + ": a net namespace takes no extra options");
        }
        if (value.matches("[0-9]+")) {
            return "/proc/" + value + "/ns/net";
        }
        if (!value.startsWith("/")) {
            throw new IllegalArgumentException("--join-ns " + option + ": expected an absolute path or a pid after net:");
        }
        return value;
    }

    /** {@code image} with its root's net namespace joined at {@code path}. */
    public static ImageContents apply(ImageContents image, String path) {
        int root = image.root();
        NamespaceImage made = image.namespaceImages().stream().filter(n -> n.pid() == root).findFirst().orElse(null);
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
        return new ImageContents(image.dir(), image.info(), image.tasks(), image.zombies(), image.pages(),
                image.pagesVerified(), namespaces, nets, image.userNamespaces());
    }
}
