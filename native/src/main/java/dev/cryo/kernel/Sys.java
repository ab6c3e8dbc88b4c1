package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.util.function.Supplier;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_RDONLY;

/**
 * Local syscalls with errno turned into {@link SyscallException}. The description is built only on
 * failure, so hot paths (page copies, ptrace steps) pay nothing for good messages.
 */
public final class Sys {
    private Sys() {}

    public static long call(Supplier<String> what, long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        long r = LibC.syscall(nr, a1, a2, a3, a4, a5, a6);
        if (r == -1) {
            throw new SyscallException(what.get(), Native.getLastError());
        }
        return r;
    }

    public static long call(Supplier<String> what, long nr, long a1, long a2, long a3, long a4) {
        return call(what, nr, a1, a2, a3, a4, 0, 0);
    }

    /** prlimit64 on cryo itself: sets resource {@code resource} (an RLIMIT_* number) to {@code soft}/{@code hard}. */
    public static void setOwnLimit(int resource, long soft, long hard) {
        Memory m = new Memory(16);
        m.setLong(0, soft);
        m.setLong(8, hard);
        call(() -> "prlimit64(self, resource " + resource + ", " + soft + "/" + hard + ")", SyscallNr.PRLIMIT64, 0, resource,
                address(m), 0);
    }

    public static final int WNOHANG = 1, WALL = 0x40000000;

    /** wait4(pid, __WALL | flags), retrying EINTR; null when WNOHANG finds nothing. */
    public static WaitStatus wait4(int pid, int flags) {
        Memory status = new Memory(4);
        while (true) {
            long r = LibC.syscall(SyscallNr.WAIT4, pid, address(status), flags | WALL, 0, 0, 0);
            if (r == -1) {
                int errno = Native.getLastError();
                if (errno == Errno.EINTR) {
                    continue;
                }
                throw new SyscallException("wait4(pid " + pid + ")", errno);
            }
            return r == 0 ? null : new WaitStatus((int) r, status.getInt(0));
        }
    }

    private static final int P_PID = 1, WEXITED = 4, WNOWAIT = 0x01000000;
    /** siginfo_t's si_code for a child that exited, was killed, or dumped core. */
    private static final int CLD_EXITED = 1, CLD_DUMPED = 3;

    /**
     * Reaps child {@code pid} if it has ended; null while it lives (running, stopped, or in a ptrace
     * stop). Unlike {@code wait4(pid, WNOHANG)} it never takes a ptrace stop: a child traced by another
     * thread of this process is a ptrace child of every thread here (the kernel's do_wait), so a
     * wait4 from one thread consumes the stops the tracing thread waits for, and that thread waits
     * for ever. It peeks first with waitid(WNOWAIT), which leaves a stop where it is.
     */
    public static WaitStatus reapIfExited(int pid) {
        Memory info = new Memory(128); // siginfo_t
        info.clear();
        while (true) {
            long r = LibC.syscall(SyscallNr.WAITID, P_PID, pid, address(info), WEXITED | WNOHANG | WNOWAIT | WALL, 0, 0);
            if (r == -1) {
                int errno = Native.getLastError();
                if (errno == Errno.EINTR) {
                    continue;
                }
                throw new SyscallException("waitid(P_PID, pid " + pid + ", WNOWAIT)", errno);
            }
            break;
        }
        int code = info.getInt(8);
        if (info.getInt(16) != pid || code < CLD_EXITED || code > CLD_DUMPED) {
            return null; // alive, or in a stop the kernel reports to every thread of a tracer's process
        }
        return wait4(pid, WNOHANG); // a zombie now: nothing else to take (null if its tracer reaped it first)
    }

    /** openat(AT_FDCWD, path, flags | O_CLOEXEC) for files Java's channels cannot hand an fd of. */
    public static Fd open(String path, int flags) {
        return open(path, flags, 0);
    }

    /** The same with the mode a file made by this open gets (O_CREAT, O_TMPFILE). */
    public static Fd open(String path, int flags, int mode) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        return new Fd((int) call(() -> "open(" + path + ")", SyscallNr.OPENAT, -100, address(p), flags | O_CLOEXEC, mode));
    }

    /**
     * renameat2(a, b, RENAME_EXCHANGE): the two names swap files atomically. Unlike a rename over
     * {@code b}, the file that had {@code b} is not unlinked: its holders read its new name in their
     * fds and maps, never "(deleted)" (a rename of it back gives them its path again).
     */
    public static void exchange(String a, String b) {
        Memory x = cString(a);
        Memory y = cString(b);
        call(() -> "renameat2(" + a + ", " + b + ", RENAME_EXCHANGE)", SyscallNr.RENAMEAT2, Fcntl.AT_FDCWD, address(x),
                Fcntl.AT_FDCWD, address(y), Fcntl.RENAME_EXCHANGE, 0);
    }

    /**
     * linkat(file, "", dir, name, AT_EMPTY_PATH): gives the file an fd holds (an O_PATH fd too) the name {@code name}
     * in directory {@code dir}; the two must be on one mount, and the file must still have a name (ENOENT).
     */
    public static void linkAt(Fd file, Fd dir, String name) {
        Memory empty = cString("");
        Memory n = cString(name);
        call(() -> "linkat(" + file + ", " + dir + ", " + name + ", AT_EMPTY_PATH)", SyscallNr.LINKAT, file.value(),
                address(empty), dir.value(), address(n), Fcntl.AT_EMPTY_PATH, 0);
    }

    /**
     * This thread's effective capabilities raised to its permitted ones (capget, capset): a setfsuid to an id other
     * than 0 drops the file system ones (CAP_DAC_OVERRIDE, CAP_FOWNER...), which a file made as that id in a
     * directory only its owner may search (mode 0600) still needs.
     */
    public static void raiseEffectiveCapabilities() {
        Memory header = new Memory(8), data = new Memory(24); // this thread; {effective, permitted, inheritable} x 2 words
        header.setInt(0, Prctl.LINUX_CAPABILITY_VERSION_3);
        header.setInt(4, 0);
        call(() -> "capget", SyscallNr.CAPGET, address(header), address(data), 0, 0, 0, 0);
        data.setInt(0, data.getInt(4)); // effective = permitted, low word
        data.setInt(12, data.getInt(16)); // and high word
        call(() -> "capset(effective = permitted)", SyscallNr.CAPSET, address(header), address(data), 0, 0, 0, 0);
    }

    /** fstat(fd)'s st_uid and st_gid: the owner of an open file, whatever mount namespace it was opened in. */
    public static int[] owner(Fd fd) {
        Memory st = fstat(fd);
        return new int[] {st.getInt(28), st.getInt(32)};
    }

    /** fstat(fd)'s st_ino: a socket's inode, the same through every fd of it. */
    public static long inode(Fd fd) {
        return fstat(fd).getLong(8);
    }

    private static Memory fstat(Fd fd) {
        Memory st = new Memory(144); // struct stat on x86_64
        call(() -> "fstat(" + fd + ")", SyscallNr.FSTAT, fd.value(), address(st), 0, 0);
        return st;
    }

    /** openat(dir, name, flags | O_CLOEXEC). */
    public static Fd openAt(Fd dir, String name, int flags) {
        Memory n = cString(name);
        return new Fd((int) call(() -> "openat(" + dir + ", " + name + ")", SyscallNr.OPENAT, dir.value(), address(n),
                flags | Fcntl.O_CLOEXEC, 0));
    }

    /** unlinkat(dir, name, 0). */
    public static void unlinkAt(Fd dir, String name) {
        Memory n = cString(name);
        call(() -> "unlinkat(" + dir + ", " + name + ")", SyscallNr.UNLINKAT, dir.value(), address(n), 0, 0);
    }

    /**
     * readlinkat(dir, name): the target of a link in a directory opened before, such as cryo's own
     * /proc/self/fd read by a thread whose root and /proc are a task's (its path as that root sees it).
     */
    public static String readlinkAt(Fd dir, String name) {
        Memory n = cString(name);
        Memory buf = new Memory(4097);
        long r = call(() -> "readlinkat(" + dir + ", " + name + ")", SyscallNr.READLINKAT, dir.value(), address(n),
                address(buf), 4096);
        return new String(buf.getByteArray(0, (int) r), java.nio.charset.StandardCharsets.UTF_8);
    }

    /** lchown(path, uid, gid) then chmod(path, mode): works on socket files, which cannot be opened. */
    public static void chownChmod(String path, int uid, int gid, int mode) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        call(() -> "lchown(" + path + ", " + uid + ", " + gid + ")", SyscallNr.LCHOWN, address(p), uid, gid, 0);
        call(() -> "chmod(" + path + ", 0" + Integer.toOctalString(mode) + ")", SyscallNr.CHMOD, address(p), mode, 0, 0);
    }

    /** lchown(path, uid, gid): the link itself, never what it points at. */
    public static void lchown(String path, int uid, int gid) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        call(() -> "lchown(" + path + ", " + uid + ", " + gid + ")", SyscallNr.LCHOWN, address(p), uid, gid, 0);
    }

    /** chmod(path, mode) with every mode bit (set-id, sticky), which java.nio cannot set. */
    public static void chmod(String path, int mode) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        call(() -> "chmod(" + path + ", 0" + Integer.toOctalString(mode) + ")", SyscallNr.CHMOD, address(p), mode, 0, 0);
    }

    /** mknodat(AT_FDCWD, path, S_IFIFO | mode): a FIFO node (the umask applies; fails when path exists). */
    public static void mkfifo(String path, int mode) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        call(() -> "mknod(" + path + ", S_IFIFO|0" + Integer.toOctalString(mode) + ")", SyscallNr.MKNODAT, -100,
                address(p), 0010000 | (mode & 07777), 0);
    }

    /**
     * mknodat(AT_FDCWD, path, mode, rdev): a FIFO, character or block device node ({@code mode} holds
     * its S_IF* type; {@code rdev} as stat gives it, which for 32-bit device numbers is the kernel's encoding).
     */
    public static void mknod(String path, int mode, long rdev) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        call(() -> "mknod(" + path + ", 0" + Integer.toOctalString(mode) + ", " + rdev + ")", SyscallNr.MKNODAT, -100,
                address(p), mode, rdev & 0xffffffffL);
    }

    /**
     * utimensat(AT_FDCWD, path, {UTIME_OMIT, mtime}, AT_SYMLINK_NOFOLLOW): the modification time
     * only, without opening the file (Java's setLastModifiedTime opens it: a FIFO would block).
     */
    public static void setMtime(String path, long nanos) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        Memory times = new Memory(32);
        times.setLong(0, 0);
        times.setLong(8, (1L << 30) - 2); // UTIME_OMIT
        times.setLong(16, Math.floorDiv(nanos, 1_000_000_000L));
        times.setLong(24, Math.floorMod(nanos, 1_000_000_000L));
        call(() -> "utimensat(" + path + ")", SyscallNr.UTIMENSAT, -100, address(p), address(times), 0x100);
    }

    /** statx's STATX_MNT_ID mask bit, and the offset of stx_mnt_id in struct statx. */
    private static final int STATX_MNT_ID = 0x1000, STX_MNT_ID_OFFSET = 144;

    /**
     * statx(path, STATX_MNT_ID).stx_mnt_id, following the path: for a /proc/PID/cwd, fd or map_files
     * link, the id of the mount the open file lives on (the id /proc/PID/mountinfo lists when that
     * mount is attached in the task's namespace).
     */
    public static long mountId(String path) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        Memory buf = new Memory(256);
        buf.clear();
        call(() -> "statx(" + path + ", STATX_MNT_ID)", SyscallNr.STATX, -100, address(p), 0, STATX_MNT_ID, address(buf), 0);
        return buf.getLong(STX_MNT_ID_OFFSET);
    }

    /** fstatfs(fd).f_type: the filesystem's magic number (e.g. 0x958458f6 for hugetlbfs). */
    public static long fsMagic(Fd fd) {
        Memory buf = new Memory(120);
        call(() -> "fstatfs(" + fd + ")", SyscallNr.FSTATFS, fd.value(), address(buf), 0, 0);
        return buf.getLong(0);
    }

    /** fstatfs(fd).f_bsize: the block size (on hugetlbfs, its huge page size). */
    public static long fsBlockSize(Fd fd) {
        Memory buf = new Memory(120);
        call(() -> "fstatfs(" + fd + ")", SyscallNr.FSTATFS, fd.value(), address(buf), 0, 0);
        return buf.getLong(8);
    }

    /** statfs(path).f_type, following the path (a /proc/PID/fd/N link: the file system of that open file). */
    public static long fsMagic(String path) {
        return statfs(path).getLong(0);
    }

    /** statfs(path): f_blocks times f_bsize, the size of the file system (a tmpfs's size= option). */
    public static long fsBytes(String path) {
        Memory buf = statfs(path);
        return buf.getLong(16) * buf.getLong(8);
    }

    /** statfs(path).f_bsize, following the path (on hugetlbfs, its huge page size). */
    public static long fsBlockSize(String path) {
        return statfs(path).getLong(8);
    }

    /** statfs(path).f_flags: ST_RDONLY (1) and the other mount flags of the mount {@code path} is on. */
    public static long statfsFlags(String path) {
        return statfs(path).getLong(80);
    }

    private static Memory statfs(String path) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        Memory buf = new Memory(120);
        call(() -> "statfs(" + path + ")", SyscallNr.STATFS, address(p), address(buf), 0, 0);
        return buf;
    }

    public static final long HUGETLBFS_MAGIC = 0x958458f6L, MQUEUE_MAGIC = 0x19800202L, TMPFS_MAGIC = 0x01021994L;
    /** memfd_secret's file system (the kernel names its files "/secretmem"). */
    public static final long SECRETMEM_MAGIC = 0x5345434dL;
    /** cgroup v1 and v2 file systems (kernfs: a cgroup made again gets files of new inode numbers). */
    public static final long CGROUP_SUPER_MAGIC = 0x27e0ebL, CGROUP2_SUPER_MAGIC = 0x63677270L;

    /**
     * The address of a buffer handed to a syscall. The buffer is kept reachable (pinned to this
     * thread) until this thread's next syscall through {@link LibC#syscall} returns, so no
     * collection frees it while the kernel uses it.
     */
    public static long address(Pointer p) {
        if (p == null) {
            return 0;
        }
        PINNED.get().add(p);
        return Pointer.nativeValue(p);
    }

    private static final ThreadLocal<java.util.ArrayList<Pointer>> PINNED =
            ThreadLocal.withInitial(java.util.ArrayList::new);

    /** Releases the buffers {@link #address} pinned: their syscall has returned. */
    static void unpinAll() {
        PINNED.get().clear();
    }

    public static void kill(Pid pid, int signal) {
        call(() -> "kill(pid " + pid + ", " + Signals.name(signal) + ")", SyscallNr.KILL, pid.value(), signal, 0, 0);
    }

    public static void tgkill(Pid tgid, Pid tid, int signal) {
        call(() -> "tgkill(pid " + tgid + ", tid " + tid + ", " + Signals.name(signal) + ")",
                SyscallNr.TGKILL, tgid.value(), tid.value(), signal, 0);
    }

    /**
     * rt_tgsigqueueinfo(2) from cryo: queues {@code siginfo} (128 bytes) as it is. The kernel lets
     * another process queue only siginfo that says it came from user space (si_code below 0 and not
     * SI_TKILL: a sigqueue value, a POSIX timer's, a message queue's), EPERM for the rest; from
     * outside the target's pid namespace the sender's pid reads 0. Returns 0 or -errno.
     */
    public static int tgsigqueueinfo(Pid tgid, Pid tid, int signal, byte[] siginfo) {
        com.sun.jna.Memory info = new com.sun.jna.Memory(siginfo.length);
        info.write(0, siginfo, 0, siginfo.length);
        long r = LibC.syscall(SyscallNr.RT_TGSIGQUEUEINFO, tgid.value(), tid.value(), signal, address(info), 0, 0);
        return r == -1 ? -Native.getLastError() : 0;
    }

    /** True when the process exists (it may be a zombie). */
    public static boolean exists(Pid pid) {
        long r = LibC.syscall(SyscallNr.KILL, pid.value(), 0, 0, 0, 0, 0);
        return r == 0 || Native.getLastError() == Errno.EPERM;
    }

    /** get_robust_list(tid): {head, length}; works from outside on any thread we may ptrace. */
    public static long[] getRobustList(int tid) {
        Memory head = new Memory(8);
        Memory len = new Memory(8);
        call(() -> "get_robust_list(tid " + tid + ")", SyscallNr.GET_ROBUST_LIST, tid, address(head), address(len), 0);
        return new long[]{head.getLong(0), len.getLong(0)};
    }

    /** getxattr(path, name) as text, or null when the file has no such attribute. */
    public static String getxattr(String path, String name) {
        Memory p = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        p.setString(0, path, "UTF-8");
        Memory n = new Memory(name.length() + 1L);
        n.setString(0, name, "UTF-8");
        Memory value = new Memory(256);
        long r = LibC.syscall(SyscallNr.GETXATTR, address(p), address(n), address(value), 255, 0, 0);
        if (r == -1) {
            int errno = Native.getLastError();
            if (errno == Errno.ENODATA || errno == Errno.EOPNOTSUPP) {
                return null;
            }
            throw new SyscallException("getxattr(" + path + ", " + name + ")", errno);
        }
        return new String(value.getByteArray(0, (int) r), java.nio.charset.StandardCharsets.UTF_8).replace("\0", "");
    }


    /**
     * Every extended attribute of {@code path} itself (llistxattr/lgetxattr: a symlink's own), by
     * name in the order the file system lists them; empty when it has none or takes none.
     */
    public static java.util.Map<String, byte[]> xattrs(String path) {
        Memory p = cString(path);
        java.util.Map<String, byte[]> out = new java.util.LinkedHashMap<>();
        Memory names = new Memory(65536);
        long n = LibC.syscall(SyscallNr.LLISTXATTR, address(p), address(names), 65536, 0, 0, 0);
        if (n == -1) {
            int errno = Native.getLastError();
            if (errno == Errno.EOPNOTSUPP) {
                return out;
            }
            throw new SyscallException("llistxattr(" + path + ")", errno);
        }
        byte[] all = names.getByteArray(0, (int) n);
        int start = 0;
        for (int i = 0; i < all.length; i++) {
            if (all[i] == 0) {
                String name = new String(all, start, i - start, java.nio.charset.StandardCharsets.UTF_8);
                start = i + 1;
                Memory nm = cString(name);
                Memory value = new Memory(65536);
                long r = LibC.syscall(SyscallNr.LGETXATTR, address(p), address(nm), address(value), 65536, 0, 0);
                if (r == -1) {
                    int errno = Native.getLastError();
                    if (errno == Errno.ENODATA) {
                        continue; // removed meanwhile
                    }
                    throw new SyscallException("lgetxattr(" + path + ", " + name + ")", errno);
                }
                out.put(name, r == 0 ? new byte[0] : value.getByteArray(0, (int) r));
            }
        }
        return out;
    }

    /** lsetxattr(path, name, value, 0): on the file itself, a symlink's own. */
    public static void setXattr(String path, String name, byte[] value) {
        Memory p = cString(path);
        Memory nm = cString(name);
        Memory v = new Memory(Math.max(1, value.length));
        v.write(0, value, 0, value.length);
        call(() -> "lsetxattr(" + path + ", " + name + ")", SyscallNr.LSETXATTR, address(p), address(nm), address(v), value.length);
    }

    /** {@code s} as a NUL-terminated UTF-8 string in native memory. */
    public static Memory cString(String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Memory m = new Memory(b.length + 1L);
        m.write(0, b, 0, b.length);
        m.setByte(b.length, (byte) 0);
        return m;
    }

    public static final int KCMP_VM = 1, KCMP_FILES = 2, KCMP_FS = 3, KCMP_SYSVSEM = 6;

    /** kcmp(type) of two processes' whole tables (KCMP_VM, KCMP_FILES, KCMP_FS): whether they share it. */
    public static boolean shareResource(Pid pid1, Pid pid2, int type) {
        return call(() -> "kcmp(pid " + pid1 + ", pid " + pid2 + ", type " + type + ")", SyscallNr.KCMP,
                ExitedLeaders.reader(pid1.value()), ExitedLeaders.reader(pid2.value()), type, 0, 0, 0) == 0;
    }

    /** kcmp(KCMP_FILE): whether fd1 of pid1 and fd2 of pid2 are the same open file. */
    public static boolean sameOpenFile(Pid pid1, int fd1, Pid pid2, int fd2) {
        return call(() -> "kcmp(pid " + pid1 + " fd " + fd1 + ", pid " + pid2 + " fd " + fd2 + ")", SyscallNr.KCMP,
                ExitedLeaders.reader(pid1.value()), ExitedLeaders.reader(pid2.value()), 0 /* KCMP_FILE */, fd1, fd2, 0) == 0;
    }

    public static final int KCMP_EPOLL_TFD = 7;

    /**
     * kcmp(KCMP_EPOLL_TFD): whether fd {@code fd} of {@code pid} is the file that epoll {@code efd} of
     * {@code epollPid} watches as its {@code toff}-th item added through fd number {@code tfd} (one
     * number may key several files). False when either is not there (EBADF, ENOENT).
     */
    public static boolean epollTargetIs(Pid pid, int fd, Pid epollPid, int efd, int tfd, int toff) {
        Memory slot = new Memory(12); // struct kcmp_epoll_slot { u32 efd, tfd, toff }
        slot.setInt(0, efd);
        slot.setInt(4, tfd);
        slot.setInt(8, toff);
        try {
            return call(() -> "kcmp(pid " + pid + " fd " + fd + ", pid " + epollPid + " epoll " + efd + " tfd " + tfd
                    + "/" + toff + ", KCMP_EPOLL_TFD)", SyscallNr.KCMP, ExitedLeaders.reader(pid.value()), ExitedLeaders.reader(epollPid.value()), KCMP_EPOLL_TFD,
                    fd, address(slot), 0) == 0;
        } catch (SyscallException e) {
            if (e.is(Errno.EBADF) || e.is(Errno.ENOENT)) {
                return false;
            }
            throw e;
        }
    }

    /** fcntl(F_GETOWN_EX): {type, pid} of the file's SIGIO/SIGURG owner. */
    public static int[] getOwnerEx(Fd fd) {
        com.sun.jna.Memory ex = new com.sun.jna.Memory(8);
        ex.clear();
        call(() -> "fcntl(F_GETOWN_EX)", SyscallNr.FCNTL, fd.value(), 16, address(ex), 0);
        return new int[] {ex.getInt(0), ex.getInt(4)};
    }

    public static Fd pidfdOpen(Pid pid) {
        return pidfdOpen(pid, 0);
    }

    /** pidfd_open's flag for a pidfd of one thread (O_EXCL, Linux 6.9+). */
    public static final int PIDFD_THREAD = 0x80;

    /** pidfd_open with {@code flags} (PIDFD_NONBLOCK, PIDFD_THREAD). */
    public static Fd pidfdOpen(Pid pid, int flags) {
        return new Fd((int) call(() -> "pidfd_open(pid " + pid + ")", SyscallNr.PIDFD_OPEN, pid.value(), flags, 0, 0));
    }

    /** ioctl PIDFD_GET_INFO with struct pidfd_info's first version (64 bytes); the mask asks for the exit status. */
    private static final long PIDFD_GET_INFO = 0xC040FF0BL;
    private static final int PIDFD_INFO_EXIT = 1 << 3, PIDFD_INFO_SIZE = 64,
            PIDFD_INFO_EXIT_CODE = 60;

    /**
     * The wait status of the task behind {@code pidfd} once it has exited (Linux 6.15+ keeps it for a
     * pidfd that existed at the exit, also after the reap), or -1 when the kernel gives none.
     */
    public static int pidfdExitStatus(Fd pidfd) {
        com.sun.jna.Memory info = new com.sun.jna.Memory(PIDFD_INFO_SIZE);
        info.clear();
        info.setLong(0, PIDFD_INFO_EXIT);
        long r = LibC.syscall(SyscallNr.IOCTL, pidfd.value(), PIDFD_GET_INFO, address(info), 0, 0, 0);
        if (r < 0 || (info.getLong(0) & PIDFD_INFO_EXIT) == 0) {
            return -1; // an older kernel (ENOTTY, EINVAL), or no status kept
        }
        return info.getInt(PIDFD_INFO_EXIT_CODE);
    }

    /** Duplicates fd {@code targetFd} of the process behind {@code pidfd} into this process. */
    public static Fd pidfdGetfd(Fd pidfd, Pid pid, int targetFd) {
        if (ExitedLeaders.exited(pid)) { // the leader has no fd table any more: a live thread's pidfd reaches it
            try (Fd thread = pidfdOpen(Pid.of(ExitedLeaders.reader(pid.value())), PIDFD_THREAD)) {
                return new Fd((int) call(() -> "pidfd_getfd(pid " + pid + ", fd " + targetFd + ")",
                        SyscallNr.PIDFD_GETFD, thread.value(), targetFd, 0, 0));
            }
        }
        return new Fd((int) call(() -> "pidfd_getfd(pid " + pid + ", fd " + targetFd + ")",
                SyscallNr.PIDFD_GETFD, pidfd.value(), targetFd, 0, 0));
    }

    /**
     * One process_vm_readv/writev call over prepared iovec arrays; returns the bytes moved, which
     * may be fewer than asked when a remote range ends in an unmapped or PROT_NONE page.
     */
    public static long processVm(boolean write, Pid pid, IoVecs local, IoVecs remote) {
        long nr = write ? SyscallNr.PROCESS_VM_WRITEV : SyscallNr.PROCESS_VM_READV;
        return call(() -> (write ? "process_vm_writev" : "process_vm_readv") + "(pid " + pid + ", "
                        + remote.count() + " ranges from 0x" + Long.toHexString(remote.base(0)) + ")",
                nr, ExitedLeaders.reader(pid.value()), address(local.memory()), local.count(), address(remote.memory()),
                remote.count(), 0);
    }

    /** Copies {@code len} bytes at {@code remoteAddr} of {@code pid} into {@code dst}; all or an exception. */
    public static void readFully(Pid pid, long remoteAddr, Pointer dst, long len) {
        copyFully(false, pid, remoteAddr, Pointer.nativeValue(dst), len);
        java.lang.ref.Reference.reachabilityFence(dst); // the kernel's target until here
    }

    public static void writeFully(Pid pid, long remoteAddr, Pointer src, long len) {
        copyFully(true, pid, remoteAddr, Pointer.nativeValue(src), len);
        java.lang.ref.Reference.reachabilityFence(src);
    }

    /**
     * Each thread's pair of one-range iovec arrays for {@link #copyFully}: a fresh pair per call was
     * two native allocations with a cleaner each for every run of pages moved (a GiB arriving on the
     * page channel is placed in tens of thousands of them), garbage that filled the agent's young
     * generation. The calls are never nested on one thread.
     */
    private static final ThreadLocal<IoVecs[]> ONE_RANGE =
            ThreadLocal.withInitial(() -> new IoVecs[] {new IoVecs(1), new IoVecs(1)});

    private static void copyFully(boolean write, Pid pid, long remoteAddr, long local, long len) {
        IoVecs[] pair = ONE_RANGE.get();
        IoVecs l = pair[0];
        IoVecs r = pair[1];
        long done = 0;
        while (done < len) {
            l.set(0, local + done, len - done);
            r.set(0, remoteAddr + done, len - done);
            l.count(1);
            r.count(1);
            long n = processVm(write, pid, l, r);
            if (n <= 0) {
                throw new KernelException((write ? "process_vm_writev" : "process_vm_readv") + "(pid " + pid
                        + ", 0x" + Long.toHexString(remoteAddr + done) + "): short transfer, "
                        + done + " of " + len + " bytes");
            }
            done += n;
        }
    }

    /**
     * Copies {@code len} bytes at {@code remoteAddr} of {@code pid} into a direct buffer at
     * {@code offset}, without going through the Java heap. All or an exception.
     */
    public static void readInto(Pid pid, long remoteAddr, java.nio.ByteBuffer direct, int offset, int len) {
        if (!direct.isDirect() || offset < 0 || (long) offset + len > direct.capacity()) {
            throw new IllegalArgumentException("need a direct buffer with room for " + len + " bytes at " + offset);
        }
        copyFully(false, pid, remoteAddr, Pointer.nativeValue(Native.getDirectBufferPointer(direct)) + offset, len);
        java.lang.ref.Reference.reachabilityFence(direct); // its memory is the kernel's target until here
    }

    /** Copies {@code len} bytes from a direct buffer at {@code offset} to {@code remoteAddr} of {@code pid}. */
    public static void writeFrom(Pid pid, long remoteAddr, java.nio.ByteBuffer direct, int offset, int len) {
        if (!direct.isDirect() || offset < 0 || (long) offset + len > direct.capacity()) {
            throw new IllegalArgumentException("need a direct buffer holding " + len + " bytes at " + offset);
        }
        copyFully(true, pid, remoteAddr, Pointer.nativeValue(Native.getDirectBufferPointer(direct)) + offset, len);
        java.lang.ref.Reference.reachabilityFence(direct);
    }

    /** The address of byte {@code offset} of a direct buffer (kept reachable by its caller while the kernel uses it). */
    public static long address(java.nio.ByteBuffer direct, int offset) {
        if (!direct.isDirect() || offset < 0 || offset > direct.capacity()) {
            throw new IllegalArgumentException("need a direct buffer of at least " + offset + " bytes");
        }
        return Pointer.nativeValue(Native.getDirectBufferPointer(direct)) + offset;
    }

    public static byte[] read(Pid pid, long remoteAddr, int len) {
        Memory m = new Memory(Math.max(len, 1));
        readFully(pid, remoteAddr, m, len);
        return m.getByteArray(0, len);
    }

    public static void write(Pid pid, long remoteAddr, byte[] data) {
        Memory m = new Memory(Math.max(data.length, 1));
        m.write(0, data, 0, data.length);
        writeFully(pid, remoteAddr, m, data.length);
    }

    private static final int FIONREAD = 0x541B;

    /** ioctl(FIONREAD): the bytes waiting to be read (queued inotify/fanotify events, socket data). */
    public static int pendingBytes(Fd fd) {
        Memory n = new Memory(4);
        call(() -> "ioctl(" + fd + ", FIONREAD)", SyscallNr.IOCTL, fd.value(), FIONREAD, address(n), 0);
        return n.getInt(0);
    }

    /** clock_gettime(clockId) in nanoseconds: a timer armed with an absolute time counts on the clock's own reading. */
    public static long clockNanos(int clockId) {
        Memory ts = new Memory(16);
        call(() -> "clock_gettime(" + clockId + ")", SyscallNr.CLOCK_GETTIME, clockId, address(ts), 0, 0);
        return ts.getLong(0) * 1_000_000_000L + ts.getLong(8);
    }
}
