package dev.cryo.kernel.net;

import com.sun.jna.Memory;
import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.MountApi;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;

import java.nio.charset.StandardCharsets;

/**
 * A unix socket file under a mount made since on a directory of its relative name (zdtm's overmount_sock: bound to
 * "D/foo" in the cwd, then a tmpfs mounted on D): reached through a detached clone of the mount of the directory it
 * was bound in (open_tree's OPEN_TREE_CLONE, which leaves out the mounts on its files), made the cwd of a thread of
 * its own (CLONE_FS), where the relative name reaches the file under the mount. That thread sees the files as its
 * caller does (run it inside {@code Namespaces.seenBy} for a task's view). A socket bound there pins the clone, not
 * the covering mount, which the program can still unmount.
 */
public final class UnderMount {
    private UnderMount() {}

    private static final int AT_SYMLINK_NOFOLLOW = 0x100, STATX_BASIC_STATS = 0x7ff, STATX_SIZE = 256,
            STX_UID = 20, STX_GID = 24, STX_MODE = 28, STX_INO = 32;

    /** {uid, gid, mode} of the file {@code name} under {@code dir}'s mount alone when it is inode {@code ino}, else null. */
    public static int[] attrs(String dir, String name, long ino) {
        return inClone(dir, fd -> {
            Memory p = Sys.cString(name), st = new Memory(STATX_SIZE);
            try {
                Sys.call(() -> "statx(" + name + ")", SyscallNr.STATX, Fcntl.AT_FDCWD, Sys.address(p), AT_SYMLINK_NOFOLLOW,
                        STATX_BASIC_STATS, Sys.address(st), 0);
            } catch (SyscallException e) {
                if (e.is(Errno.ENOENT) || e.is(Errno.ENOTDIR)) {
                    return null;
                }
                throw e;
            } finally {
                java.lang.ref.Reference.reachabilityFence(p);
            }
            return st.getLong(STX_INO) != ino ? null
                    : new int[] {st.getInt(STX_UID), st.getInt(STX_GID), st.getShort(STX_MODE) & 07777};
        });
    }

    /**
     * Binds {@code s} to the relative {@code name} under {@code dir}'s mount alone (a socket file left there by the
     * dumped socket removed first), gives its file {@code uid}, {@code gid} and {@code mode}, and runs {@code whileBound}
     * (null: nothing) there: a relative name connects to {@code s} then.
     */
    public static void bind(Fd s, String dir, SockAddr name, int uid, int gid, int mode, Runnable whileBound) {
        String file = new String(name.address(), StandardCharsets.UTF_8);
        inClone(dir, fd -> {
            Memory p = Sys.cString(file), st = new Memory(STATX_SIZE);
            try {
                Sys.call(() -> "statx(" + file + ")", SyscallNr.STATX, Fcntl.AT_FDCWD, Sys.address(p), AT_SYMLINK_NOFOLLOW,
                        STATX_BASIC_STATS, Sys.address(st), 0);
                if ((st.getShort(STX_MODE) & 0170000) != 0140000) {
                    throw new KernelException(dir + "/" + file + " under the mount on its path exists and is no socket file");
                }
                Sys.call(() -> "unlink(" + file + ")", SyscallNr.UNLINK, Sys.address(p), 0, 0, 0);
            } catch (SyscallException e) {
                if (!e.is(Errno.ENOENT)) {
                    throw e;
                }
            } finally {
                java.lang.ref.Reference.reachabilityFence(p);
            }
            Sockets.bind(s, name);
            Sys.chownChmod(file, uid, gid, mode);
            if (whileBound != null) {
                whileBound.run();
            }
            return null;
        });
    }

    private interface InClone<T> {
        T run(Fd clone) throws Exception;
    }

    private static <T> T inClone(String dir, InClone<T> work) {
        return Namespaces.onThread("cryo-under-mount", "working under the mounts of " + dir, () -> {
            Sys.call(() -> "unshare(CLONE_FS)", SyscallNr.UNSHARE, Clone.FS, 0, 0, 0);
            Memory d = Sys.cString(dir);
            try (Fd clone = new Fd((int) Sys.call(() -> "open_tree(" + dir + ", OPEN_TREE_CLONE)", SyscallNr.OPEN_TREE,
                    Fcntl.AT_FDCWD, Sys.address(d), MountApi.OPEN_TREE_CLONE | Fcntl.O_CLOEXEC, 0))) {
                java.lang.ref.Reference.reachabilityFence(d);
                Sys.call(() -> "fchdir(clone of " + dir + ")", SyscallNr.FCHDIR, clone.value(), 0, 0, 0);
                return work.run(clone);
            }
        });
    }
}
