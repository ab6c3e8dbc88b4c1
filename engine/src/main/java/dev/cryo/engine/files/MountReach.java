package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MountInfo;
import dev.cryo.kernel.proc.ProcFs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Files that live on a mount no namespace of the dump holds and that their path does not reach
 * either: a tmpfs unmounted with {@code umount -l} while a file of it was open, or an
 * open_tree/fsmount mount never attached (zdtm detached_mount, anonymous_mount). Reopened by path
 * at restore they came back as other files (a cwd as "/") or missing, after the dump had killed
 * the tree: refused at dump. A detached mount whose file the path still names (a sandbox's
 * binary, mapped from the old root that pivot_root left detached, is the same file under the
 * sandbox's bind of /usr) is fine: the restore finds that very file. Mounts of cryo's own
 * namespace count as attached (a file opened before the task made its mount namespace:
 * {@link RegularFileHandler#onlyOutside}). A file of a mount of the task's namespace that a later
 * mount covers (a FIFO or file held open on a tmpfs, then another tmpfs mounted on the same point:
 * zdtm's overmount tests in a container) is refused too: its path reaches the covering mount.
 */
public final class MountReach {
    private final Pid pid;
    private Set<Long> attached;

    public MountReach(Pid pid) {
        this.pid = pid;
    }

    /**
     * Fails naming {@code what} when the file {@code procLink} opens (a /proc/PID/fd/N, cwd, root
     * or map_files link of the task), dumped under {@code path}, is on a mount attached in neither
     * namespace and {@code path} names another file or none. The common case costs one statx: the
     * path, seen from the task's root, lands on that very mount.
     */
    public void requireLink(String procLink, String path, String what) {
        requireLink(procLink, path, what, false);
    }

    /**
     * As {@link #requireLink} for a mapped file or the executable, which the restore opens where the task's
     * nearest ancestor of the tree in another mount namespace finds it when the task's own view does not
     * (TaskContext.laterWithFile): a child that pivoted its namespace's root away and detached the old one,
     * its binary mapped from there (zdtm's mntns_pivot_root).
     */
    public void requireMapped(String procLink, String path, String what) {
        requireLink(procLink, path, what, true);
    }

    /**
     * For the file {@code procLink} opens, dumped under {@code path}, on a mount attached nowhere (neither in the
     * task's nor cryo's namespace nor an ancestor's) when {@code path} names another file or none: "" when no
     * attached mount shows its file system either (a tmpfs unmounted with {@code umount -l} while the file was
     * open: zdtm's detached_mount), or the point of a mount of the task's namespace through which {@code path}
     * reaches that very file (a bind mount unmounted so, its source still mounted: zdtm's detached_bind_mount).
     * Null otherwise: not detached, or detached and reached no way ({@link #requireLink} refuses it).
     * {@link DetachedMountFileHandler} carries the first two.
     */
    public String detachedFrom(String procLink, String path) {
        long mountId = Sys.mountId(procLink);
        if (reached(procLink, path, mountId) || attached().contains(mountId) || ancestorsMount(mountId) != null
                || path == null || !path.startsWith("/") || attachedAnywhere(mountId)) {
            return null;
        }
        try {
            long dev = ((Number) Files.getAttribute(Path.of(procLink), "unix:dev")).longValue();
            int major = (int) (((dev >>> 32) & 0xfffff000L) | ((dev >>> 8) & 0xfff));
            int minor = (int) (((dev >>> 12) & 0xffffff00L) | (dev & 0xff));
            boolean shown = false;
            for (String p : new String[] {pid.procDir() + "/mountinfo", "/proc/self/mountinfo"}) {
                for (MountInfo.Mount m : MountInfo.parse(p, ProcFs.text(p))) {
                    if (m.major() != major || m.minor() != minor) {
                        continue;
                    }
                    shown = true;
                    String point = m.point().equals("/") ? "" : m.point();
                    if (p.startsWith(pid.procDir()) && sameFile(procLink, pid.procDir() + "/root" + point + path)) {
                        return m.point();
                    }
                }
            }
            return shown ? null : "";
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Whether some mount namespace of this host has mount {@code mountId} attached (a child's of the tree: zdtm's
     * mntns_open, a file its parent holds there). Read only for a file no nearer namespace shows: each namespace once.
     */
    private static boolean attachedAnywhere(long mountId) {
        java.util.Set<String> seen = new HashSet<>();
        try (java.nio.file.DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : procs) {
                String ns = dev.cryo.kernel.Namespaces.link(p.getFileName().toString(), "mnt");
                if (ns == null || !seen.add(ns)) {
                    continue;
                }
                try {
                    String file = p + "/mountinfo";
                    if (MountInfo.parse(file, ProcFs.text(file)).stream().anyMatch(m -> m.id() == mountId)) {
                        return true;
                    }
                } catch (RuntimeException goneMeanwhile) {
                    seen.remove(ns); // another process of that namespace may still be read
                }
            }
        } catch (java.io.IOException e) {
            return true; // cannot tell: not taken for detached
        }
        return false;
    }

    /** Whether {@code path}, seen from the task's root or its namespace's, reaches that very file or mount. */
    private boolean reached(String procLink, String path, long mountId) {
        String seen = path != null && path.startsWith("/") ? pid.procDir() + "/root" + path : null;
        if (seen != null && (onMount(seen, mountId) || sameFile(procLink, seen) || sameFile(procLink, path))) {
            return true;
        }
        String fromTop = path != null && path.startsWith("/") ? namespaceRoot() : null;
        // a chrooted task's path starts at its namespace's root, where the restore opens it
        return fromTop != null && (onMount(fromTop + path, mountId) || sameFile(procLink, fromTop + path));
    }

    private void requireLink(String procLink, String path, String what, boolean ancestorMayOpen) {
        long mountId = Sys.mountId(procLink);
        if (reached(procLink, path, mountId)) {
            return;
        }
        if (attached().contains(mountId)) {
            coveringMount(mountId, path).ifPresent(c -> {
                throw new DumpException("pid " + pid + ": " + what + " is on mount " + mountId + " (" + c.covered()
                        + "), which mount " + c.cover().id() + " (" + c.cover().fsType() + " on " + c.cover().point()
                        + ") made later covers: its path reaches that mount at restore, not this file; not supported");
            });
            return;
        }
        Ancestor ancestor = ancestorsMount(mountId);
        if (ancestor != null && ancestorMayOpen && path != null && path.startsWith("/") && ofTheTree(ancestor.pid())
                && sameFile(procLink, ancestor.pid().procDir() + "/root" + path)) {
            return;
        }
        String ancestors = ancestor == null ? null : ancestor.where();
        if (ancestors != null) {
            throw new DumpException("pid " + pid + ": " + what + " is on mount " + mountId + ", " + ancestors + ", which"
                    + " the task's own mount namespace no longer has (its root pivoted elsewhere and the old one"
                    + " detached, as zdtm's mntns_pivot_root does): a restore opens it in the task's own namespace,"
                    + " where no path reaches it" + (ancestorMayOpen ? ", and that pid is not of the tree or names"
                    + " another file at that path" : "") + "; not supported yet");
        }
        throw new DumpException("pid " + pid + ": " + what + " is on a mount that is not attached in its mount namespace"
                + " (mount id " + mountId + ": unmounted with umount -l while in use, or made by open_tree/fsmount"
                + " and never attached), and no path reaches it at restore; not supported");
    }

    /**
     * The root of the task's mount namespace as seen from cryo, when the task's own root is below it (a chroot:
     * zdtm's chroot in a container): the root of its nearest ancestor in the same namespace whose root is the
     * namespace's (its {@code ..} is itself). Paths of a task's files, cwd and root start there, and a restore
     * opens them from there before it chroots the task. Null when no such ancestor is found.
     */
    private String namespaceRoot() {
        String ns = dev.cryo.kernel.Namespaces.link(pid.toString(), "mnt");
        Pid at = pid;
        for (int hops = 0; ns != null && hops < 64; hops++) {
            String root = at.procDir() + "/root";
            try {
                if (!ns.equals(dev.cryo.kernel.Namespaces.link(at.toString(), "mnt"))) {
                    return null;
                }
                if (Files.isSameFile(Path.of(root), Path.of(root, ".."))) {
                    return root;
                }
                int up = ProcFs.stat(at).ppid();
                if (up <= 1) {
                    return null;
                }
                at = Pid.of(up);
            } catch (java.io.IOException | RuntimeException e) {
                return null;
            }
        }
        return null;
    }

    private record Ancestor(Pid pid, String where) {}

    /**
     * Whether {@code p} is a task of the tree: cryo traces it (a restore forks it again, so its view is there
     * to open a file from; an ancestor outside the tree is not).
     */
    private static boolean ofTheTree(Pid p) {
        try {
            int tracer = ProcFs.status(p).tracerPid();
            return tracer != 0 && Files.exists(Path.of("/proc/self/task/" + tracer));
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Where mount {@code mountId} is attached in the mount namespace of an ancestor of the task's, if it is. */
    private Ancestor ancestorsMount(long mountId) {
        String own = dev.cryo.kernel.Namespaces.link(pid.toString(), "mnt");
        Pid at = pid;
        try {
            for (int hops = 0; hops < 64; hops++) {
                int up = ProcFs.stat(at).ppid();
                if (up <= 0) {
                    return null;
                }
                at = Pid.of(up);
                String ns = dev.cryo.kernel.Namespaces.link(at.toString(), "mnt");
                if (ns == null || ns.equals(own)) {
                    continue;
                }
                String file = at.procDir() + "/mountinfo";
                for (MountInfo.Mount m : MountInfo.parse(file, ProcFs.text(file))) {
                    if (m.id() == mountId) {
                        return new Ancestor(at, "attached in the mount namespace of pid " + at + " (" + ns + ", "
                                + m.fsType() + " on " + m.point() + ")");
                    }
                }
            }
        } catch (RuntimeException e) {
            return null; // an ancestor gone meanwhile: the plain refusal
        }
        return null;
    }

    private record Cover(String covered, MountInfo.Mount cover) {}

    /** A mount of the task's namespace on top of mount {@code mountId} whose point is on {@code path}. */
    private java.util.Optional<Cover> coveringMount(long mountId, String path) {
        if (path == null || !path.startsWith("/")) {
            return java.util.Optional.empty();
        }
        String file = pid.procDir() + "/mountinfo";
        java.util.List<MountInfo.Mount> mine = MountInfo.parse(file, ProcFs.text(file));
        String covered = mine.stream().filter(m -> m.id() == mountId).map(m -> m.fsType() + " on " + m.point())
                .findFirst().orElse(null);
        return covered == null ? java.util.Optional.empty() : mine.stream()
                .filter(m -> m.parent() == mountId && (path.equals(m.point()) || path.startsWith(m.point() + "/")))
                .findFirst().map(m -> new Cover(covered, m));
    }

    private static boolean onMount(String path, long mountId) {
        try {
            return Sys.mountId(path) == mountId;
        } catch (RuntimeException e) { // nothing there (a deleted file's old name): look further
            return false;
        }
    }

    /** Whether two paths name one file (device and inode), following links. */
    private static boolean sameFile(String a, String b) {
        try {
            Map<String, Object> x = Files.readAttributes(Path.of(a), "unix:dev,ino");
            Map<String, Object> y = Files.readAttributes(Path.of(b), "unix:dev,ino");
            return x.get("dev").equals(y.get("dev")) && x.get("ino").equals(y.get("ino"));
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /** Whether mount {@code mountId} is attached in the task's namespace or cryo's. */
    public boolean attached(long mountId) {
        return attached().contains(mountId);
    }

    private Set<Long> attached() {
        if (attached == null) { // read once per task: the tree is frozen
            attached = new HashSet<>();
            for (String p : new String[] {pid.procDir() + "/mountinfo", "/proc/self/mountinfo"}) {
                for (MountInfo.Mount m : MountInfo.parse(p, ProcFs.text(p))) {
                    attached.add((long) m.id());
                }
            }
        }
        return attached;
    }
}
