package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.MountApi;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MountInfo.Mount;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * One tmpfs mounted in two mount namespaces of the tree: a namespace made from another (unshare -m) starts
 * with copies of its mounts, and the copy of a tmpfs made there is the same file system, so what one task
 * writes in it the other reads (zdtm's mntns_* tests hold files of it open from both). The dump tags each
 * tmpfs a namespace made with its device ({@link #tag}); the restore mounts the first namespace's anew and,
 * in a namespace made later from that one, attaches a clone (open_tree) of it, taken while the task is still
 * in its copy of its parent's namespace, in place of a new tmpfs. Before, each namespace got a tmpfs of its
 * own with the same files, apart from then on.
 */
final class SameFileSystem {
    private SameFileSystem() {}

    private static final String PREFIX = "fs:";

    /** The tag of a tmpfs a namespace made: its device, which names one file system in one dump. */
    static String tag(Mount m) {
        return PREFIX + m.major() + ":" + m.minor();
    }

    /** The tags the kernel shows (peer groups, masters, unbindable): {@code tags} without the file system's. */
    static List<String> shown(List<String> tags) {
        return tags.stream().filter(x -> !x.startsWith(PREFIX)).toList();
    }

    private static String of(MountImage d) {
        return d.tags().stream().filter(x -> x.startsWith(PREFIX)).findFirst().orElse(null);
    }

    /** Records made mount {@code d}, now at its point in the task's namespace, for the namespaces made after. */
    static void made(TaskContext t, MountImage d) {
        String tag = of(d);
        if (tag != null) {
            t.namespaces().madeFileSystem(tag, new TreeNamespaces.Peer(t.pid().value(), d.point(), d.root()));
        }
    }

    /**
     * For each tmpfs {@code dumped} lists as made that the namespace the task was forked in made again already
     * (the same tag): a clone of that mount, as the task's copy of that namespace shows it, for {@code groups}
     * to attach instead of a new tmpfs. One whose clone shows another device (covered there since) is not taken.
     */
    static void cloneFromParent(TaskContext t, List<MountImage> dumped, PeerGroups groups) {
        String forkedIn = Namespaces.link(Integer.toString(ProcFs.stat(t.pid()).ppid()), "mnt");
        for (MountImage d : dumped) {
            String tag = of(d);
            if (!d.made() || d.bindFrom() != null || tag == null || groups.cloneOf(d) != null || forkedIn == null) {
                continue;
            }
            for (TreeNamespaces.Peer p : t.namespaces().madeFileSystems(tag)) {
                if (p.pid() == t.pid().value() || !MountScan.under(d.root(), p.root())
                        || !forkedIn.equals(Namespaces.link(Integer.toString(p.pid()), "mnt"))) {
                    continue;
                }
                String path = MountScan.join(p.point(), d.root().substring(p.root().equals("/") ? 0 : p.root().length()));
                long fd = t.call("open_tree(" + path + ", OPEN_TREE_CLONE)", SyscallNr.OPEN_TREE, Fcntl.AT_FDCWD,
                        MountRestore.path(t, 0, path), MountApi.OPEN_TREE_CLONE | Fcntl.O_CLOEXEC);
                if (sameDevice(t.pid(), fd, p)) {
                    groups.cloned(d, fd);
                    break;
                }
                t.call("close(" + fd + ")", SyscallNr.CLOSE, fd);
            }
            if (!d.root().equals("/") && groups.cloneOf(d) == null) { // a directory of it: no new tmpfs shows that
                throw new RestoreException("pid " + t.pid() + ": " + d.describe() + " of its mount namespace shows " + d.root()
                        + " of a tmpfs the namespace it was forked in no longer has as it was dumped");
            }
        }
    }

    /**
     * Whether the namespace of {@code parent}, which forks {@code p} at restore, has a mount of {@code m}'s tmpfs
     * whose root holds {@code m}'s and that nothing covers there: a child's bind of a directory of its parent's
     * tmpfs that its own namespace no longer mounts (zdtm's mntns_link_remap, mntns_link_ghost), cloned from it.
     */
    static boolean inParentsNamespace(Pid p, Pid parent, Mount m) {
        if (parent == null || Objects.equals(Namespaces.link(parent.toString(), "mnt"), Namespaces.link(p.toString(), "mnt"))) {
            return false;
        }
        List<Mount> table = MountOrder.sorted(MountScan.read(ExitedLeaders.proc(parent) + "/mountinfo"));
        for (int i = 0; i < table.size(); i++) {
            Mount x = table.get(i);
            if (x.major() == m.major() && x.minor() == m.minor() && x.fsType().equals("tmpfs") && MountScan.under(m.root(), x.root())
                    && !MountScan.coveredLater(table, i)) {
                return true;
            }
        }
        return false;
    }

    private static boolean sameDevice(Pid pid, long fd, TreeNamespaces.Peer p) {
        try {
            Object clone = Files.getAttribute(Path.of("/proc/" + pid + "/fd/" + fd), "unix:dev");
            Object there = Files.getAttribute(Path.of("/proc/" + p.pid() + "/root" + (p.point().equals("/") ? "/." : p.point())),
                    "unix:dev");
            return clone.equals(there);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
