package dev.cryo.engine.files;

import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Sys;

/**
 * An fd held through a mount of another mount namespace of the tree than its holder's: a child that
 * made a namespace of its own (CLONE_NEWNS) keeps an fd its parent opened, which stays on the parent's
 * mount, not on the child's copy of it (zdtm's mntns_open). Reopened by path in the child's namespace
 * it would come back on the copy: another mount id, and umount/propagation see another mount.
 */
final class OtherMountNamespace {
    private OtherMountNamespace() {}

    /**
     * The pid of a task of the tree in another mount namespace whose table holds the fd's mount, or 0
     * when the mount is the holder's own (or in no namespace of the tree). The common case costs one
     * statx: the path, seen from the holder's root, lands on that very mount.
     */
    static int holder(FdProbe fd, FdHandler.DumpContext ctx) {
        if (fd.info() == null || !fd.target().startsWith("/")) {
            return 0;
        }
        int id = fd.info().mntId();
        int pid = fd.pid().value();
        try {
            if (Sys.mountId(fd.pid().procDir() + "/root" + fd.target()) == id) {
                return 0;
            }
        } catch (RuntimeException e) { // nothing at that path (a removed directory): read the tables
        }
        dev.cryo.engine.dump.MountTables tables = ctx.mountTables();
        if (tables.of(pid).contains(id)) {
            return 0;
        }
        String own = Namespaces.link(Integer.toString(pid), "mnt");
        for (int other : ctx.treePids()) {
            String ns = Namespaces.link(Integer.toString(other), "mnt");
            if (ns != null && !ns.equals(own) && tables.of(other).contains(id)) {
                return other;
            }
        }
        return 0;
    }
}
