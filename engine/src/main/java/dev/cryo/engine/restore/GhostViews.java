package dev.cryo.engine.restore;

import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileHandles;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.Errno;
import dev.cryo.engine.namespaces.UserNamespaceRestore;

import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The other paths and mounts fds hold one deleted file by, beside the one it is made again at: a parent's bind
 * and its child's bind of two directories of one tmpfs, the file linked in both and removed (zdtm's
 * mntns_link_ghost), the child holding it through both. Made again once, the file comes back through one mount;
 * so while it still has its name, it is linked into each other directory (opened in the mount namespace of its
 * holder: on its mount), opened there and unlinked again, and each fd takes its own.
 */
final class GhostViews {
    private GhostViews() {}

    /** A path of the file as the mount namespace of task {@code mountOf} (0: cryo's) sees it. */
    record View(int mountOf, String path) {
        String where() {
            return path + (mountOf == 0 ? "" : " in the mount namespace of pid " + mountOf);
        }
    }

    /**
     * The directory of each view, opened in its mount namespace before the file is made (a thread that joined
     * one namespace cannot join another). A view of the namespace the file is made in ({@code made}) whose
     * directory cannot be opened is left out: its fds take the file made again, as they did; in another
     * namespace that would be another mount, and the restore fails naming it.
     */
    static Map<View, Fd> openDirs(Collection<View> views, int made, String file) {
        Map<View, Fd> dirs = new LinkedHashMap<>();
        try {
            for (View v : views) {
                String dir = Path.of(v.path()).getParent() == null ? "/" : Path.of(v.path()).getParent().toString();
                try {
                    dirs.put(v, v.mountOf() == 0 ? Sys.open(dir, Fcntl.O_RDONLY | Fcntl.O_DIRECTORY)
                            : Namespaces.seenBy(Pid.of(v.mountOf()), () -> Sys.open(dir, Fcntl.O_RDONLY | Fcntl.O_DIRECTORY)));
                } catch (RuntimeException e) {
                    if (v.mountOf() != made) {
                        throw new RestoreException("cannot open the directory of " + v.where() + ", where an fd held"
                                + " the deleted file " + file + ": " + e.getMessage(), e);
                    }
                }
            }
        } catch (RuntimeException e) {
            dirs.values().forEach(Fd::close);
            throw e;
        }
        return dirs;
    }

    /**
     * Links the file {@code made} holds (it still has a name) into each view's directory, through that directory's
     * mount (open_by_handle_at), opens it there and unlinks it again; returns cryo's O_PATH fd of each, which
     * names the file through that mount and path. Left out as in {@link #openDirs}.
     */
    static Map<View, Fd> link(Fd made, Map<View, Fd> dirs, int madeIn, String file) {
        Map<View, Fd> out = new LinkedHashMap<>();
        FileHandles.Handle h = FileHandles.of(made);
        try {
            dirs.forEach((v, dir) -> {
                String name = Path.of(v.path()).getFileName().toString();
                Fd named = already(dir, name, h);
                if (named != null) { // the very name it was made at, seen through this view's mount
                    out.put(v, named);
                    return;
                }
                try (Fd there = FileHandles.open(dir, h.type(), h.bytes())) {
                    linkAt(there, dir, name);
                    try {
                        out.put(v, Sys.openAt(dir, name, Fcntl.O_PATH));
                    } finally {
                        Sys.unlinkAt(dir, name);
                    }
                } catch (RuntimeException e) {
                    if (v.mountOf() != madeIn) {
                        throw new RestoreException("cannot make the deleted file " + file + " again as " + v.where()
                                + ", where an fd held it: " + e.getMessage(), e);
                    }
                }
            });
        } catch (RuntimeException e) {
            out.values().forEach(Fd::close);
            throw e;
        }
        return out;
    }

    /**
     * linkat; where the directory's file system belongs to a user namespace that maps no host root, cryo's uid 0
     * cannot be an owner there (EOVERFLOW, zdtm's mntns_link_remap in the uns flavor): again as the directory's
     * owner, read from the fd (its /proc/self/fd link may not resolve in a container's mount namespace).
     */
    private static void linkAt(Fd file, Fd dir, String name) {
        try {
            Sys.linkAt(file, dir, name);
        } catch (SyscallException e) {
            if (e.errno() != Errno.EOVERFLOW) {
                throw e;
            }
            int[] owner = Sys.owner(dir);
            try {
                UserNamespaceRestore.withFsIds(Integer.toUnsignedLong(owner[0]), Integer.toUnsignedLong(owner[1]),
                        () -> Sys.linkAt(file, dir, name));
            } catch (java.io.IOException x) {
                throw new IllegalStateException(x); // linkAt throws none
            }
        }
    }

    /** An O_PATH fd of {@code name} in {@code dir} when that is the file of handle {@code h}, else null. */
    private static Fd already(Fd dir, String name, FileHandles.Handle h) {
        Fd f;
        try {
            f = Sys.openAt(dir, name, Fcntl.O_PATH | Fcntl.O_NOFOLLOW);
        } catch (RuntimeException absent) {
            return null;
        }
        try {
            FileHandles.Handle g = FileHandles.of(f);
            if (g.type() == h.type() && java.util.Arrays.equals(g.bytes(), h.bytes())) {
                return f;
            }
        } catch (RuntimeException noHandles) {
            // another file system: another file
        }
        f.close();
        return null;
    }
}
