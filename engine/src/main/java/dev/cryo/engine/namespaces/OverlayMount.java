package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MountInfo.Mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An overlay a task mounted inside its mount namespace. Its files live in its layers, directories
 * of other mounts, so a restore mounts it again with the same options; that is right only when
 * each layer, named in the options as the mounter named it, is the same directory from the task's
 * root and from cryo's (where the restore's new namespace starts). In a namespace whose root is
 * not the host's (after pivot_root) its layers are paths of that root: the restore mounts it while
 * the task is chrooted into the root it is building ({@link #mountInRoot}), so the options name
 * them as before, and each layer must be on a mount made before the overlay (the root being built
 * holds only those). The runtimes mount a container's rootfs overlay on the host, which is a bind.
 */
final class OverlayMount {
    private OverlayMount() {}

    /** {@code pivotedTable}: the namespace's mount table when its root is not the host's, else null. */
    static void check(Pid p, Mount m, List<Mount> pivotedTable, String what) {
        for (String layer : layers(m.superOptions())) {
            if (!layer.startsWith("/")) {
                throw new DumpException(what + " names its layer " + layer + " by a relative path; not supported yet");
            }
            if (pivotedTable != null) {
                checkMadeBefore(p, m, pivotedTable, layer, what);
                continue;
            }
            try {
                Map<String, Object> inside = Files.readAttributes(Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + layer), "unix:dev,ino");
                Map<String, Object> here = Files.readAttributes(Path.of(layer), "unix:dev,ino");
                if (!inside.equals(here)) {
                    throw new DumpException(what + ": its layer " + layer + " is another directory in the namespace"
                            + " than on the host; it cannot be mounted again as it was");
                }
            } catch (IOException e) {
                throw new DumpException(what + ": its layer " + layer + " cannot be reached (" + e.getMessage()
                        + "); it cannot be mounted again");
            }
        }
    }

    /** A layer of an overlay of a pivoted root: on a mount made before the overlay, the deepest holding its path. */
    private static void checkMadeBefore(Pid p, Mount m, List<Mount> table, String layer, String what) {
        if (!Files.isDirectory(Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + layer))) {
            throw new DumpException(what + ": its layer " + layer + " is no directory its root reaches; it cannot be"
                    + " mounted again");
        }
        Mount holder = null;
        for (Mount x : table) {
            if (MountScan.under(layer, x.point()) && (holder == null || x.point().length() >= holder.point().length())) {
                holder = x; // the last mounted on the deepest point is the one reached
            }
        }
        if (holder == null || table.indexOf(holder) >= table.indexOf(m)) {
            throw new DumpException(what + ": its layer " + layer + " is on " + (holder == m ? "the overlay itself"
                    : "a mount made after it (" + (holder == null ? "none" : holder.point()) + ")")
                    + "; it cannot be mounted again as it was");
        }
    }

    /**
     * Mounts overlay {@code d} (its point as the root being built at {@code below} names it) from
     * inside that root: the task chroots into it, so the layers its options name resolve there
     * and the options keep their paths, and goes back to its own root through an fd of it.
     */
    static void mountInRoot(TaskContext t, String below, MountImage d, long fs, long data, long flags) {
        long root = t.call("open(/, O_PATH)", SyscallNr.OPEN, MountRestore.path(t, 0, "/"),
                Fcntl.O_PATH | Fcntl.O_DIRECTORY | Fcntl.O_CLOEXEC, 0);
        try {
            t.call("chroot(" + below + ")", SyscallNr.CHROOT, MountRestore.path(t, 0, below));
            try {
                t.call("mount(overlay, " + d.point() + ") in the root being built", SyscallNr.MOUNT,
                        MountRestore.path(t, 0, d.source()), MountRestore.path(t, 4096, d.point()), fs, flags, data);
            } finally {
                t.call("fchdir(its root)", SyscallNr.FCHDIR, root);
                t.call("chroot(.)", SyscallNr.CHROOT, MountRestore.path(t, 0, "."));
            }
        } finally {
            t.call("close", SyscallNr.CLOSE, root);
        }
    }

    /** The lowerdir (':'-separated, '\' escapes), upperdir and workdir paths of overlay options. */
    static List<String> layers(String superOptions) {
        List<String> out = new ArrayList<>();
        for (String o : superOptions.split(",")) {
            int eq = o.indexOf('=');
            String key = eq < 0 ? o : o.substring(0, eq);
            if (eq < 0 || !List.of("lowerdir", "upperdir", "workdir", "datadir").contains(key)) {
                continue;
            }
            StringBuilder cur = new StringBuilder();
            String v = o.substring(eq + 1);
            for (int i = 0; i < v.length(); i++) {
                char c = v.charAt(i);
                if (c == '\\' && i + 1 < v.length()) {
                    cur.append(v.charAt(++i));
                } else if (c == ':' && key.equals("lowerdir")) {
                    out.add(cur.toString());
                    cur.setLength(0);
                } else {
                    cur.append(c);
                }
            }
            if (!cur.isEmpty()) {
                out.add(cur.toString().startsWith(":") ? cur.substring(1) : cur.toString());
            }
        }
        return out;
    }
}
