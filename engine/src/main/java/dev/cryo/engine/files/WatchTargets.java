package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileHandles;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What inotify watches and fanotify marks point at. fdinfo names a watched inode by device, inode
 * number and file handle; the handle is opened through a mount of that device
 * (open_by_handle_at) and the path the kernel gives the opened inode is what restore watches
 * again. Mounts are cryo's own view (/proc/self/mountinfo), then, for an inotify watch on a file
 * only the task's mount namespace reaches (a tmpfs it mounted), the task's: through /proc/PID/root,
 * the kernel names the file by its path in that namespace, where the restore watches it again.
 */
final class WatchTargets {
    private WatchTargets() {}

    private static final Pattern FIELD = Pattern.compile("([a-z_-]+):(\\S+)");

    /** The "key:value" fields of one fdinfo watch line ("ino:20c044 sdev:fe00000 mask:2 …"). */
    static Map<String, String> fields(String line) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        Matcher f = FIELD.matcher(line);
        while (f.find()) {
            m.put(f.group(1), f.group(2));
        }
        return m;
    }

    static long hex(Map<String, String> f, String key, String line) throws IOException {
        String v = f.get(key);
        if (v == null) {
            throw new IOException("fdinfo line '" + line + "' has no " + key);
        }
        return Long.parseUnsignedLong(v, 16);
    }

    /** A mount of cryo's view: its id, device (major:minor) and mount point. */
    record Mount(int id, int major, int minor, String point) {}

    /** The ids of the mounts of cryo's view. */
    static java.util.Set<Integer> mountIds() throws IOException {
        java.util.Set<Integer> ids = new java.util.HashSet<>();
        for (Mount m : mounts()) {
            ids.add(m.id());
        }
        return ids;
    }

    static List<Mount> mounts() throws IOException {
        return mounts("/proc/self/mountinfo");
    }

    private static List<Mount> mounts(String mountinfo) throws IOException {
        List<Mount> out = new ArrayList<>();
        for (String l : Files.readAllLines(Path.of(mountinfo))) {
            String[] f = l.split(" ");
            if (f.length < 5) {
                continue;
            }
            String[] dev = f[2].split(":");
            out.add(new Mount(Integer.parseInt(f[0]), Integer.parseInt(dev[0]), Integer.parseInt(dev[1]), unescape(f[4])));
        }
        return out;
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** The kernel's internal dev_t (fdinfo "sdev"): 12-bit major above a 20-bit minor. */
    static int major(long sdev) {
        return (int) (sdev >>> 20);
    }

    static int minor(long sdev) {
        return (int) (sdev & 0xfffff);
    }

    /** The mount point of a mount id (fanotify mount marks), or empty. */
    static Optional<String> mountPoint(int mntId, Pid pid) throws IOException {
        return viewOf(pid).stream().filter(m -> m.id() == mntId).map(Mount::point).findFirst();
    }

    /** A mount point of a device (fanotify filesystem marks), or empty. */
    static Optional<String> mountPointOf(long sdev, Pid pid) throws IOException {
        return viewOf(pid).stream().filter(m -> m.major() == major(sdev) && m.minor() == minor(sdev))
                .map(Mount::point).findFirst();
    }

    /**
     * The mounts as the task sees them: a task of a mount namespace of its own marks mounts of that
     * namespace, which the restore marks again by the task's paths (as {@link #target} does).
     */
    private static List<Mount> viewOf(Pid pid) throws IOException {
        return RegularFileHandler.inOtherMountNamespace(pid.value()) ? mounts(pid.procDir() + "/mountinfo") : mounts();
    }

    /**
     * A watched inode: its path, for one that was deleted the ghost file the dump carries for it, and {@code
     * mountOf}: the pid of a task of the tree in another mount namespace whose mount of it the path names (0:
     * the holder's or cryo's view).
     */
    record Target(String path, dev.cryo.engine.model.FileRef ghost, int mountOf) {
        Target(String path, dev.cryo.engine.model.FileRef ghost) {
            this(path, ghost, 0);
        }
    }

    /** Carries a deleted watched file: its contents through {@code source}, an fd of it in cryo. */
    interface Ghosts {
        dev.cryo.engine.model.FileRef carry(String path, Path source);
    }

    /**
     * Like {@link #path}, but a deleted inode is carried by {@code ghosts} (when not null) while
     * cryo holds it open by its handle: restore watches the recreated file. With {@code pid}, an inode
     * no mount of cryo's reaches is looked for through the mounts of that task's namespace.
     */
    static Target target(Map<String, String> f, String line, Ghosts ghosts, Pid pid) throws IOException {
        return target(f, line, ghosts, pid, List.of());
    }

    /**
     * {@code tree}: the tasks of the tree, whose mount namespaces are looked through last: a task may watch a
     * file of a mount only another namespace of the tree has (zdtm's inotify01: a tmpfs its child mounted in a
     * namespace of its own, reached through the child's /proc/PID/fd).
     */
    static Target target(Map<String, String> f, String line, Ghosts ghosts, Pid pid, java.util.Collection<Integer> tree)
            throws IOException {
        long sdev = hex(f, "sdev", line);
        long ino = hex(f, "ino", line);
        int type = (int) hex(f, "fhandle-type", line);
        int len = (int) hex(f, "fhandle-bytes", line);
        String handleText = f.get("f_handle");
        if (handleText == null || handleText.length() != 2 * len) {
            throw new IOException("fdinfo line '" + line + "' has no file handle of " + len + " bytes");
        }
        byte[] handle = HexFormat.of().parseHex(handleText);
        String where = "inode " + ino + " on device " + major(sdev) + ":" + minor(sdev);
        SyscallException[] last = {null};
        boolean own = pid != null && RegularFileHandler.inOtherMountNamespace(pid.value());
        Target t = null;
        if (own) { // the path the task names it by: a container's root is a host directory cryo names otherwise
            t = through(mounts(pid.procDir() + "/mountinfo"), pid.procDir() + "/root", sdev, ino, type, handle, where,
                    NOT_HERE, last);
        }
        if (t == null) {
            t = through(mounts(), "", sdev, ino, type, handle, where, ghosts, last);
        }
        if (t == null && pid != null && !own) {
            // a deleted file there is not carried (a ghost file is made again by its path in cryo's view)
            String root = pid.procDir() + "/root";
            t = through(mounts(pid.procDir() + "/mountinfo"), root, sdev, ino, type, handle, where, null, last);
        }
        if (t == null && pid != null) {
            t = inAnotherNamespace(pid, tree, sdev, ino, type, handle, where, last);
        }
        if (t != null) {
            return t;
        }
        throw new IOException("the watched " + where + " cannot be found by its file handle"
                + (last[0] == null ? " (no mount of that device here)" : ": " + last[0].getMessage()));
    }

    /** Through the mounts of another mount namespace of the tree than {@code pid}'s, named by a task of it. */
    private static Target inAnotherNamespace(Pid pid, java.util.Collection<Integer> tree, long sdev, long ino, int type,
                                             byte[] handle, String where, SyscallException[] last) throws IOException {
        String own = dev.cryo.kernel.Namespaces.link(pid.toString(), "mnt");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int other : tree) {
            String ns = dev.cryo.kernel.Namespaces.link(Integer.toString(other), "mnt");
            if (ns == null || ns.equals(own) || !seen.add(ns)) {
                continue;
            }
            List<Mount> table;
            try {
                table = mounts("/proc/" + other + "/mountinfo");
            } catch (IOException e) {
                continue; // gone meanwhile, or a zombie: no table
            }
            Target t = through(table, "/proc/" + other + "/root", sdev, ino, type, handle, where, NOT_HERE, last);
            if (t != null) {
                return new Target(t.path(), null, other);
            }
        }
        return null;
    }

    /** A deleted inode is looked for no further in these mounts (cryo's view carries it). */
    private static final Ghosts NOT_HERE = (path, source) -> null;

    /** The inode opened by its handle through one of {@code mounts} seen under {@code root} ("" for cryo's), or null. */
    private static Target through(List<Mount> mounts, String root, long sdev, long ino, int type, byte[] handle,
                                  String where, Ghosts ghosts, SyscallException[] last) throws IOException {
        for (Mount m : mounts) {
            if (m.major() != major(sdev) || m.minor() != minor(sdev)) {
                continue;
            }
            String found;
            // opened quietly: a watch on the mount point's directory would see the open (a tree left running reads it)
            try (Fd mountFd = dev.cryo.kernel.QuietOpens.directory(root + m.point());
                 Fd target = FileHandles.open(mountFd, type, handle)) {
                found = Files.readSymbolicLink(Path.of("/proc/self/fd/" + target.value())).toString();
                if (found.endsWith(" (deleted)")) {
                    if (ghosts == NOT_HERE) {
                        continue;
                    }
                    if (ghosts == null) {
                        throw new IOException("the watched " + where + " (" + found + ") was deleted; a watch on a "
                                + "deleted file is not supported yet");
                    }
                    String path = found.substring(0, found.length() - " (deleted)".length());
                    return new Target(path, ghosts.carry(path, Path.of("/proc/self/fd/" + target.value())));
                }
            } catch (SyscallException e) {
                last[0] = e;
                continue;
            }
            Path p = Path.of(root + found);
            Object got = Files.exists(p, LinkOption.NOFOLLOW_LINKS)
                    ? Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS) : null;
            if (got instanceof Long l && l == ino) {
                return new Target(found, null);
            }
        }
        return null;
    }

    /**
     * Refuses a notification group holding unread events: the kernel offers no way to queue them
     * again (CRIU drops them with a warning; cryo loses nothing, so it refuses). What it held when the
     * tree was frozen counts ({@link NotificationQueues}); measured here only if that measure failed.
     */
    static void requireEmptyQueue(FdProbe fd, String kind, FdHandler.DumpContext ctx) throws IOException {
        Integer atFreeze = ctx.queuedAtFreeze(fd.ref());
        int pending = atFreeze != null ? atFreeze : pendingBytes(fd.pid(), fd.fd());
        if (pending > 0) {
            throw new IOException(kind + " holds " + pending + " bytes of unread events, which cannot be queued "
                    + "again, " + UnreadQueues.RETRIED);
        }
    }

    /** The bytes of unread events in notification group {@code fd} of {@code pid} (FIONREAD on cryo's copy). */
    static int pendingBytes(Pid pid, int fd) throws IOException {
        try (Fd pidfd = Sys.pidfdOpen(pid); Fd mine = Sys.pidfdGetfd(pidfd, pid, fd)) {
            return Sys.pendingBytes(mine);
        }
    }

}
