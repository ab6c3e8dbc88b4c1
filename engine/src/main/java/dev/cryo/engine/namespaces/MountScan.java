package dev.cryo.engine.namespaces;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MountInfo;
import dev.cryo.kernel.proc.MountInfo.Mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Reads the mount table of a mount namespace a task of the tree made (unshare -m, a container's
 * or a sandbox's), against cryo's own, which a restore's new namespace starts as a copy of. A
 * mount cryo's table has too (same point, file system, source and root) is a copy the restore
 * finds again; one made inside is carried when the restore can make it again: a fresh proc,
 * sysfs or mqueue, a tmpfs (its files read now, through /proc/PID/root), or a bind mount of a
 * path the namespace reaches (a host directory, a directory of another of its mounts). A namespace
 * whose root is not the host's (a container's after pivot_root) has no copies: each of its mounts
 * is made again, a bind of a host path it no longer reaches (its rootfs, a cgroup hierarchy, the
 * /dev/null over a masked /proc file) named by that path as cryo sees it. An overlay is mounted
 * again on its layers ({@link OverlayMount}). Anything else — a new mount of a block device, a bind
 * whose source is gone — is refused, naming the pid, the mount and the reason, before the tree is
 * touched.
 */
public final class MountScan {
    private MountScan() {}

    /**
     * File systems a restore mounts fresh, from inside the namespace (they take its pid, net, ipc
     * namespaces; a devpts is a new instance; an overlay finds its files in its layers again).
     */
    static final Set<String> FRESH = Set.of("proc", "sysfs", "mqueue", "tmpfs", "devpts", "overlay");

    /**
     * A proc shows the pid namespace of the task that mounted it, and the restore mounts it again
     * from the namespace's maker: one a task of another pid namespace mounted there (the init
     * forked by {@code unshare --pid --fork --mount-proc} run inside the tree) would come back
     * showing the maker's. Its pid namespace is that of the task it shows as 1.
     */
    private static void checkProcOfOwnPidNamespace(Pid p, Mount m, String what) {
        String own = dev.cryo.kernel.Namespaces.link(p.toString(), "pid");
        String shown;
        try {
            shown = Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + m.point() + "/1/ns/pid")).toString();
        } catch (IOException e) {
            shown = "one whose init has exited";
        }
        if (!shown.equals(own)) {
            throw new DumpException(what + " shows pid namespace " + shown + ", not the one of the namespace's maker"
                    + " (" + own + "), which mounts it again at a restore (mounted by a task of another pid namespace,"
                    + " as unshare --pid --fork --mount-proc does inside a tree); not supported yet");
        }
    }

    /** The tree's mount table (in mount order) and cryo's, as of one moment. */
    private record Tables(List<Mount> mine, List<Mount> host) {
        /**
         * A mount the host makes or removes (a container runtime's `ip netns add/delete`) propagates
         * to the tree's copy too; read between the two tables it would look made inside the tree, or
         * a slave of a group that is gone (5 dumps in 8 refused so under such churn). The frozen
         * tree's table changes only so: the same one before and after the host's is one moment.
         */
        static Tables read(Pid p) {
            for (int tries = 1; ; tries++) {
                List<Mount> before = MountScan.read(dev.cryo.kernel.ExitedLeaders.proc(p) + "/mountinfo");
                List<Mount> host = MountScan.read("/proc/self/mountinfo");
                List<Mount> after = MountScan.read(dev.cryo.kernel.ExitedLeaders.proc(p) + "/mountinfo");
                if (ids(before).equals(ids(after)) || tries == 10) {
                    return new Tables(MountOrder.sorted(after), host);
                }
            }
        }

        private static List<Integer> ids(List<Mount> table) {
            return table.stream().map(Mount::id).toList();
        }
    }

    /**
     * A pivoted namespace is built at restore from a copy of cryo's; a task forked by a parent whose root
     * is not cryo's (inside a container) joins cryo's namespace for that ({@link PivotedRoot}), which a task
     * of another user namespace than cryo's may not do (setns: EPERM, after the killing dump), or the copy
     * of cryo's kept for its user namespace ({@code keptUsers}: made by its maker from cryo's, zdtm's uns
     * flavor). Any other is refused here.
     */
    private static void requireJoinable(Pid p, Pid parent, String what, Set<String> keptUsers) {
        String user = dev.cryo.kernel.Namespaces.link(p.toString(), "user");
        if (parent == null || user == null || user.equals(dev.cryo.kernel.Namespaces.link("self", "user"))
                || keptUsers.contains(user)) {
            return;
        }
        try {
            if (Files.isSameFile(Path.of(dev.cryo.kernel.ExitedLeaders.proc(parent) + "/root"), Path.of("/"))) {
                return;
            }
        } catch (IOException e) {
            throw new DumpException("pid " + parent + ": cannot read its root: " + e.getMessage());
        }
        throw new DumpException(what + ", made inside a container (its parent pid " + parent + " has a root of its"
                + " own) of user namespace " + user + ": a restore builds it from cryo's mount namespace, which a task"
                + " of another user namespace may not join, and that user namespace was not made with a mount"
                + " namespace from cryo's by a task of the tree; not supported yet");
    }

    /**
     * {@code tmpfsFiles}: read the files of its tmpfs mounts (else their contents are left empty).
     * {@code parent}: the task of the tree that forks {@code p} at restore (null: cryo does).
     * {@code keptUsers}: the user namespaces a restore keeps a copy of cryo's mount namespace for.
     */
    static List<MountImage> scan(Pid p, Pid parent, boolean tmpfsFiles, Set<String> keptUsers) {
        Tables tables = Tables.read(p);
        List<Mount> mine = tables.mine(), host = tables.host();
        String what = "pid " + p + ": its mount namespace";
        try {
            String root = Files.readSymbolicLink(Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root")).toString();
            if (!root.equals("/")) {
                throw new DumpException(what + ": its root is " + root + " (chroot or pivot_root inside a mount"
                        + " namespace of its own); not supported yet");
            }
        } catch (IOException e) {
            throw new DumpException("pid " + p + ": cannot read its root: " + e.getMessage());
        }
        List<Mount> hostLeft = new ArrayList<>(host);
        List<MountImage> out = new ArrayList<>();
        List<Mount> done = new ArrayList<>();
        Set<Integer> hostGroups = new java.util.HashSet<>();
        host.forEach(h -> hostGroups.add(h.sharedGroup()));
        hostGroups.remove(0);
        long[] bytes = {0};
        // pivot_root: the root is none of the host's, every mount is made again from the host's paths
        boolean pivoted = mine.stream().anyMatch(m -> m.point().equals("/") && host.stream().noneMatch(h -> sameKey(h, m)));
        if (pivoted) {
            requireJoinable(p, parent, what, keptUsers);
        }
        for (int i = 0; i < mine.size(); i++) {
            Mount m = mine.get(i);
            Mount copy = pivoted ? null : hostLeft.stream().filter(h -> sameKey(h, m)).findFirst().orElse(null);
            if (copy != null) {
                hostLeft.remove(copy);
                out.add(image(m, false, null, List.of()));
                done.add(m);
                continue;
            }
            String mount = "its mount " + m.fsType() + " " + m.source() + " on " + m.point();
            PeerGroups.check(m, mine, hostGroups, what);
            boolean covered = coveredLater(mine, i);
            Mount src = m.root().endsWith("//deleted") ? null : bindSource(m, done);
            Mount peer = src == null ? coveredPeer(m, done, out) : null;
            if (peer != null) { // bound from that peer's own mount, which the restore keeps an fd of (PeerGroups)
                out.add(image(m, true, peer.point(), List.of()));
                done.add(m);
                continue;
            }
            // binfmt_misc is mounted by type, as it was, not bound from a host mount of that instance, whose own source
            // name the bind would show (zdtm_ct's "zdtm_binfmt" for zdtm's mountpoints "none": the restore's check failed)
            boolean binfmt = m.fsType().equals("binfmt_misc") && freshByType(p, m);
            // a namespace that keeps the host's root binds host paths too where its own mounts cover them
            // since (bwrap --ro-bind / / --dev /dev: the host's /dev/null bound on its tmpfs on /dev)
            String fromHost = src == null && !binfmt && !m.root().endsWith("//deleted")
                    && (pivoted || !FRESH.contains(m.fsType())) ? hostSource(p, m, host) : null;
            if (fromHost != null) {
                checkNothingLockedBelow(p, fromHost, host, what + ": " + mount);
                out.add(image(m, true, fromHost, List.of(), true));
                done.add(m);
                continue;
            }
            if (src == null && FRESH.contains(m.fsType()) && !m.root().endsWith("//deleted")) {
                // bubblewrap's root: a directory of a tmpfs it mounted, the rest of which nothing reaches
                boolean tmpfsRoot = pivoted && m.point().equals("/") && m.fsType().equals("tmpfs");
                if (m.fsType().equals("tmpfs") && !m.root().equals("/") && !tmpfsRoot
                        && SameFileSystem.inParentsNamespace(p, parent, m)) {
                    out.add(tagged(m, List.of())); // a clone of its parent's, files and all
                    done.add(m);
                    continue;
                }
                if (!m.root().equals("/") && !tmpfsRoot) {
                    throw new DumpException(what + ": " + mount + " shows " + m.root() + " of its file system; not"
                            + " supported yet");
                }
                List<MountImage.Entry> contents = List.of();
                if (m.fsType().equals("overlay")) {
                    OverlayMount.check(p, m, pivoted ? mine : null, what + ": " + mount);
                }
                if (m.fsType().equals("proc") && !covered) {
                    checkProcOfOwnPidNamespace(p, m, what + ": " + mount);
                }
                if (m.fsType().equals("tmpfs")) {
                    Set<String> points = new java.util.HashSet<>(); // mounts on its files: they are not its
                    mine.stream().filter(x -> x != m && !x.point().equals(m.point()) && under(x.point(), m.point())
                                    && !overItself(x, m))
                            .forEach(x -> points.add(x.point()));
                    // read through a copy of the mount alone, always: through the tree's own mount each open was an
                    // event for a fanotify mark on that mount, which a tree left running (pre-dump, -R) then read
                    // (zdtm's fanotify00 --pre 2: the next pre-dump refused those 24 bytes as unread)
                    contents = !tmpfsFiles ? List.of() : tmpfsAlone(p, mine, i, bytes, points, what + ": " + mount);
                }
                out.add(m.fsType().equals("tmpfs") && m.root().equals("/") ? tagged(m, contents) : image(m, true, null, contents));
                done.add(m);
                continue;
            }
            if (m.root().endsWith("//deleted")) {
                MountImage gone = DeletedBind.scan(p, parent, m, mine, done, out);
                if (gone != null) {
                    out.add(gone);
                    done.add(m);
                    continue;
                }
                throw new DumpException(what + ": " + mount + " is a bind mount of " + m.root() + ", which is gone;"
                        + " it cannot be bound again");
            }
            if (src == null && freshByType(p, m)) {
                out.add(image(m, true, null, !m.fsType().equals("binfmt_misc") ? List.of() : BinfmtEntries.read(
                        Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + m.point()), what + ": " + mount)));
                done.add(m);
                continue;
            }
            if (src == null) {
                throw new DumpException(what + ": " + mount + " (" + m.major() + ":" + m.minor() + ") was made inside it"
                        + " and is no bind mount of a path it " + (pivoted ? "or the host reaches" : "reaches") + "; a new "
                        + m.fsType() + " mount is not supported yet (cryo makes proc, sysfs, mqueue, tmpfs, devpts,"
                        + " overlay and bind mounts again, and cgroup and binfmt_misc outside a user namespace)");
            }
            String from = join(src.point(), m.root().substring(src.root().equals("/") ? 0 : src.root().length()));
            if (!covered) {
                checkSameFile(p, m, src, from, what + ": " + mount, mine);
            }
            MountImage source = out.get(done.indexOf(src));
            if (!source.made() || source.bindFrom() != null) { // a file system mounted inside has no host mount locked below
                checkNothingLockedBelow(p, from, host, what + ": " + mount);
            }
            out.add(image(m, true, from, List.of()));
            done.add(m);
        }
        return out;
    }

    /**
     * An earlier mount of the same file system whose root holds {@code m}'s: {@code m} is a bind of a
     * path in it, a path no mount made since covers (it would reach that mount instead).
     */
    private static Mount bindSource(Mount m, List<Mount> earlier) {
        for (int i = 0; i < earlier.size(); i++) {
            Mount s = earlier.get(i);
            if (s.major() == m.major() && s.minor() == m.minor() && under(m.root(), s.root())
                    && !s.root().endsWith("//deleted")) {
                String from = join(s.point(), m.root().substring(s.root().equals("/") ? 0 : s.root().length()));
                Mount at = new Mount(-1, s.id(), s.major(), s.minor(), "/", from, "", List.of(), "", "", "");
                if (earlier.subList(i + 1, earlier.size()).stream().noneMatch(c -> MountOrder.covers(c, at, earlier))) {
                    return s;
                }
            }
        }
        return null;
    }

    /**
     * A peer (same group, same file system and root) the namespace made earlier, when no path reaches {@code m}'s
     * source any more: zdtm's mntns_remap binds a shared a on b's directory, mounts on it (which propagate to the
     * peer), and moves b over a's parent, so the first a and its mounts are hidden under b; the copies on b came
     * back refused ("shows /1/a of its file system"), or a fresh tmpfs in place of the peer's.
     */
    private static Mount coveredPeer(Mount m, List<Mount> earlier, List<MountImage> out) {
        for (int i = 0; i < earlier.size(); i++) {
            Mount s = earlier.get(i);
            if (m.sharedGroup() != 0 && s.sharedGroup() == m.sharedGroup() && s.major() == m.major()
                    && s.minor() == m.minor() && s.root().equals(m.root()) && out.get(i).made()
                    && !s.root().endsWith("//deleted")) {
                return s;
            }
        }
        return null;
    }

    /**
     * The host path (cryo's view) a mount of a namespace whose root is not the host's binds: below a
     * host mount of the same file system whose root holds the mount's, the same directory or file now.
     */
    private static String hostSource(Pid p, Mount m, List<Mount> host) {
        Path at = Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + m.point());
        for (int k = host.size() - 1; k >= 0; k--) { // the last mounted on a point is the one reached
            Mount h = host.get(k);
            if (h.major() != m.major() || h.minor() != m.minor() || !under(m.root(), h.root())
                    || h.root().endsWith("//deleted") || h.fsType().equals("nsfs")) {
                continue;
            }
            String path = join(h.point(), m.root().substring(h.root().equals("/") ? 0 : h.root().length()));
            try {
                Object[] a = key(at), b = key(Path.of(path));
                if (a[0].equals(b[0]) && a[1].equals(b[1])) {
                    return path;
                }
            } catch (IOException e) {
                // not there (covered, removed): another host mount may reach it
            }
        }
        return null;
    }

    /**
     * A cgroup hierarchy mounted whole inside the namespace and reached by no path of it or the host (a
     * named v1 hierarchy made there, {@code mount -t cgroup -o none,name=X}: systemd-nspawn's for each
     * such hierarchy of the host, zdtm's cgroup00/01/03 in a container): the restore mounts it by type
     * with its options, which finds the hierarchy, or makes it anew where it is gone. Where a user
     * namespace of the tree owns the mount namespace the kernel refuses a v1 mount: still refused.
     * Likewise binfmt_misc (zdtm's binfmt_misc, mountpoints): mounted in cryo's user namespace it is the
     * host's instance, its entries kept as the mount's contents (BinfmtEntries); a user namespace's own
     * instance dies with it (refused).
     */
    private static boolean freshByType(Pid p, Mount m) {
        if (!(m.fsType().equals("cgroup") || m.fsType().equals("cgroup2") || m.fsType().equals("binfmt_misc"))
                || !m.root().equals("/")) {
            return false;
        }
        String owner = dev.cryo.kernel.Namespaces.owner(p.toString(), "mnt");
        return owner == null || owner.equals(dev.cryo.kernel.Namespaces.link("self", "user"));
    }

    /**
     * A bind made again in a mount namespace owned by a user namespace of the tree: the restore's
     * copy of the host's mounts is locked there, and the kernel refuses to bind a path with a locked
     * mount below it (it would reveal what that mount covers), as bwrap's {@code --dev-bind /dev /dev}
     * of a user would need (its recursive bind took /dev/pts, /dev/shm... along).
     */
    private static void checkNothingLockedBelow(Pid p, String source, List<Mount> host, String what) {
        String owner = dev.cryo.kernel.Namespaces.owner(p.toString(), "mnt");
        if (owner == null || owner.equals(dev.cryo.kernel.Namespaces.link("self", "user"))) {
            return;
        }
        for (Mount h : host) {
            if (!h.point().equals(source) && under(h.point(), source)) {
                throw new DumpException(what + " binds " + source + ", below which the host has another mount ("
                        + h.fsType() + " on " + h.point() + "); in a user namespace a restore cannot bind it (the"
                        + " kernel locks the host's mounts there); not supported yet");
            }
        }
    }

    /**
     * Whether bind mount {@code m} still shows the file at {@code from}, the path in its source mount {@code src}
     * that the restore binds: both read by their paths, or, where a mount made since hides them (on a directory
     * above: zdtm's overmount_with_shared_parent, whose bind on a covers its own source a/b and a copy propagated
     * under it), through a copy of the mount alone ({@link dev.cryo.kernel.Namespaces#mountUncovered}), the source
     * as the path below its root.
     */
    private static void checkSameFile(Pid p, Mount m, Mount src, String from, String what, List<Mount> mine) {
        Path proot = Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root");
        Object[] a, b;
        try {
            a = mine.stream().anyMatch(c -> MountOrder.covers(c, m, mine)) ? alone(p, m, mine, "")
                    : key(proot.resolve(m.point().substring(1)));
        } catch (IOException e) {
            throw new DumpException(what + " cannot be seen (" + e.getMessage() + ")");
        }
        try {
            b = key(proot.resolve(from.substring(1)));
        } catch (IOException e) {
            b = null;
        }
        if (b == null || !a[0].equals(b[0]) || !a[1].equals(b[1])) {
            try { // hidden by later mounts: the file below the source mount's root, seen without them
                b = alone(p, src, mine, m.root().substring(src.root().equals("/") ? 0 : src.root().length()));
            } catch (IOException e) {
                throw new DumpException(what + " is a bind mount of " + from + ", which the namespace no longer reaches ("
                        + e.getMessage() + "); it cannot be bound again");
            }
            if (!a[0].equals(b[0]) || !a[1].equals(b[1])) {
                throw new DumpException(what + " is a bind mount of " + from + ", which the namespace no longer reaches"
                        + " (another file is there now); it cannot be bound again");
            }
        }
    }

    /** The device and inode of {@code rel} below the root of mount {@code m}, seen in a copy of it alone. */
    private static Object[] alone(Pid p, Mount m, List<Mount> mine, String rel) throws IOException {
        try (dev.cryo.kernel.Fd fd = dev.cryo.kernel.Namespaces.mountUncovered(p, m.point(), stackedAbove(mine, m), m.stDev(),
                ancestors(mine, m))) {
            // the clone itself where no path below it is asked: a bind of a file (firejail's /etc/machine-id) is no directory
            return key(Path.of("/proc/self/fd/" + fd.value() + (rel.isEmpty() || rel.equals("/") ? "" : rel)));
        } catch (dev.cryo.kernel.KernelException e) {
            throw new IOException(e.getMessage());
        }
    }

    private static Object[] key(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino");
        return new Object[] {a.get("dev"), a.get("ino")};
    }

    static boolean under(String path, String dir) {
        return dir.equals("/") || path.equals(dir) || path.startsWith(dir + "/");
    }

    static String join(String dir, String rest) {
        if (rest.isEmpty() || rest.equals("/")) {
            return dir;
        }
        return dir.equals("/") ? rest : dir + rest;
    }

    /**
     * The files of tmpfs {@code mine[i]} that mounts hide: those on its files (a directory of it under a
     * later mount: zdtm's tempfs, whose file there came back missing) and later mounts on its point (a
     * program that mounts its own /tmp over its container's): read through a copy of the tmpfs alone.
     * Where the kernel has no open_tree (before 5.2), the files under mounts on its files are left out,
     * as before, and a covered tmpfs cannot be read.
     */
    private static List<MountImage.Entry> tmpfsAlone(Pid p, List<Mount> mine, int i, long[] bytes, Set<String> points,
                                                     String what) {
        Mount m = mine.get(i);
        int above = stackedAbove(mine, m);
        String hidden = above > 0 ? " is covered by " + above + " later mounts on the same point, and" : ":";
        try {
            return readAlone(p, m, above, true, bytes, Set.of(), what + hidden, ancestors(mine, m));
        } catch (dev.cryo.kernel.SyscallException e) {
            if (e.errno() != dev.cryo.kernel.Errno.EINVAL && e.errno() != dev.cryo.kernel.Errno.ENOSYS) {
                throw new DumpException(what + hidden + " its files cannot be read apart from the mounts on them: "
                        + e.getMessage());
            }
            // mounts on its files locked to a user namespace (they cannot be taken off there: what they hide
            // stays hidden), or no open_tree (before 5.2): read with them, as before
            if (above == 0) {
                return TmpfsFiles.read(p, m, bytes, points);
            }
            if (e.errno() == dev.cryo.kernel.Errno.EINVAL) {
                return lockedCover(p, m, bytes, what + hidden, e);
            }
            return readAlone(p, m, above, false, bytes, points, what + hidden);
        }
    }

    /**
     * A covered tmpfs in a user namespace's mount namespace: cryo's copy of it locks the covering mounts
     * ({@code e}, umount2's EINVAL). Read where an ancestor's namespace shows it uncovered, else refused.
     */
    private static List<MountImage.Entry> lockedCover(Pid p, Mount m, long[] bytes, String what,
                                                      dev.cryo.kernel.SyscallException e) {
        UncoveredElsewhere.Seen other = UncoveredElsewhere.find(p, m);
        String user = dev.cryo.kernel.Namespaces.link(p.toString(), "user");
        if (other == null) {
            throw new DumpException(what + " its files cannot be read apart from the mounts that cover it: in user"
                    + " namespace " + user + " cryo's copy of the mount namespace locks them (" + e.getMessage()
                    + "), and no ancestor's mount namespace shows that file system uncovered; not supported");
        }
        String there = what + " read where pid " + other.pid() + " sees it uncovered, on " + other.mount().point() + ":";
        try {
            return readAlone(other.pid(), other.mount(), 0, true, bytes, Set.of(), there);
        } catch (dev.cryo.kernel.SyscallException again) {
            throw new DumpException(there + " its files cannot be read: " + again.getMessage());
        }
    }

    private static List<MountImage.Entry> readAlone(Pid p, Mount m, int above, boolean alone, long[] bytes,
                                                    Set<String> points, String what) {
        return readAlone(p, m, above, alone, bytes, points, what, null);
    }

    /**
     * {@code ancestors} (null: none): the mounts the path to {@code m} goes through, by point; when the
     * copy without the mounts on its point shows another file system (mounts on a directory above cover it too), the
     * copy is taken again with every cover off ({@link dev.cryo.kernel.Namespaces#mountUncovered}).
     */
    private static List<MountImage.Entry> readAlone(Pid p, Mount m, int above, boolean alone, long[] bytes,
                                                    Set<String> points, String what, Map<String, Mount> ancestors) {
        try (dev.cryo.kernel.Fd fd = dev.cryo.kernel.Namespaces.mountAlone(p, m.point(), above, alone)) {
            Path top = Path.of("/proc/self/fd/" + fd.value() + "/.");
            Object[] seen = key(top);
            if (((Number) seen[0]).longValue() != m.stDev() && ancestors != null) {
                return readUncovered(p, m, above, bytes, points, what, ancestors);
            }
            if (((Number) seen[0]).longValue() != m.stDev()) {
                throw new DumpException(what + " a copy of it shows another file system; its files cannot be read");
            }
            return TmpfsFiles.read(p, m, fd, bytes, points);
        } catch (dev.cryo.kernel.SyscallException e) {
            if (ancestors != null && (e.errno() == dev.cryo.kernel.Errno.ENOENT || e.errno() == dev.cryo.kernel.Errno.ENOTDIR)) {
                return readUncovered(p, m, above, bytes, points, what, ancestors); // its path goes through a later mount above
            }
            throw e;
        } catch (IOException e) {
            throw new DumpException(what + " its files cannot be read apart from the mounts on them: " + e.getMessage());
        } catch (dev.cryo.kernel.KernelException e) {
            throw new DumpException(what + " its files cannot be read apart from the mounts on them: " + e.getMessage());
        }
    }

    private static List<MountImage.Entry> readUncovered(Pid p, Mount m, int above, long[] bytes, Set<String> points, String what,
                                                        Map<String, Mount> ancestors) {
        try (dev.cryo.kernel.Fd fd = dev.cryo.kernel.Namespaces.mountUncovered(p, m.point(), above, m.stDev(), ancestors)) {
            Path top = Path.of("/proc/self/fd/" + fd.value() + "/.");
            if (((Number) key(top)[0]).longValue() != m.stDev()) {
                throw new DumpException(what + " a copy of it shows another file system; its files cannot be read");
            }
            return TmpfsFiles.read(p, m, fd, bytes, points);
        } catch (IOException e) {
            throw new DumpException(what + " its files cannot be read apart from the mounts on them: " + e.getMessage());
        } catch (dev.cryo.kernel.SyscallException e) {
            throw e;
        } catch (dev.cryo.kernel.KernelException e) {
            throw new DumpException(what + " its files cannot be read apart from the mounts on them: " + e.getMessage());
        }
    }

    /** How many later mounts of {@code table} are stacked on {@code m}'s point, on it and on each other. */
    private static int stackedAbove(List<Mount> table, Mount m) {
        int above = 0;
        for (int k = table.indexOf(m) + 1, top = m.id(); k > 0 && k < table.size(); k++) {
            if (table.get(k).parent() == top && table.get(k).point().equals(m.point())) {
                top = table.get(k).id();
                above++;
            }
        }
        return above;
    }

    /** The mounts of {@code m}'s ancestors in {@code table}, by point (the top one where several are on one point). */
    private static Map<String, Mount> ancestors(List<Mount> table, Mount m) {
        Map<Integer, Mount> byId = new HashMap<>();
        table.forEach(x -> byId.put(x.id(), x));
        List<Mount> chain = new ArrayList<>();
        for (Mount c = byId.get(m.parent()); c != null && !chain.contains(c); c = byId.get(c.parent())) {
            chain.add(c);
        }
        Map<String, Mount> out = new HashMap<>();
        for (int k = chain.size() - 1; k >= 0; k--) { // from the root down: the nearest one on a point wins
            out.put(chain.get(k).point(), chain.get(k));
        }
        return out;
    }

    /** A later mount of the table sits on this one's point (on it: its files are hidden). */
    static boolean coveredLater(List<Mount> mine, int i) {
        Mount m = mine.get(i);
        for (int k = i + 1; k < mine.size(); k++) {
            if (mine.get(k).parent() == m.id() && mine.get(k).point().equals(m.point())) {
                return true;
            }
        }
        return false;
    }

    static boolean sameKey(Mount a, Mount b) {
        return a.point().equals(b.point()) && a.fsType().equals(b.fsType()) && a.source().equals(b.source())
                && a.root().equals(b.root());
    }

    /** A tmpfs the namespace made, tagged with its file system: another namespace of the tree may show it too. */
    private static MountImage tagged(Mount m, List<MountImage.Entry> contents) {
        List<String> tags = new ArrayList<>(m.tags());
        tags.add(SameFileSystem.tag(m));
        return new MountImage(m.point(), m.fsType(), m.source(), m.root(), m.options(), m.superOptions(), tags,
                true, null, contents, false);
    }

    private static MountImage image(Mount m, boolean made, String bindFrom, List<MountImage.Entry> contents) {
        return image(m, made, bindFrom, contents, false);
    }

    private static MountImage image(Mount m, boolean made, String bindFrom, List<MountImage.Entry> contents,
                                    boolean hostSource) {
        return new MountImage(m.point(), m.fsType(), m.source(), m.root(), m.options(), m.superOptions(), m.tags(),
                made, bindFrom, contents, hostSource);
    }

    static List<Mount> read(String path) {
        try {
            return MountInfo.parse(path, Files.readString(Path.of(path)));
        } catch (IOException e) {
            throw new DumpException("cannot read " + path + ": " + e.getMessage());
        }
    }

    /**
     * A bind of a directory of {@code tmpfs} over that very directory (firejail makes its seccomp
     * directory read-only so): the files below it are the tmpfs's own, seen through it, not hidden.
     */
    static boolean overItself(Mount x, Mount tmpfs) {
        String rel = tmpfs.point().equals("/") ? x.point() : x.point().substring(tmpfs.point().length());
        return x.major() == tmpfs.major() && x.minor() == tmpfs.minor() && x.root().equals(rel);
    }

    /** The files of a tmpfs, read through the task's root. */
    static final class TmpfsFiles {
        private TmpfsFiles() {}

        static List<MountImage.Entry> read(Pid p, Mount m, long[] total, Set<String> points) {
            // "/.": /proc/PID/root itself is a symbolic link, which the walk would not follow
            return read(p, m, Path.of(dev.cryo.kernel.ExitedLeaders.proc(p) + "/root" + (m.point().equals("/") ? "/." : m.point())), total, points);
        }

        /** The same from {@code top}, where the tmpfs's root is reached. */
        static List<MountImage.Entry> read(Pid p, Mount m, Path top, long[] total, Set<String> points) {
            return read(p, m, top, null, total, points);
        }

        /**
         * The same from the root of {@code clone}, cryo's detached copy of the mount: its directories listed and its
         * files read with no event for the tree's inotify, fanotify or dnotify watches ({@link dev.cryo.kernel.QuietOpens}),
         * which a dump that leaves the tree running would otherwise queue (zdtm's inotify and fanotify tests, --pre).
         */
        static List<MountImage.Entry> read(Pid p, Mount m, dev.cryo.kernel.Fd clone, long[] total, Set<String> points) {
            try (dev.cryo.kernel.QuietOpens quiet = dev.cryo.kernel.QuietOpens.on(clone)) {
                return read(p, m, Path.of("/proc/self/fd/" + clone.value() + "/."), quiet, total, points);
            }
        }

        private static List<MountImage.Entry> read(Pid p, Mount m, Path top, dev.cryo.kernel.QuietOpens quiet, long[] total,
                                                   Set<String> points) {
            String what = "pid " + p + ": the tmpfs on " + m.point() + " of its mount namespace";
            try {
                return new Walk(m, top, quiet, total, points, what).all();
            } catch (IOException e) {
                throw new DumpException(what + " cannot be read: " + e.getMessage());
            }
        }

        /** One walk of a tmpfs from {@code top}, directories before what they hold, each in the order it lists. */
        private static final class Walk {
            private final List<MountImage.Entry> out = new ArrayList<>();
            private final Map<Object, String> links = new HashMap<>();
            private final Mount m;
            private final Path top;
            private final dev.cryo.kernel.QuietOpens quiet;
            private final long[] total;
            private final Set<String> points;
            private final String what;
            private Object dev;
            private int uid, gid;

            Walk(Mount m, Path top, dev.cryo.kernel.QuietOpens quiet, long[] total, Set<String> points, String what) {
                this.m = m;
                this.top = top;
                this.quiet = quiet;
                this.total = total;
                this.points = points;
                this.what = what;
            }

            List<MountImage.Entry> all() throws IOException {
                dev = Files.getAttribute(top, "unix:dev", LinkOption.NOFOLLOW_LINKS);
                // a mount point's own directory is hidden: it gets the tmpfs's owner, one its namespace maps
                uid = (Integer) Files.getAttribute(top, "unix:uid");
                gid = (Integer) Files.getAttribute(top, "unix:gid");
                directory(top);
                return out;
            }

            /** Another file system's, or a mount point of the namespace's: not this tmpfs's own. */
            private boolean underAnotherMount(Map<String, Object> a, String rel) {
                return !a.get("dev").equals(dev) || points.contains(join(m.point(), "/" + rel));
            }

            private void directory(Path dir) throws IOException {
                Map<String, Object> a = Files.readAttributes(dir, "unix:*", LinkOption.NOFOLLOW_LINKS);
                String rel = top.relativize(dir).toString();
                if (underAnotherMount(a, rel)) {
                    // another mount's point: the directory below it is hidden
                    out.add(new MountImage.Entry(rel, 'd', 0755, uid, gid, 0, 0, new byte[0]));
                    return;
                }
                out.add(entry(dir, rel, 'd', a, new byte[0]));
                for (String name : names(dir, rel)) {
                    Path f = dir.resolve(name);
                    BasicFileAttributes attrs = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    if (attrs.isDirectory()) {
                        directory(f);
                    } else {
                        file(f, attrs);
                    }
                }
            }

            private List<String> names(Path dir, String rel) throws IOException {
                if (quiet != null) {
                    return quiet.names(rel);
                }
                List<String> names = new ArrayList<>();
                try (java.nio.file.DirectoryStream<Path> d = Files.newDirectoryStream(dir)) {
                    d.forEach(f -> names.add(f.getFileName().toString()));
                }
                return names;
            }

            private void file(Path file, BasicFileAttributes attrs) throws IOException {
                Map<String, Object> a = Files.readAttributes(file, "unix:*", LinkOption.NOFOLLOW_LINKS);
                String rel = top.relativize(file).toString();
                if (underAnotherMount(a, rel)) {
                    // a file bind-mounted over one of this tmpfs's
                    out.add(new MountImage.Entry(rel, 'f', 0644, uid, gid, 0, 0, new byte[0]));
                    return;
                }
                if (attrs.isSymbolicLink()) {
                    out.add(entry(file, rel, 'l', a, Files.readSymbolicLink(file).toString()
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                } else if (attrs.isRegularFile()) {
                    String first = (Integer) a.get("nlink") > 1 ? links.putIfAbsent(a.get("ino"), rel) : null;
                    if (first != null) {
                        out.add(entry(null, rel, 'h', a, first.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                    } else {
                        total[0] += attrs.size();
                        if (total[0] > MountImage.MAX_CONTENT_BYTES) {
                            throw new DumpException(what + " holds more than "
                                    + (MountImage.MAX_CONTENT_BYTES >> 20) + " MiB of files; not supported yet");
                        }
                        // an empty file is not opened: no open and close events for a watch on it
                        out.add(entry(file, rel, 'f', a, attrs.size() == 0 ? new byte[0]
                                : quiet != null ? quiet.read(rel, attrs.size()) : Files.readAllBytes(file)));
                    }
                } else {
                    int mode = (Integer) a.get("mode");
                    char node = node(mode);
                    if (node == 0) {
                        throw new DumpException(what + " holds a file of mode 0" + Integer.toOctalString(mode)
                                + " (" + rel + "); only directories, regular files, symbolic links, FIFOs,"
                                + " socket files and device nodes of a tmpfs are carried");
                    }
                    String first = (Integer) a.get("nlink") > 1 ? links.putIfAbsent(a.get("ino"), rel) : null;
                    out.add(first != null ? entry(null, rel, 'h', a, first.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                            : entry(file, rel, node, a, java.nio.ByteBuffer.allocate(8)
                            .putLong(((Number) a.get("rdev")).longValue()).array()));
                }
            }
        }

        /** The entry type of a file that is no directory, link or regular file; 0 for none a tmpfs carries. */
        static char node(int mode) {
            return switch (mode & 0170000) { // a container's /dev on a tmpfs, a FIFO of its own
                case 0010000 -> 'p';
                case 0020000 -> 'c';
                case 0060000 -> 'b';
                // a listener of the tree's bound there is bound again over it (UnixSocketHandler)
                case 0140000 -> 's';
                default -> 0;
            };
        }

        /** {@code file}: where its extended attributes are read (null: a hard link, whose first name carries them). */
        static MountImage.Entry entry(Path file, String rel, char type, Map<String, Object> a, byte[] data) {
            long mtime = ((java.nio.file.attribute.FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS);
            return new MountImage.Entry(rel, type, (Integer) a.get("mode") & 07777, (Integer) a.get("uid"),
                    (Integer) a.get("gid"), mtime, ((Number) a.get("ino")).longValue(), data,
                    file == null ? Map.of() : dev.cryo.kernel.Sys.xattrs(file.toString()));
        }
    }
}
