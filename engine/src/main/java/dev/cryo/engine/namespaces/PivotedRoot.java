package dev.cryo.engine.namespaces;

import static dev.cryo.kernel.MountApi.*;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.SyscallNr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * A mount namespace whose root is not the host's (a container's, after its runtime's pivot_root).
 * The task is forked into a copy of cryo's namespace, so its root is built the way the runtime
 * built it: every mount made again below a directory of the host's (its rootfs and other host paths
 * bound from where cryo sees them), then pivot_root into it and the copy's mounts detached.
 */
final class PivotedRoot {
    private PivotedRoot() {}

    static void make(TaskContext t, List<MountImage> dumped, PeerGroups groups) {
        groups.cloneShared(dumped); // while the task is in its copy of its parent's namespace
        fromCryosNamespace(t);
        // nothing made below reaches the host's mounts; as a slave the copy still sees what the host mounts
        t.call("mount(/, MS_REC|MS_SLAVE)", SyscallNr.MOUNT, 0, MountRestore.path(t, 4096, "/"), 0, MS_REC | MS_SLAVE, 0);
        Path yard;
        try {
            yard = Files.createTempDirectory(Path.of("/tmp"), "cryo-root-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            Files.createDirectory(Path.of(aside(yard.toString()))); // a root that is a directory of a tmpfs: below
        } catch (IOException e) {
            throw new RestoreException("pid " + t.pid() + ": cannot make a directory to build its root in: " + e);
        }
        try {
            MountRestore.makeAll(t, dumped, yard.toString(), groups);
            t.call("chdir(" + yard + ")", SyscallNr.CHDIR, MountRestore.path(t, 0, yard.toString()));
            long dot = MountRestore.path(t, 0, ".");
            t.call("pivot_root(., .)", SyscallNr.PIVOT_ROOT, dot, dot);
            t.call("umount2(., MNT_DETACH)", SyscallNr.UMOUNT2, dot, MNT_DETACH); // the copy, stacked on it
            t.call("chdir(/)", SyscallNr.CHDIR, MountRestore.path(t, 0, "/"));
            groups.apply(); // pivot_root takes no shared mount
        } finally {
            try { // the copy's mounts on them are gone with the pivot (or with the task, on a failure)
                Files.deleteIfExists(Path.of(aside(yard.toString())));
                Files.deleteIfExists(yard);
            } catch (IOException e) {
                // still a mount point in a namespace being torn down: an empty directory left in /tmp
            }
        }
    }

    /**
     * A task forked by one of a pivoted namespace got a copy of that namespace, where the host paths its
     * root is built from are not: it enters cryo's and takes a copy of it instead (a namespace made inside a
     * container, zdtm's mntns_root_bind, mntns_ghost, mnt_ext_collision... in their ns flavor). A task of a
     * user namespace of the tree may not enter cryo's: it enters the copy of cryo's kept for its user
     * namespace ({@link MountRestore}), the same mounts (the uns flavor).
     */
    private static void fromCryosNamespace(TaskContext t) {
        try {
            if (Files.isSameFile(Path.of("/proc/" + t.pid() + "/root"), Path.of("/"))) {
                return;
            }
        } catch (IOException e) {
            throw new RestoreException("pid " + t.pid() + ": cannot read its root: " + e);
        }
        var kept = t.namespaces().keptMountNamespaceOf(t.pid().value());
        if (kept.isPresent()) {
            enter(t, kept.get().value(), "the copy of cryo's mount namespace kept for its user namespace");
        } else {
            try (dev.cryo.kernel.Fd mine = dev.cryo.kernel.Sys.open("/proc/self/ns/mnt",
                    dev.cryo.kernel.Fcntl.O_RDONLY | dev.cryo.kernel.Fcntl.O_CLOEXEC)) {
                enter(t, mine.value(), "cryo's mount namespace");
            }
        }
        t.call("unshare(CLONE_NEWNS)", SyscallNr.UNSHARE, dev.cryo.kernel.Clone.NEWNS);
    }

    /** setns into the mount namespace of cryo's fd {@code ns}. */
    private static void enter(TaskContext t, int ns, String what) {
        long fd = dev.cryo.engine.restore.stage.FileRestore.take(t, (int) ProcessHandle.current().pid(), ns);
        t.call("setns(" + what + ")", SyscallNr.SETNS, fd, dev.cryo.kernel.Clone.NEWNS);
        t.call("close", SyscallNr.CLOSE, fd);
    }

    /** Where a root's own tmpfs is mounted when the root shows only a directory of it: beside the yard. */
    static String aside(String yard) {
        if (yard.isEmpty()) { // MountScan allows such a root only in a namespace that pivoted
            throw new RestoreException("a mount showing a directory of its file system outside a pivoted root");
        }
        return yard + ".fs";
    }

    /** Makes {@code d}'s directory in the tmpfs mounted {@code at} and binds it on {@code d}'s point. */
    static void bindDirectory(TaskContext t, String at, MountImage d) {
        String dir = MountScan.join(at, d.root());
        Runnable make = () -> {
            try {
                Files.createDirectories(Path.of("/proc/" + t.pid() + "/root" + dir));
            } catch (IOException e) {
                throw new RestoreException("pid " + t.pid() + ": cannot make " + d.root() + " in its new root's tmpfs: " + e);
            }
        };
        var user = t.namespaces().userNamespaceOf(t.pid().value()); // a tmpfs mounted in there takes owners it maps only
        if (user.isPresent()) {
            UserNamespaceRestore.writingAs(user.get(), make);
        } else {
            make.run();
        }
        t.call("mount(" + dir + ", " + d.point() + ", MS_BIND)", SyscallNr.MOUNT, MountRestore.path(t, 0, dir),
                MountRestore.path(t, 4096, d.point()), 0, MS_BIND, 0);
    }
}
