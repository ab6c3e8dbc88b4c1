package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MountInfo.Mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;

/**
 * A bind mount of a file since removed from a tmpfs the namespace made (systemd-nspawn's
 * /proc/sys/kernel/random/boot_id and /proc/kmsg: a file and a FIFO made in its /run, bound over
 * /proc's, then unlinked; zdtm's mntns_deleted: a directory bound, then removed), or from a file system the
 * namespace did not make, seen through its copy of the host's mounts (mntns_deleted's second mount: a file of
 * the host's bound, then removed) or through a bind of a host directory it made (a container's root): mountinfo shows its root as "NAME//deleted". The dump keeps the file (its
 * bytes, the node, or an empty directory: a removed one holds nothing) as the mount's one content entry and
 * binds from its old path; the restore makes it there again, binds it, and removes it once every mount is made,
 * or as soon as the making fails (on the host's file system nothing else would).
 */
final class DeletedBind {
    private DeletedBind() {}

    private static final String DELETED = "//deleted";

    /**
     * The image of {@code m}, a bind of a removed file of a tmpfs made earlier in the namespace, or of a file
     * system of a copy of the host's mounts ({@code done}, in step with {@code out}); null when it is of anything else.
     */
    static MountImage scan(Pid p, Pid parent, Mount m, List<Mount> mine, List<Mount> done, List<MountImage> out) {
        String name = m.root().substring(0, m.root().length() - DELETED.length());
        int k = -1;
        for (int i = 0; i < done.size(); i++) {
            Mount s = done.get(i);
            boolean madeTmpfs = s.fsType().equals("tmpfs") && out.get(i).made() && out.get(i).bindFrom() == null;
            // a bind of a host directory made in there: a container's root (zdtm's mntns_deleted in its ns flavor)
            boolean hostBind = !s.fsType().equals("tmpfs") && out.get(i).made() && out.get(i).bindFrom() != null;
            if ((madeTmpfs || hostBind || !out.get(i).made()) && s.stDev() == m.stDev() && !s.root().endsWith(DELETED)
                    && MountScan.under(name, s.root())) {
                k = i;
                if (madeTmpfs) {
                    break;
                }
            }
        }
        if (k < 0) {
            return null;
        }
        Mount fs = done.get(k);
        if (!out.get(k).made() || out.get(k).bindFrom() != null) {
            sharedWithParent(p, parent, m);
        }
        String rel = name.substring(fs.root().equals("/") ? 0 : fs.root().length());
        String from = MountScan.join(fs.point(), rel);
        String what = "pid " + p + ": its mount namespace: its bind mount of " + m.root() + " on " + m.point();
        Path old = Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + from);
        if (Files.exists(old, LinkOption.NOFOLLOW_LINKS)) {
            throw new DumpException(what + ": another file is at its old path " + from + " now; not supported");
        }
        try { // the file made again there must be of its file system: not under a mount covering it since
            if (((Number) Files.getAttribute(old.getParent(), "unix:dev", LinkOption.NOFOLLOW_LINKS)).longValue() != m.stDev()) {
                throw new DumpException(what + ": the directory of its old path " + from + " is on another file system"
                        + " now (a mount covers it); not supported");
            }
        } catch (IOException | UnsupportedOperationException e) {
            throw new DumpException(what + ": cannot reach the directory of its old path " + from + ": " + e);
        }
        for (Mount x : mine) { // any mount of the same file it is seen through (a later one may cover this one)
            if (x.stDev() != m.stDev() || !x.root().equals(m.root())) {
                continue;
            }
            Path at = Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + x.point());
            try {
                Map<String, Object> a = Files.readAttributes(at, "unix:*", LinkOption.NOFOLLOW_LINKS);
                if (((Number) a.get("dev")).longValue() != m.stDev() || (Integer) a.get("nlink") != 0) {
                    continue;
                }
                int mode = (Integer) a.get("mode");
                char type = (mode & 0170000) == 0100000 ? 'f' : (mode & 0170000) == 0040000 ? 'd' : MountScan.TmpfsFiles.node(mode);
                if (type == 0 || type == 's') {
                    throw new DumpException(what + ": a file of mode 0" + Integer.toOctalString(mode) + "; only regular"
                            + " files, directories, FIFOs and device nodes are made again");
                }
                byte[] data = type == 'f' ? Files.readAllBytes(at) : type == 'd' ? new byte[0] : java.nio.ByteBuffer.allocate(8)
                        .putLong(((Number) a.get("rdev")).longValue()).array();
                if (data.length > MountImage.MAX_CONTENT_BYTES) {
                    throw new DumpException(what + ": holds more than " + (MountImage.MAX_CONTENT_BYTES >> 20) + " MiB");
                }
                MountImage.Entry e = MountScan.TmpfsFiles.entry(at, rel.substring(1), type, a, data);
                return new MountImage(m.point(), m.fsType(), m.source(), m.root(), m.options(), m.superOptions(),
                        m.tags(), true, from, List.of(e));
            } catch (IOException e) {
                // covered there: another mount of it may show it
            }
        }
        throw new DumpException(what + ": the removed file cannot be read through any of its mounts; not supported");
    }

    /**
     * A removed file of the host's file system bound in the namespace of {@code parent} (the task that forks
     * {@code p}) too, which {@code p}'s namespace copied: each namespace's restore would make it again, two files
     * where there was one. Refused.
     */
    private static void sharedWithParent(Pid p, Pid parent, Mount m) {
        String ns = dev.cryo.kernel.Namespaces.link(p.toString(), "mnt");
        if (parent == null || ns == null || ns.equals(dev.cryo.kernel.Namespaces.link(parent.toString(), "mnt"))) {
            return;
        }
        if (MountScan.read(dev.cryo.kernel.ExitedLeaders.proc(parent) + "/mountinfo").stream()
                .anyMatch(x -> x.stDev() == m.stDev() && x.root().equals(m.root()))) {
            throw new DumpException("pid " + p + ": its mount namespace: its bind mount of " + m.root() + " on " + m.point()
                    + ": the removed file is bound in the mount namespace of pid " + parent + " too; a restore would make"
                    + " it again for each namespace, two files where there was one; not supported");
        }
    }

    /** Whether the restore makes this mount's removed file first. */
    static boolean is(MountImage d) {
        return d.made() && d.bindFrom() != null && d.root().endsWith(DELETED) && d.contents().size() == 1;
    }

    /**
     * Makes the removed file at its old path ({@code d}'s bind source, as placed by the restore) unless
     * an earlier bind of it made it ({@code made}: the paths this task's restore made so far, added to);
     * returns what removes it again once its binds are made, or null. Another file there is refused: the
     * bind would show it.
     */
    static Runnable make(TaskContext t, MountImage d, String what, java.util.Set<String> made) {
        Path p = Path.of(dev.cryo.kernel.ExitedLeaders.proc(t.pid()) + "/root" + d.bindFrom());
        if (made.contains(d.bindFrom())) {
            return null;
        }
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new RestoreException(what + ": another file is at the old path " + d.bindFrom() + " of its removed"
                    + " file now; it cannot be bound again (move that file away for the restore)");
        }
        made.add(d.bindFrom());
        FileTime dirTime;
        try {
            dirTime = Files.getLastModifiedTime(p.getParent());
        } catch (IOException e) {
            throw new RestoreException(what + ": cannot reach " + p.getParent() + " to make its removed file again: " + e);
        }
        MountImage.Entry e0 = d.contents().get(0);
        Runnable make = () -> {
            try {
                MountRestore.TmpfsWriter.make(p.getParent(), p, e0, what);
                if (e0.type() == 'd') { // a tmpfs's directories get their owner, mode and time after their files
                    dev.cryo.kernel.Sys.lchown(p.toString(), e0.uid(), e0.gid());
                    dev.cryo.kernel.Sys.chmod(p.toString(), e0.mode());
                    dev.cryo.kernel.Sys.setMtime(p.toString(), e0.mtimeNanos());
                }
            } catch (IOException e) {
                throw new RestoreException(what + ": cannot make its removed file " + d.bindFrom() + " again: " + e);
            }
        };
        var user = t.namespaces().userNamespaceOf(t.pid().value()); // a tmpfs mounted in there takes owners it maps only
        if (user.isPresent()) {
            UserNamespaceRestore.writingAs(user.get(), make);
        } else {
            make.run();
        }
        return () -> { // its directory keeps the time it was given
            try {
                Files.delete(p);
                Files.setLastModifiedTime(p.getParent(), dirTime);
            } catch (IOException e) {
                throw new RestoreException(what + ": cannot remove the file made for its bind mounts: " + e);
            }
        };
    }
}
