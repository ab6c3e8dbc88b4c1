package dev.cryo.kernel;

import com.sun.jna.Memory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Looks at another task's namespaces from inside: a fresh thread of this process joins them
 * (setns is per thread for uts, ipc and net), does the work and ends, so no other thread of cryo
 * ever runs in them. Files like /proc/sysvipc/* and calls like uname answer for the caller's
 * namespace, which is how the tree's are read.
 */
public final class Namespaces {
    private Namespaces() {}

    /** The link /proc/PID/ns/KIND ("uts:[4026531838]"), or null when unreadable (a zombie, a kind the kernel lacks). */
    public static String link(String pid, String kind) {
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/" + pid + "/ns/" + kind)).toString();
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** ioctl(2) requests on a namespace file (linux/nsfs.h): the owning user namespace, the parent one. */
    static final long NS_GET_USERNS = 0xb701, NS_GET_PARENT = 0xb702, NS_GET_OWNER_UID = 0xb704;

    /** The uid (as cryo's namespace names it) of the task that made the user namespace of {@code pid}: its owner. */
    public static long ownerUid(String pid) {
        String path = "/proc/" + pid + "/ns/user";
        try (Fd ns = Sys.open(path, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            Memory uid = new Memory(4);
            Sys.call(() -> "ioctl(" + path + ", NS_GET_OWNER_UID)", SyscallNr.IOCTL, ns.value(), NS_GET_OWNER_UID,
                    Sys.address(uid), 0);
            return Integer.toUnsignedLong(uid.getInt(0));
        }
    }

    /**
     * The user namespace owning namespace {@code kind} of {@code pid} ("user:[4026531837]"); for
     * kind "user", its parent (null: the parent is outside cryo's view, cryo's own is the top).
     */
    public static String owner(String pid, String kind) {
        String path = "/proc/" + pid + "/ns/" + kind;
        try (Fd ns = Sys.open(path, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
            long req = kind.equals("user") ? NS_GET_PARENT : NS_GET_USERNS;
            long r = LibC.syscall(SyscallNr.IOCTL, ns.value(), req, 0, 0, 0, 0);
            if (r < 0) {
                int errno = com.sun.jna.Native.getLastError();
                if (kind.equals("user") && errno == Errno.EPERM) {
                    return null;
                }
                throw new SyscallException("ioctl(" + path + ", " + (kind.equals("user") ? "NS_GET_PARENT" : "NS_GET_USERNS")
                        + ")", errno);
            }
            try (Fd owner = new Fd((int) r)) {
                return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + owner.value()))
                        .toString();
            } catch (java.io.IOException e) {
                throw new KernelException("cannot read the owner of " + path + ": " + e.getMessage(), e);
            }
        }
    }

    /** Runs {@code work} on a new thread that joined namespace {@code kind} ("uts", "ipc", "net") of {@code pid}. */
    public static <T> T inside(Pid pid, String kind, Callable<T> work) {
        return onThread(pid, kind, () -> {
            try (Fd ns = Sys.open("/proc/" + pid + "/ns/" + kind, Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                Sys.call(() -> "setns(/proc/" + pid + "/ns/" + kind + ")", SyscallNr.SETNS, ns.value(),
                        Clone.namespaceFlag(kind), 0, 0);
            }
            return work.call();
        });
    }

    /** Runs {@code work} on a new thread that joined the net namespace {@code ns} (an fd of it: a socket's SIOCGSKNS). */
    public static <T> T insideNet(Fd ns, Callable<T> work) {
        return onThread("cryo-ns-net-" + ns.value(), "reading a socket's net namespace", () -> {
            Sys.call(() -> "setns(" + ns + ", CLONE_NEWNET)", SyscallNr.SETNS, ns.value(), Clone.NEWNET, 0, 0);
            return work.call();
        });
    }

    /**
     * Runs {@code work} seeing the files as {@code pid} does: a thread of its own leaves cryo's
     * shared cwd and root (CLONE_FS), joins the task's mount namespace and takes its root (a chroot
     * inside it too). Paths through /proc/PID/root would not do: an absolute symbolic link on the
     * way (/var/run) is resolved from cryo's root.
     */
    public static <T> T seenBy(Pid pid, Callable<T> work) {
        return onThread(pid, "root", () -> {
            Sys.call(() -> "unshare(CLONE_FS)", SyscallNr.UNSHARE, Clone.FS, 0, 0, 0);
            try (Fd root = Sys.open("/proc/" + pid + "/root", Fcntl.O_RDONLY | Fcntl.O_DIRECTORY | Fcntl.O_CLOEXEC);
                 Fd ns = Sys.open("/proc/" + pid + "/ns/mnt", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                Sys.call(() -> "setns(/proc/" + pid + "/ns/mnt)", SyscallNr.SETNS, ns.value(), Clone.NEWNS, 0, 0);
                Sys.call(() -> "fchdir(/proc/" + pid + "/root)", SyscallNr.FCHDIR, root.value(), 0, 0, 0);
                Sys.call(() -> "chroot(/proc/" + pid + "/root)", SyscallNr.CHROOT, Sys.address(DOT), 0, 0, 0);
            }
            return work.call();
        });
    }

    /**
     * A detached copy (open_tree's clone) of the mount on {@code point} in the mount namespace of {@code
     * pid}, alone: none of the mounts on its files, so what they hide reads as it is (a tmpfs directory
     * under a later mount: zdtm's tempfs), nor the {@code above} later mounts on that point that cover
     * it. A thread of its own joins the namespace and clones it there; with mounts covering it, it first
     * copies the namespace (unshare, every mount made private there so nothing propagates back) and
     * lazily unmounts the covering ones in its copy ({@link #privateCopy}; a mount the host gave a user namespace
     * stays locked: refused, EINVAL). The task's own
     * namespace is not touched; the fd keeps the copy readable once the thread is gone. Not {@code
     * alone}: an O_PATH fd of the mount with the mounts on its files (the kernel refuses a clone of a
     * mount whose mounts are locked to a user namespace: what they hide stays hidden there too).
     */
    public static Fd mountAlone(Pid pid, String point, int above, boolean alone) {
        boolean userNs = ownedElsewhere(pid);
        return onThread(pid, "mnt", () -> {
            Sys.call(() -> "unshare(CLONE_FS)", SyscallNr.UNSHARE, Clone.FS, 0, 0, 0);
            try (Fd ns = Sys.open("/proc/" + pid + "/ns/mnt", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                Sys.call(() -> "setns(/proc/" + pid + "/ns/mnt)", SyscallNr.SETNS, ns.value(), Clone.NEWNS, 0, 0);
            }
            Memory at = new Memory(point.getBytes(StandardCharsets.UTF_8).length + 1L);
            at.setString(0, point, "UTF-8");
            if (alone && above == 0) { // cloned where it is: a copy made by cryo, of cryo's user namespace, would
                // lock the mounts on its files when the namespace is a user namespace's, and the kernel then refuses
                return cloneOf(point, at);
            }
            privateCopy(userNs);
            for (int i = 0; i < above; i++) {
                Sys.call(() -> "umount2(" + point + ", MNT_DETACH)", SyscallNr.UMOUNT2, Sys.address(at), MountApi.MNT_DETACH, 0, 0);
            }
            return alone ? cloneOf(point, at) : Sys.open(point, Fcntl.O_PATH | Fcntl.O_DIRECTORY);
        });
    }

    /**
     * {@link #mountAlone} for a mount whose covers are not all on its own point (zdtm's tempfs_overmounted: a
     * tmpfs under another on its point, both under two tmpfs mounted later on a directory above): in a private
     * copy of {@code pid}'s mount namespace, while {@code point} reaches no file system of device {@code dev},
     * the top mount where the path stops reaching what it should (the point itself, else the nearest directory
     * above) is lazily unmounted; {@code ancestors} gives, by point, the mounts the path goes through to it
     * (of the task's table), which are never taken off. First, while a mount on a directory above hides the point itself, that mount
     * goes; then the {@code above} mounts stacked on its point, as in {@link #mountAlone} (a bind of the same file system
     * on it shows the same device). Then it is cloned alone.
     */
    public static Fd mountUncovered(Pid pid, String point, int above, long dev,
                                    java.util.Map<String, dev.cryo.kernel.proc.MountInfo.Mount> ancestors) {
        boolean userNs = ownedElsewhere(pid);
        return onThread(pid, "mnt", () -> {
            // this thread's /proc directory, opened in cryo's /proc: the namespace's own /proc may not show the thread
            try (Fd self = Sys.open("/proc/thread-self", Fcntl.O_PATH | Fcntl.O_DIRECTORY)) {
                Sys.call(() -> "unshare(CLONE_FS)", SyscallNr.UNSHARE, Clone.FS, 0, 0, 0);
                try (Fd ns = Sys.open("/proc/" + pid + "/ns/mnt", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                    Sys.call(() -> "setns(/proc/" + pid + "/ns/mnt)", SyscallNr.SETNS, ns.value(), Clone.NEWNS, 0, 0);
                }
                privateCopy(userNs);
                // a mount on a directory above may hide the point itself (firejail's read-only directory on
                // /run/firejail/mnt/dev, where it bound /dev): the path reaches it again before the mounts stacked on it go
                for (int round = 0; round < 256 && devOf(point) == null; round++) {
                    takeOffNearestCover(self, point, ancestors);
                }
                for (int i = 0; i < above; i++) {
                    umounted(point);
                }
                for (int round = 0; round < 256 && !Long.valueOf(dev).equals(devOf(point)); round++) {
                    takeOffNearestCover(self, point, ancestors);
                }
                return cloneOf(point, Sys.cString(point));
            }
        });
    }

    /**
     * Lazily unmounts the top mount where {@code point}'s path stops reaching what it should: the point itself,
     * else the nearest directory above whose top mount is not the one {@code ancestors} gives for it. A mount is
     * told by its file system and root, not its device alone: firejail's read-only directory bound over /mnt is of
     * the root's file system, as is the bind of /mnt it covers.
     */
    private static void takeOffNearestCover(Fd self, String point,
                                            java.util.Map<String, dev.cryo.kernel.proc.MountInfo.Mount> ancestors) {
        java.util.List<dev.cryo.kernel.proc.MountInfo.Mount> table = ownMounts(self);
        String q = point;
        while (true) {
            dev.cryo.kernel.proc.MountInfo.Mount top = topAt(table, q), a = ancestors.get(q);
            boolean ancestor = top != null && a != null && top.stDev() == a.stDev() && top.root().equals(a.root());
            if (top != null && !ancestor && devOf(q) != null && umounted(q)) { // a point hidden itself: one above
                return;
            }
            if (q.equals("/")) {
                throw new SyscallException("umount2(a mount covering " + point + ")", Errno.EINVAL);
            }
            int slash = q.lastIndexOf('/');
            q = slash <= 0 ? "/" : q.substring(0, slash);
        }
    }

    /**
     * Makes the calling thread, in a task's mount namespace, a private copy of it whose mounts it may take off.
     * unshare alone copies a user namespace's mount namespace into cryo's user namespace, and the kernel locks every
     * mount of such a copy (umount2 EINVAL: zdtm's tempfs_overmounted, overmount_with_shared_parent in the uns flavor).
     * There a recursive clone of the whole namespace is taken inside it first (the mounts its user namespace made stay
     * unlocked in it; those it got from the host stay locked), attached in the copy and made the thread's root; every
     * mount of it is then made private, so that nothing taken off reaches the tree's namespace through a peer group.
     * {@code userNamespaces}: that namespace is owned by another user namespace than cryo's ({@link #ownedElsewhere},
     * read before the thread leaves cryo's /proc).
     */
    private static void privateCopy(boolean userNamespaces) {
        Fd whole = null;
        Memory root = Sys.cString("/"), empty = Sys.cString(""), dot = Sys.cString(".");
        try {
            if (userNamespaces) {
                try {
                    whole = new Fd((int) Sys.call(() -> "open_tree(/, OPEN_TREE_CLONE|AT_RECURSIVE)", SyscallNr.OPEN_TREE,
                            Fcntl.AT_FDCWD, Sys.address(root), MountApi.OPEN_TREE_CLONE | MountApi.AT_RECURSIVE
                                    | Fcntl.O_CLOEXEC, 0));
                } catch (SyscallException e) { // an unbindable mount the host locked (EPERM): the locked copy, as before
                    whole = null;
                }
            }
            Sys.call(() -> "unshare(CLONE_NEWNS)", SyscallNr.UNSHARE, Clone.NEWNS, 0, 0, 0);
            Sys.call(() -> "mount(/, MS_REC|MS_PRIVATE)", SyscallNr.MOUNT, 0, Sys.address(root), 0,
                    MountApi.MS_REC | MountApi.MS_PRIVATE, 0, 0);
            if (whole != null) {
                int fd = whole.value();
                Sys.call(() -> "move_mount(clone of /, /)", SyscallNr.MOVE_MOUNT, fd, Sys.address(empty), Fcntl.AT_FDCWD,
                        Sys.address(root), MountApi.MOVE_MOUNT_F_EMPTY_PATH, 0);
                Sys.call(() -> "fchdir(clone of /)", SyscallNr.FCHDIR, fd, 0, 0, 0);
                Sys.call(() -> "chroot(clone of /)", SyscallNr.CHROOT, Sys.address(dot), 0, 0, 0);
                Sys.call(() -> "mount(clone of /, MS_REC|MS_PRIVATE)", SyscallNr.MOUNT, 0, Sys.address(root), 0,
                        MountApi.MS_REC | MountApi.MS_PRIVATE, 0, 0);
            }
        } finally {
            if (whole != null) {
                whole.close();
            }
            java.lang.ref.Reference.reachabilityFence(root);
            java.lang.ref.Reference.reachabilityFence(empty);
            java.lang.ref.Reference.reachabilityFence(dot);
        }
    }

    /** Whether the mount namespace of {@code pid} is owned by another user namespace than cryo's. */
    private static boolean ownedElsewhere(Pid pid) {
        String owner = owner(pid.toString(), "mnt");
        return owner != null && !owner.equals(link("self", "user"));
    }

    /** st_dev of {@code path} as the calling thread sees it, or null when it is not there. */
    private static Long devOf(String path) {
        try {
            return ((Number) java.nio.file.Files.getAttribute(java.nio.file.Path.of(path), "unix:dev")).longValue();
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** The calling thread's mount table, as it is now ({@code self}: the thread's /proc directory). */
    private static java.util.List<dev.cryo.kernel.proc.MountInfo.Mount> ownMounts(Fd self) {
        java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
        try (Fd f = Sys.openAt(self, "mountinfo", Fcntl.O_RDONLY)) {
            for (byte[] b = Terminals.read(f, 65536); b.length > 0; b = Terminals.read(f, 65536)) {
                text.writeBytes(b);
            }
        }
        return dev.cryo.kernel.proc.MountInfo.parse("mountinfo of thread " + self, text.toString(StandardCharsets.UTF_8));
    }

    /** The mount on top of {@code point} in {@code table} (none stacked on it), or null where none is. */
    private static dev.cryo.kernel.proc.MountInfo.Mount topAt(java.util.List<dev.cryo.kernel.proc.MountInfo.Mount> table,
                                                            String point) {
        for (dev.cryo.kernel.proc.MountInfo.Mount m : table) {
            if (m.point().equals(point) && table.stream().noneMatch(x -> x.parent() == m.id() && x.point().equals(point))) {
                return m;
            }
        }
        return null;
    }

    /** Whether a mount was on {@code path} and is unmounted (lazily) now; false when none is (EINVAL). */
    private static boolean umounted(String path) {
        Memory at = Sys.cString(path);
        try {
            Sys.call(() -> "umount2(" + path + ", MNT_DETACH)", SyscallNr.UMOUNT2, Sys.address(at), MountApi.MNT_DETACH, 0, 0);
            return true;
        } catch (SyscallException e) {
            if (e.errno() != Errno.EINVAL) {
                throw e;
            }
            return false;
        } finally {
            java.lang.ref.Reference.reachabilityFence(at);
        }
    }

    /** A detached clone of the mount at {@code point} as task {@code pid} sees it (open_tree(OPEN_TREE_CLONE)). */
    public static Fd cloneSeenBy(Pid pid, String point) {
        return seenBy(pid, () -> cloneOf(point, Sys.cString(point)));
    }

    /** A detached clone of the mount at {@code point} ({@code at}: its path as a C string), as the calling thread sees it. */
    private static Fd cloneOf(String point, Memory at) {
        return new Fd((int) Sys.call(() -> "open_tree(" + point + ", OPEN_TREE_CLONE)", SyscallNr.OPEN_TREE, Fcntl.AT_FDCWD,
                Sys.address(at), MountApi.OPEN_TREE_CLONE | Fcntl.O_CLOEXEC, 0));
    }

    private static final com.sun.jna.Memory DOT = new com.sun.jna.Memory(2);

    static {
        DOT.setString(0, ".", "US-ASCII");
    }

    /**
     * Runs {@code work} on a new thread in a new namespace of {@code kind} (unshare: net, uts, ipc...),
     * as a namespace starts out on this host; the namespace goes with the thread.
     */
    public static <T> T fresh(String kind, Callable<T> work) {
        return onThread("cryo-fresh-ns-" + kind, "working in a new " + kind + " namespace", () -> {
            Sys.call(() -> "unshare(" + kind + ")", SyscallNr.UNSHARE, Clone.namespaceFlag(kind), 0, 0, 0);
            return work.call();
        });
    }

    private static <T> T onThread(Pid pid, String kind, Callable<T> work) {
        return onThread("cryo-ns-" + kind + "-" + pid, "reading the " + kind + " namespace of pid " + pid, work);
    }

    /**
     * Runs {@code work} on a new thread named {@code name} and waits for it: what the work does to its thread (setns,
     * unshare of CLONE_FS, a chdir) goes with the thread, never onto a thread of cryo's. {@code doing} names the work in
     * errors ("reading the uts namespace of pid 5"); a RuntimeException of the work is thrown as it is.
     */
    public static <T> T onThread(String name, String doing, Callable<T> work) {
        FutureTask<T> task = new FutureTask<>(work);
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted while " + doing);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new KernelException("failed while " + doing + ": " + c, c);
        }
    }

    /** {nodename, domainname} of the calling thread's uts namespace (uname). */
    public static String[] utsNames() {
        Memory u = new Memory(6 * 65);
        u.clear();
        Sys.call(() -> "uname", 63, Sys.address(u), 0, 0, 0);
        return new String[] {cString(u, 65), cString(u, 5 * 65)};
    }

    private static String cString(Memory m, long at) {
        byte[] b = m.getByteArray(at, 65);
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /** A network namespace as a task's fresh one holds it: its devices, and its loopback's state and addresses. */
    public record Network(List<String> devices, boolean loUp, List<String> loAddresses) {}

    private static final int SIOCGIFCONF = 0x8912, SIOCGIFFLAGS = 0x8913, IFF_UP = 1, AF_INET = 2, SOCK_DGRAM = 2,
            IFREQ = 40;

    /**
     * The calling thread's network namespace (run it {@link #inside} one): device names from
     * /proc/thread-self/net/dev, lo's flags (SIOCGIFFLAGS), its IPv4 addresses (SIOCGIFCONF) and
     * IPv6 ones (/proc/thread-self/net/if_inet6), as "127.0.0.1" and "::1/128".
     */
    public static Network network() {
        List<String> devices = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        try {
            List<String> dev = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/thread-self/net/dev"));
            for (String line : dev.subList(Math.min(2, dev.size()), dev.size())) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    devices.add(line.substring(0, colon).strip());
                }
            }
            java.nio.file.Path inet6 = java.nio.file.Path.of("/proc/thread-self/net/if_inet6");
            if (java.nio.file.Files.exists(inet6)) {
                for (String line : java.nio.file.Files.readAllLines(inet6)) {
                    String[] f = line.strip().split("\\s+");
                    if (f.length == 6 && f[5].equals("lo")) {
                        addresses.add(ipv6(f[0]) + "/" + Integer.parseInt(f[2], 16));
                    }
                }
            }
        } catch (java.io.IOException e) {
            throw new KernelException("cannot read the network namespace's devices: " + e.getMessage(), e);
        }
        boolean up;
        try (Fd sock = new Fd((int) Sys.call(() -> "socket(AF_INET, SOCK_DGRAM)", SyscallNr.SOCKET, AF_INET,
                SOCK_DGRAM | Fcntl.O_CLOEXEC, 0, 0))) {
            Memory req = new Memory(IFREQ);
            req.clear();
            req.setString(0, "lo", "US-ASCII");
            Sys.call(() -> "ioctl(SIOCGIFFLAGS, lo)", SyscallNr.IOCTL, sock.value(), SIOCGIFFLAGS, Sys.address(req), 0);
            up = (req.getShort(16) & IFF_UP) != 0;
            Memory buf = new Memory(IFREQ * 64L);
            buf.clear();
            Memory conf = new Memory(16);
            conf.setInt(0, (int) buf.size());
            conf.setLong(8, Sys.address(buf));
            Sys.call(() -> "ioctl(SIOCGIFCONF)", SyscallNr.IOCTL, sock.value(), SIOCGIFCONF, Sys.address(conf), 0);
            int len = conf.getInt(0);
            for (int at = 0; at + IFREQ <= len; at += IFREQ) {
                String name = buf.getString(at, "US-ASCII");
                if (name.equals("lo") || name.startsWith("lo:")) {
                    byte[] a = buf.getByteArray(at + 16 + 4, 4);
                    addresses.add((a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + "." + (a[3] & 0xff)
                            + (name.equals("lo") ? "" : " (" + name + ")"));
                }
            }
        }
        return new Network(devices, up, addresses);
    }

    private static String ipv6(String hex) {
        try {
            byte[] b = new byte[16];
            for (int i = 0; i < 16; i++) {
                b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
            }
            return java.net.InetAddress.getByAddress(b).getHostAddress().replaceAll("^0:0:0:0:0:0:0:1$", "::1");
        } catch (java.net.UnknownHostException | RuntimeException e) {
            return hex;
        }
    }
}
