package dev.cryo.engine.namespaces;

import static dev.cryo.kernel.MountApi.*;

import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MountInfo;
import dev.cryo.kernel.proc.MountInfo.Mount;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Makes a task's mount namespace what it was, once the task is forked into a new one (a copy of
 * cryo's) and adopted, before its children are forked and any file is opened: the copies of
 * host mounts get their dumped propagation first (so nothing done below reaches the host through
 * a shared mount), mounts the namespace did not have are unmounted, those it made are made again
 * in their order (a tmpfs gets its files back, written by cryo through /proc/PID/root), mount
 * options are set, and the resulting table is compared with the dumped one. Every mount call
 * is made by the task itself (injected), so paths resolve in its namespace and a proc mount
 * belongs to its pid namespace.
 */
public final class MountRestore {
    private MountRestore() {}

    public static void apply(TaskContext t, List<MountImage> dumped) {
        String pid = t.pid().toString();
        String own = dev.cryo.kernel.Namespaces.link(pid, "mnt");
        if (own == null || own.equals(dev.cryo.kernel.Namespaces.link("self", "mnt"))) { // never touch cryo's mounts
            throw new RestoreException("pid " + pid + " was not forked into a mount namespace of its own (" + own + ")");
        }
        keepFirstCopy(t);
        PeerGroups groups = new PeerGroups(t, dumped);
        SameFileSystem.cloneFromParent(t, dumped, groups); // while the task is in its copy of its parent's namespace
        if (dumped.stream().anyMatch(d -> d.point().equals("/") && d.made())) {
            PivotedRoot.make(t, dumped, groups);
            check(pid, dumped);
            return;
        }
        wholeCopyPropagation(t, dumped);
        List<Mount> now = table(pid);
        List<Mount> left = new ArrayList<>(now);
        List<Mount> copies = new ArrayList<>();
        for (MountImage d : dumped) {
            if (d.made()) {
                continue;
            }
            Mount m = left.stream().filter(x -> sameKey(x, d)).findFirst().orElse(null);
            if (m == null && !hostNetns(d.fsType())) {
                throw new RestoreException("pid " + pid + ": " + d.describe() + " of its mount namespace is a mount of the"
                        + " host's namespace that is not there any more");
            }
            left.remove(m);
            copies.add(m); // null: a host's `ip netns` mount deleted since, gone from the copy too
        }
        // 1. propagation of the copies, so that nothing below reaches the host's mounts
        List<Runnable> unbindable = new ArrayList<>();
        int c = 0;
        for (MountImage d : dumped) {
            if (!d.made()) {
                Mount m = copies.get(c++);
                if (m != null && topAt(now, m)) {
                    try {
                        propagation(t, d, m.tags(), unbindable);
                    } catch (dev.cryo.kernel.SyscallException e) {
                        if (!hostNetns(d.fsType()) || !goneMeanwhile(pid, m, e)) {
                            throw e;
                        }
                        continue; // a host's `ip netns` mount deleted right now: gone from the copy too
                    }
                    groups.copy(d, d.point());
                }
            }
        }
        // 2. mounts it had not: unmounted (a subtree goes with its top)
        List<Mount> gone = new ArrayList<>();
        for (int i = now.size() - 1; i >= 0; i--) {
            Mount m = now.get(i);
            if (left.contains(m) && !hasAncestorIn(now, m, left)) {
                gone.add(m);
            }
        }
        List<Mount> after = table(pid);
        for (Mount m : gone) {
            Mount parent = after.stream().filter(x -> x.id() == m.parent()).findFirst().orElse(null);
            if (parent != null && parent.sharedGroup() != 0) {
                throw new RestoreException("pid " + pid + ": " + m.fsType() + " on " + m.point() + " is not in its mount"
                        + " namespace, but unmounting it would reach the host's through the shared mount on "
                        + parent.point());
            }
            if (!topAt(now, m)) {
                throw new RestoreException("pid " + pid + ": " + m.fsType() + " on " + m.point() + " is not in its mount"
                        + " namespace but is covered by another mount: it cannot be unmounted");
            }
            try {
                t.call("umount2(" + m.point() + ")", SyscallNr.UMOUNT2, path(t, 0, m.point()), MNT_DETACH);
            } catch (dev.cryo.kernel.SyscallException e) {
                if (goneMeanwhile(pid, m, e)) {
                    continue; // the host unmounted it meanwhile (a slave copy follows): gone is what was wanted
                }
                if (e.errno() != dev.cryo.kernel.Errno.EINVAL) {
                    throw e;
                }
                if (!hostNetns(m.fsType())) { // EINVAL on a mount that is there: locked
                    throw new RestoreException("pid " + pid + ": " + m.fsType() + " on " + m.point() + " was mounted on the"
                            + " host after the dump, and its user namespace's copy of the host's mounts holds it locked:"
                            + " it cannot be taken out (unmount it on the host for the restore)");
                } // a host's `ip netns` mount made since, locked in the same way: the host's business
            }
        }
        // 3. options of the copies
        c = 0;
        for (MountImage d : dumped) {
            if (!d.made()) {
                Mount m = copies.get(c++);
                if (m != null && !m.options().equals(d.options()) && topAt(now, m)) {
                    remount(t, d);
                }
            }
        }
        // 4. the mounts it made, in order
        makeAll(t, dumped, "", groups);
        unbindable.forEach(Runnable::run);
        groups.apply();
        check(pid, dumped);
    }

    /**
     * The mounts the namespace made, in their order, each at {@code below} + its point (the
     * directory a new root is built in before pivot_root; "" for the task's root). A bind of a path
     * in the namespace is found there too; one of a host path is the host's.
     */
    static void makeAll(TaskContext t, List<MountImage> dumped, String below, PeerGroups groups) {
        List<Runnable> removals = new ArrayList<>(), unbindable = new ArrayList<>();
        try {
            makeAll(t, dumped, below, groups, removals, unbindable);
        } catch (RuntimeException e) { // a removed file made again on the host's file system goes with the failure
            for (Runnable r : removals) {
                try {
                    r.run();
                } catch (RuntimeException again) {
                    e.addSuppressed(again);
                }
            }
            throw e;
        }
        removals.forEach(Runnable::run);
    }

    /**
     * Binds {@code d}'s host path. A task of a user namespace of the tree may not pass a directory on the way that
     * only root of cryo's may search (zdtm's uns flavor makes the container root's parent 0700, as runc's /run/runc
     * is): EACCES, after the killing dump. It then binds an O_PATH fd of that path cryo opened through the task's
     * root (the same mount of its namespace), which takes no search of those directories.
     */
    private static void bindHostPath(TaskContext t, MountImage d, boolean inUserNamespace, dev.cryo.kernel.Fd early) {
        if (early != null) {
            bindByFd(t, d, early);
            return;
        }
        try {
            t.call("mount(" + d.bindFrom() + ", " + d.point() + ", MS_BIND)", SyscallNr.MOUNT,
                    path(t, 0, d.bindFrom()), path(t, 4096, d.point()), 0, MS_BIND, 0);
        } catch (dev.cryo.kernel.SyscallException e) {
            if (!inUserNamespace || !e.is(dev.cryo.kernel.Errno.EACCES)) {
                throw e;
            }
            try (dev.cryo.kernel.Fd src = openSource(t, d)) {
                bindByFd(t, d, src);
            }
        }
    }

    /** An O_PATH fd of {@code d}'s host path as the task's namespace reaches it now. */
    private static dev.cryo.kernel.Fd openSource(TaskContext t, MountImage d) {
        return Sys.open("/proc/" + t.pid() + "/root" + d.bindFrom(), dev.cryo.kernel.Fcntl.O_PATH | dev.cryo.kernel.Fcntl.O_CLOEXEC);
    }

    private static void bindByFd(TaskContext t, MountImage d, dev.cryo.kernel.Fd src) {
        long fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), src.value());
        bindTaskFd(t, d, fd, d.bindFrom());
        t.call("close", SyscallNr.CLOSE, fd);
    }

    /** Binds on {@code d}'s point the mount and directory fd {@code fd} of the task holds. */
    private static void bindTaskFd(TaskContext t, MountImage d, long fd, String what) {
        t.call("mount(" + what + " by its fd, " + d.point() + ", MS_BIND)", SyscallNr.MOUNT,
                path(t, 0, "/proc/self/fd/" + fd), path(t, 4096, d.point()), 0, MS_BIND, 0);
    }

    /**
     * The host paths a namespace that keeps the host's root binds, each opened before any mount is made: a mount
     * made ahead of its bind may cover it (bwrap --ro-bind / / --dev /dev: its tmpfs on /dev, then the host's
     * /dev/null bound on it). A namespace built below a new root reaches the host's paths throughout.
     */
    private static java.util.Map<MountImage, dev.cryo.kernel.Fd> openEarly(TaskContext t, List<MountImage> dumped, String below) {
        java.util.Map<MountImage, dev.cryo.kernel.Fd> early = new java.util.IdentityHashMap<>();
        if (below.isEmpty()) {
            dumped.stream().filter(d -> d.made() && d.hostSource() && Files.exists(Path.of(d.bindFrom())))
                    .forEach(d -> early.put(d, openSource(t, d)));
        }
        return early;
    }

    private static void makeAll(TaskContext t, List<MountImage> dumped, String below, PeerGroups groups,
                                List<Runnable> removals, List<Runnable> unbindable) {
        java.util.Map<MountImage, dev.cryo.kernel.Fd> early = openEarly(t, dumped, below);
        try {
            makeEach(t, dumped, below, groups, removals, unbindable, early);
        } finally {
            early.values().forEach(dev.cryo.kernel.Fd::close);
        }
        unbindable.forEach(Runnable::run);
    }

    private static void makeEach(TaskContext t, List<MountImage> dumped, String below, PeerGroups groups,
                                 List<Runnable> removals, List<Runnable> unbindable,
                                 java.util.Map<MountImage, dev.cryo.kernel.Fd> early) {
        String pid = t.pid().toString();
        var user = t.namespaces().userNamespaceOf(t.pid().value()); // a user namespace of the tree owns them
        java.util.Set<String> removedMade = new java.util.HashSet<>();
        for (MountImage made : dumped) {
            if (!made.made()) {
                continue;
            }
            if (ptyBind(made, dumped)) {
                continue; // once its pseudo-terminal is there again (bindPtys)
            }
            MountImage d = at(below, made);
            if (d.bindFrom() != null) {
                if (DeletedBind.is(made)) {
                    Runnable remove = DeletedBind.make(t, d, "pid " + pid + ": " + made.describe(), removedMade);
                    if (remove != null) {
                        removals.add(remove);
                    }
                }
                if (d.hostSource() && !Files.exists(Path.of(d.bindFrom()))) { // a runtime's own directory, gone with it
                    throw new RestoreException("pid " + pid + ": " + made.describe() + " of its mount namespace binds the"
                            + " host's " + d.bindFrom() + ", which is not there any more (its container manager may have"
                            + " removed it when the container ended): make it again for the restore");
                }
                if (d.fsType().equals("cgroup") && d.root().equals("/") && user.isEmpty() && !DeletedBind.is(made)) {
                    // a v1 hierarchy the host mounts, mounted again inside (zdtm's cgroup04 in a container):
                    // mounted by type, it is the same hierarchy under its own source name, which a bind would
                    // take from the host's mount ("cgroup" for "none")
                    String data = superData(d.superOptions());
                    t.call("mount(" + d.fsType() + ", " + d.point() + ", " + data + ")", SyscallNr.MOUNT,
                            path(t, 0, d.source()), path(t, 4096, d.point()), t.put(8192, RemoteWriter.cString(d.fsType())),
                            flags(d.options()) & ~MS_RDONLY, t.put(8192 + 256, RemoteWriter.cString(data)));
                } else if (!d.hostSource() && groups.peerOf(made) != null) {
                    bindTaskFd(t, d, groups.peerOf(made), "peer " + d.bindFrom());
                } else {
                    bindHostPath(t, d, user.isPresent(), early.get(made));
                }
            } else if (groups.cloneOf(made) != null) { // the file system of another namespace's mount, its files in it
                long empty = t.put(8192, new byte[1]);
                t.call("move_mount(clone, " + d.point() + ")", SyscallNr.MOVE_MOUNT, groups.cloneOf(made), empty,
                        dev.cryo.kernel.Fcntl.AT_FDCWD, path(t, 0, d.point()), MOVE_MOUNT_F_EMPTY_PATH);
            } else {
                String data = d.fsType().equals("cgroup") ? namedHierarchyData(superData(d.superOptions()))
                        : superData(d.superOptions());
                if (user.isPresent()) { // mountinfo shows uid=/gid= as cryo's namespace names them
                    data = UserNamespaceRestore.insideOptions(user.get(), data, "pid " + pid + ": " + made.describe());
                }
                long fs = t.put(8192, RemoteWriter.cString(d.fsType()));
                long dataAt = t.put(8192 + 256, RemoteWriter.cString(data));
                // a new root showing a directory of its tmpfs (bubblewrap's): mounted aside, that directory bound
                String at = d.root().equals("/") ? d.point() : PivotedRoot.aside(below);
                if (d.fsType().equals("overlay") && !below.isEmpty()) { // its layers are paths of the root being built
                    OverlayMount.mountInRoot(t, below, made, fs, dataAt, flags(d.options()) & ~MS_RDONLY);
                } else {
                    t.call("mount(" + d.fsType() + ", " + at + ", " + data + ")", SyscallNr.MOUNT,
                            path(t, 0, d.source()), path(t, 4096, at), fs, flags(d.options()) & ~MS_RDONLY, dataAt);
                }
                if (!at.equals(d.point())) {
                    PivotedRoot.bindDirectory(t, at, d);
                }
                if (d.fsType().equals("tmpfs")) {
                    Runnable write = () -> TmpfsWriter.write(Path.of("/proc/" + pid + "/root"
                            + (d.point().equals("/") ? "" : d.point())), d.contents(), "pid " + pid + ": " + made.describe());
                    if (user.isPresent()) { // a tmpfs mounted in there takes owners it maps only
                        UserNamespaceRestore.writingAs(user.get(), write);
                    } else {
                        write.run();
                    }
                }
                if (d.fsType().equals("binfmt_misc")) {
                    BinfmtEntries.register(t, d.point(), d.contents(), "pid " + pid + ": " + made.describe());
                }
                if (hasOption(d.superOptions(), "ro")) {
                    t.call("mount(" + d.point() + ", MS_REMOUNT|MS_RDONLY)", SyscallNr.MOUNT, 0,
                            path(t, 4096, d.point()), 0, MS_REMOUNT | MS_RDONLY, dataAt);
                }
            }
            remount(t, d);
            SameFileSystem.made(t, made);
            Mount m = table(pid).stream().filter(x -> x.point().equals(d.point()))
                    .reduce((a, b) -> b).orElseThrow(() -> new RestoreException("pid " + pid + ": " + made.describe()
                            + " was made again but its namespace does not show it"));
            if (groups.handles(made)) {
                groups.made(made, d.point(), m.tags());
            } else {
                propagation(t, d, m.tags(), unbindable);
            }
        }
    }

    /**
     * Whether {@code d} binds a pseudo-terminal of a devpts instance the namespace made (a container's console:
     * {@code /dev/pts/0} on {@code /dev/console}, zdtm's pty-console): the instance is new and empty when it is
     * mounted again, its pairs are made at ADOPT once every mount is ({@link dev.cryo.engine.restore.PtyHub}), so
     * the bind waits for them ({@link #bindPtys}).
     */
    static boolean ptyBind(MountImage d, List<MountImage> dumped) {
        if (!d.made() || d.bindFrom() == null || d.hostSource() || !d.fsType().equals("devpts") || !d.root().matches("/[0-9]+")) {
            return false;
        }
        String dir = d.bindFrom().substring(0, d.bindFrom().length() - d.root().length());
        return dumped.stream().anyMatch(x -> x.made() && x.bindFrom() == null && x.fsType().equals("devpts")
                && x.point().equals(dir.isEmpty() ? "/" : dir));
    }

    /**
     * The binds of pseudo-terminals of the namespace's own devpts ({@link #ptyBind}), once the tree's pairs are open
     * again (a pair no task of the tree holds is not: refused here, by name).
     */
    public static void bindPtys(TaskContext t, List<MountImage> dumped) {
        String pid = t.pid().toString();
        for (MountImage d : dumped) {
            if (!ptyBind(d, dumped)) {
                continue;
            }
            if (!Files.exists(Path.of("/proc/" + pid + "/root" + d.bindFrom()))) {
                throw new RestoreException("pid " + pid + ": " + d.describe() + " of its mount namespace binds "
                        + d.bindFrom() + ", a pseudo-terminal of its own devpts that no task of the tree holds: it is not"
                        + " made again");
            }
            t.call("mount(" + d.bindFrom() + ", " + d.point() + ", MS_BIND)", SyscallNr.MOUNT, path(t, 0, d.bindFrom()),
                    path(t, 4096, d.point()), 0, MS_BIND, 0);
            remount(t, d);
            Mount m = table(pid).stream().filter(x -> x.point().equals(d.point())).reduce((a, b) -> b).orElseThrow(
                    () -> new RestoreException("pid " + pid + ": " + d.describe() + " was made again but its namespace"
                            + " does not show it"));
            List<Runnable> unbindable = new ArrayList<>();
            propagation(t, d, m.tags(), unbindable);
            unbindable.forEach(Runnable::run);
        }
    }

    /** The mount as made below {@code below}: its point there, and a bind source of the namespace's there too. */
    private static MountImage at(String below, MountImage d) {
        if (below.isEmpty()) {
            return d;
        }
        String from = d.bindFrom() == null || d.hostSource() ? d.bindFrom() : MountScan.join(below, d.bindFrom());
        return new MountImage(MountScan.join(below, d.point()), d.fsType(), d.source(), d.root(), d.options(),
                d.superOptions(), d.tags(), d.made(), from, d.contents(), d.hostSource());
    }

    /**
     * A namespace file bound on the host (`ip netns add` under /run/netns, a container runtime's):
     * such mounts come and go on the host between a dump and its restore, and a namespace's copy
     * follows them (one made since cannot even be unmounted from a user namespace's copy), so
     * they are neither required nor compared.
     */
    static boolean hostNetns(String fsType) {
        return fsType.equals("nsfs");
    }

    /**
     * A task that made a user namespace with its mount namespace was forked into a copy of cryo's owned by
     * that user namespace: cryo keeps that copy as it is, for the tasks of the user namespace that build a
     * namespace of their own from host paths ({@link PivotedRoot}), and the task goes on in a copy of it.
     */
    private static void keepFirstCopy(TaskContext t) {
        if (t.namespaces().userNamespaceMadeBy(t.pid().value()).isEmpty()) {
            return;
        }
        dev.cryo.kernel.Fd ns = Sys.open("/proc/" + t.pid() + "/ns/mnt", dev.cryo.kernel.Fcntl.O_RDONLY
                | dev.cryo.kernel.Fcntl.O_CLOEXEC);
        t.namespaces().keepMountNamespace(t.pid().value(), ns);
        t.call("unshare(CLONE_NEWNS)", SyscallNr.UNSHARE, dev.cryo.kernel.Clone.NEWNS);
    }

    /**
     * Whether a call on copy {@code m} failed because the host took the mount away since the table
     * was read: EINVAL (no longer a mount point) or ENOENT (its point removed too, as `ip netns
     * delete` does) and {@code m} no longer in the namespace's table. A host creating and deleting
     * network namespaces (a container runtime) does so at any moment of a restore.
     */
    private static boolean goneMeanwhile(String pid, Mount m, dev.cryo.kernel.SyscallException e) {
        return (e.errno() == dev.cryo.kernel.Errno.EINVAL || e.errno() == dev.cryo.kernel.Errno.ENOENT)
                && table(pid).stream().noneMatch(x -> x.id() == m.id());
    }

    /**
     * When no copy of a host mount was shared in the dumped namespace (unshare's default makes them
     * all private, container runtimes private or slaves), the whole copy gets that propagation at
     * once, recursively: a mount covered by another on the same point (a stack of mounts, systemd's
     * binfmt_misc over its autofs, an `ip netns` nsfs under the bind of /run/netns) has no path of
     * its own to set, and stayed a peer of the host's group, which the final check called missing.
     * Each top copy is then set as dumped, as before.
     */
    private static void wholeCopyPropagation(TaskContext t, List<MountImage> dumped) {
        List<MountImage> copies = dumped.stream().filter(d -> !d.made()).toList();
        if (copies.stream().anyMatch(d -> d.tags().stream().anyMatch(x -> x.startsWith("shared:")))) {
            return; // peer groups inside: set copy by copy
        }
        boolean slaves = copies.stream().anyMatch(d -> d.tags().stream().anyMatch(x -> x.startsWith("master:")));
        set(t, "/", MS_REC | (slaves ? MS_SLAVE : MS_PRIVATE), slaves ? "MS_REC|MS_SLAVE" : "MS_REC|MS_PRIVATE");
    }

    /**
     * Propagation as dumped: private, a slave of the peer group it was a slave of, shared; unbindable is added
     * to {@code unbindable}, run once every mount is made: a later mount may be a bind from this one, made
     * before it became unbindable (zdtm's unbindable: the bind failed EINVAL after the killing dump).
     */
    private static void propagation(TaskContext t, MountImage d, List<String> now, List<Runnable> unbindable) {
        boolean shared = d.tags().stream().anyMatch(x -> x.startsWith("shared:"));
        boolean slave = d.tags().stream().anyMatch(x -> x.startsWith("master:"));
        boolean isShared = now.stream().anyMatch(x -> x.startsWith("shared:"));
        boolean isSlave = now.stream().anyMatch(x -> x.startsWith("master:"));
        if (slave && !isSlave) {
            set(t, d, MS_SLAVE, "MS_SLAVE");
            isShared = false;
        } else if (!slave && !shared && (isShared || isSlave)) {
            set(t, d, MS_PRIVATE, "MS_PRIVATE");
            isShared = false;
        }
        if (shared && !isShared) {
            set(t, d, MS_SHARED, "MS_SHARED");
        }
        if (d.tags().contains("unbindable") && !now.contains("unbindable")) {
            unbindable.add(() -> set(t, d, MS_UNBINDABLE, "MS_UNBINDABLE"));
        }
    }

    private static void set(TaskContext t, MountImage d, long flag, String name) {
        set(t, d.point(), flag, name);
    }

    static void set(TaskContext t, String point, long flag, String name) {
        t.call("mount(" + point + ", " + name + ")", SyscallNr.MOUNT, 0, path(t, 4096, point), 0, flag, 0);
    }

    /** The mount's own options (ro, nosuid, noatime...) as dumped. */
    private static void remount(TaskContext t, MountImage d) {
        t.call("mount(" + d.point() + ", MS_REMOUNT|MS_BIND, " + d.options() + ")", SyscallNr.MOUNT, 0,
                path(t, 4096, d.point()), 0, MS_REMOUNT | MS_BIND | flags(d.options()), 0);
    }

    static long flags(String options) {
        long f = 0;
        for (String o : options.split(",")) {
            f |= switch (o) {
                case "ro" -> MS_RDONLY;
                case "nosuid" -> MS_NOSUID;
                case "nodev" -> MS_NODEV;
                case "noexec" -> MS_NOEXEC;
                case "noatime" -> MS_NOATIME;
                case "nodiratime" -> MS_NODIRATIME;
                case "relatime" -> MS_RELATIME;
                case "nosymfollow" -> MS_NOSYMFOLLOW;
                default -> 0;
            };
        }
        if ((f & (MS_NOATIME | MS_RELATIME)) == 0) {
            f |= MS_STRICTATIME;
        }
        return f;
    }

    private static boolean hasOption(String options, String o) {
        return List.of(options.split(",")).contains(o);
    }

    /** A file system's options as mount(2) takes them: without rw/ro, which are flags. */
    /**
     * A v1 cgroup mount's options: a named hierarchy without controllers takes "none" as well, which
     * mountinfo does not show, or the kernel refuses to make it anew (EINVAL) where it is gone.
     */
    static String namedHierarchyData(String data) {
        List<String> options = List.of(data.split(","));
        if (options.stream().noneMatch(o -> o.startsWith("name=")) || options.contains("none")) {
            return data;
        }
        java.util.Set<String> controllers = new java.util.HashSet<>();
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cgroups"))) {
                if (!l.startsWith("#") && !l.isBlank()) {
                    controllers.add(l.split("\\s+")[0]);
                }
            }
        } catch (java.io.IOException e) {
            throw new RestoreException("cannot read /proc/cgroups: " + e.getMessage());
        }
        return options.stream().anyMatch(controllers::contains) ? data : "none," + data;
    }

    static String superData(String superOptions) {
        List<String> keep = new ArrayList<>();
        for (String o : superOptions.split(",")) {
            if (!o.isEmpty() && !o.equals("rw") && !o.equals("ro")) {
                keep.add(o);
            }
        }
        return String.join(",", keep);
    }

    /**
     * The table as it must be: the same mounts (point, file system, source, root, options) and the
     * same propagation (peer groups and masters, named by their members: the kernel numbers them anew).
     */
    private static void check(String pid, List<MountImage> dumped) {
        List<String[]> was = new ArrayList<>(), is = new ArrayList<>();
        // a pseudo-terminal's bind is made later (bindPtys)
        dumped.stream().filter(d -> !hostNetns(d.fsType()) && !ptyBind(d, dumped)).forEach(d -> was.add(new String[] {d.point(), d.root(),
                String.join(" ", SameFileSystem.shown(d.tags())), d.fsType(), d.source(), d.options()}));
        table(pid).stream().filter(m -> !hostNetns(m.fsType())).forEach(m -> is.add(new String[] {m.point(), m.root(),
                String.join(" ", m.tags()), m.fsType(), m.source(), m.options()}));
        List<String> want = lines(was), got = lines(is);
        List<String> missing = new ArrayList<>(want);
        got.forEach(missing::remove);
        List<String> extra = new ArrayList<>(got);
        want.forEach(extra::remove);
        if (!missing.isEmpty() || !extra.isEmpty()) {
            throw new RestoreException("pid " + pid + ": its mount namespace did not come back as it was: missing "
                    + missing + ", not dumped " + extra);
        }
    }

    private static List<String> lines(List<String[]> table) {
        List<String> kinds = PeerGroups.relations(table), out = new ArrayList<>();
        for (int i = 0; i < table.size(); i++) {
            String[] m = table.get(i);
            out.add(m[0] + " " + m[3] + " " + m[4] + " " + m[1] + " " + m[5] + " " + kinds.get(i));
        }
        return out;
    }

    private static boolean sameKey(Mount m, MountImage d) {
        return m.point().equals(d.point()) && m.fsType().equals(d.fsType()) && m.source().equals(d.source())
                && m.root().equals(d.root());
    }

    /** No later mount sits on this one's point (its path reaches it). */
    private static boolean topAt(List<Mount> table, Mount m) {
        return table.stream().noneMatch(x -> x.parent() == m.id() && x.point().equals(m.point()));
    }

    private static boolean hasAncestorIn(List<Mount> table, Mount m, List<Mount> set) {
        Mount cur = m;
        for (int guard = 0; guard < table.size(); guard++) {
            Mount c0 = cur;
            Mount parent = table.stream().filter(x -> x.id() == c0.parent()).findFirst().orElse(null);
            if (parent == null || parent == cur) {
                return false;
            }
            if (set.contains(parent)) {
                return true;
            }
            cur = parent;
        }
        return false;
    }

    private static List<Mount> table(String pid) {
        String path = "/proc/" + pid + "/mountinfo";
        try {
            return MountInfo.parse(path, Files.readString(Path.of(path)));
        } catch (IOException e) {
            throw new RestoreException("cannot read " + path + ": " + e.getMessage());
        }
    }

    static long path(TaskContext t, long offset, String p) {
        byte[] b = RemoteWriter.cString(p);
        if (b.length > 4096) {
            throw new RestoreException("mount path too long: " + p);
        }
        return t.put(offset, b);
    }

    /**
     * Writes a tmpfs's files back, from cryo, through the restored task's root, in the order of
     * their inode numbers (a tmpfs numbers inodes as they are made; numbers a removed file had are
     * used up by a file made and removed again), so the files get the numbers they had. A file
     * whose directory gets a higher number is made in the root under a temporary name and moved
     * into place at the end (a move keeps the inode).
     */
    static final class TmpfsWriter {
        private TmpfsWriter() {}

        static void write(Path top, List<MountImage.Entry> entries, String what) {
            try {
                List<MountImage.Entry> order = new ArrayList<>(entries.stream()
                        .filter(e -> !e.path().isEmpty() && e.type() != 'h' && e.ino() != 0).toList());
                order.sort(java.util.Comparator.comparingLong(MountImage.Entry::ino));
                long next = ino(top) + 1;
                java.util.Set<String> made = new java.util.HashSet<>();
                made.add("");
                List<Path> fillers = new ArrayList<>();
                List<String[]> moves = new ArrayList<>(); // temporary name, final path
                int n = 0;
                for (MountImage.Entry e : order) {
                    while (next < e.ino() && fillers.size() < 1_000_000) { // numbers of removed files
                        Path f = top.resolve(".cryo-fill-" + fillers.size());
                        Files.createFile(f);
                        fillers.add(f);
                        next = ino(f) + 1;
                    }
                    String parent = e.path().contains("/") ? e.path().substring(0, e.path().lastIndexOf('/')) : "";
                    Path p;
                    if (made.contains(parent)) {
                        p = top.resolve(e.path());
                        made.add(e.path()); // at its place: its files can be made in it
                    } else {
                        p = top.resolve(".cryo-move-" + n++);
                        moves.add(new String[] {p.getFileName().toString(), e.path()});
                    }
                    make(top, p, e, what);
                    next = Math.max(next, ino(p) + 1);
                }
                moves.sort(java.util.Comparator.comparingInt(m -> m[1].split("/").length));
                for (String[] m : moves) {
                    Files.move(top.resolve(m[0]), top.resolve(m[1]));
                }
                List<MountImage.Entry> rest = new ArrayList<>(entries.stream() // covered points, then hard links
                        .filter(e -> !e.path().isEmpty() && (e.type() == 'h' || e.ino() == 0)).toList());
                rest.sort(java.util.Comparator.comparingInt(e -> (e.type() == 'h' ? 10_000 : 0) + e.path().split("/").length));
                for (MountImage.Entry e : rest) {
                    make(top, top.resolve(e.path()), e, what);
                }
                for (Path f : fillers) {
                    Files.delete(f);
                }
                List<MountImage.Entry> dirs = new ArrayList<>(entries.stream().filter(e -> e.type() == 'd').toList());
                dirs.sort(java.util.Comparator.comparingInt(e -> -e.path().split("/").length));
                for (MountImage.Entry e : dirs) { // deepest first, after their files: their times stay
                    Path p = e.path().isEmpty() ? top : top.resolve(e.path());
                    if (e.path().isEmpty()) {
                        xattrs(p, e); // the others got theirs when they were made
                    }
                    Sys.chownChmod(p.toString(), e.uid(), e.gid(), e.mode());
                    if (e.mtimeNanos() != 0) {
                        Files.setLastModifiedTime(p, FileTime.from(e.mtimeNanos(), TimeUnit.NANOSECONDS));
                    }
                }
            } catch (IOException e) {
                throw new RestoreException(what + ": cannot write its files back: " + e);
            }
        }

        static void make(Path top, Path p, MountImage.Entry e, String what) throws IOException {
            switch (e.type()) {
                case 'd' -> Files.createDirectory(p);
                case 'f' -> Files.write(p, e.data());
                case 'l' -> Files.createSymbolicLink(p, Path.of(new String(e.data(), StandardCharsets.UTF_8)));
                case 'h' -> Files.createLink(p, top.resolve(new String(e.data(), StandardCharsets.UTF_8)));
                // a socket file with no socket behind (a listener of the tree's is bound again over it)
                case 's' -> Sys.mknod(p.toString(), 0140000 | e.mode(), 0);
                case 'p', 'c', 'b' -> Sys.mknod(p.toString(), (e.type() == 'p' ? 0010000 : e.type() == 'c' ? 0020000 : 0060000)
                        | e.mode(), e.type() == 'p' ? 0 : java.nio.ByteBuffer.wrap(e.data()).getLong());
                default -> throw new RestoreException(what + ": unknown entry type " + e.type());
            }
            if ("flpcbs".indexOf(e.type()) >= 0) {
                Sys.lchown(p.toString(), e.uid(), e.gid());
            }
            if ("fpcbs".indexOf(e.type()) >= 0) {
                Sys.chmod(p.toString(), e.mode());
                Sys.setMtime(p.toString(), e.mtimeNanos()); // a FIFO must not be opened
            }
            xattrs(p, e);
        }

        /** Its extended attributes, after its owner (a chown drops security.capability) and before its time. */
        private static void xattrs(Path p, MountImage.Entry e) {
            e.xattrs().forEach((name, value) -> Sys.setXattr(p.toString(), name, value));
        }

        private static long ino(Path p) throws IOException {
            return ((Number) Files.getAttribute(p, "unix:ino", java.nio.file.LinkOption.NOFOLLOW_LINKS)).longValue();
        }
    }
}
