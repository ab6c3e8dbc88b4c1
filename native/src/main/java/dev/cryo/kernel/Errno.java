package dev.cryo.kernel;

/** errno values by name, and the "NAME (text)" form every cryo error message uses. */
public final class Errno {
    private Errno() {}

    public static final int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7,
            ENOEXEC = 8, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14,
            EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22,
            ENFILE = 23, EMFILE = 24, ENOTTY = 25, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28, ESPIPE = 29,
            EROFS = 30, EPIPE = 32, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39,
            ELOOP = 40, ENODATA = 61, ETIME = 62, EOVERFLOW = 75, EBADFD = 77, ENOTSOCK = 88, EPROTONOSUPPORT = 93, EOPNOTSUPP = 95,
            EAFNOSUPPORT = 97, EADDRINUSE = 98, EADDRNOTAVAIL = 99, ECONNREFUSED = 111, ENOTCONN = 107,
            EINPROGRESS = 115, ECONNRESET = 104, ETIMEDOUT = 110, ECANCELED = 125, ENOBUFS = 105, ENONET = 64,
            EPROTO = 71, ENOPROTOOPT = 92, ENETUNREACH = 101, EHOSTDOWN = 112, EHOSTUNREACH = 113;

    /**
     * The kernel's own restart codes: what rax holds (negated) in a thread stopped inside an
     * interrupted syscall, never seen by a program; the kernel turns them into a restart or EINTR
     * on the way back to user space.
     */
    public static final int ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514,
            ERESTART_RESTARTBLOCK = 516;

    private static final String[] NAMES = new String[134];

    static {
        String all = "1 EPERM 2 ENOENT 3 ESRCH 4 EINTR 5 EIO 6 ENXIO 7 E2BIG 8 ENOEXEC 9 EBADF 10 ECHILD "
                + "11 EAGAIN 12 ENOMEM 13 EACCES 14 EFAULT 15 ENOTBLK 16 EBUSY 17 EEXIST 18 EXDEV 19 ENODEV "
                + "20 ENOTDIR 21 EISDIR 22 EINVAL 23 ENFILE 24 EMFILE 25 ENOTTY 26 ETXTBSY 27 EFBIG 28 ENOSPC "
                + "29 ESPIPE 30 EROFS 31 EMLINK 32 EPIPE 33 EDOM 34 ERANGE 35 EDEADLK 36 ENAMETOOLONG 37 ENOLCK "
                + "38 ENOSYS 39 ENOTEMPTY 40 ELOOP 42 ENOMSG 43 EIDRM 61 ENODATA 62 ETIME 64 ENONET 71 EPROTO 75 EOVERFLOW "
                + "84 EILSEQ 88 ENOTSOCK 90 EMSGSIZE 92 ENOPROTOOPT 93 EPROTONOSUPPORT 95 EOPNOTSUPP 97 EAFNOSUPPORT "
                + "98 EADDRINUSE 99 EADDRNOTAVAIL 101 ENETUNREACH 104 ECONNRESET 105 ENOBUFS 106 EISCONN 107 ENOTCONN "
                + "110 ETIMEDOUT 111 ECONNREFUSED 112 EHOSTDOWN 113 EHOSTUNREACH 114 EALREADY 115 EINPROGRESS 122 EDQUOT 125 ECANCELED "
                + "130 EOWNERDEAD";
        String[] parts = all.split(" ");
        for (int i = 0; i < parts.length; i += 2) {
            NAMES[Integer.parseInt(parts[i])] = parts[i + 1];
        }
    }

    public static String name(int errno) {
        return errno > 0 && errno < NAMES.length && NAMES[errno] != null ? NAMES[errno] : "errno " + errno;
    }

    public static String text(int errno) {
        try {
            return LibC.strerror(errno).getString(0);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return "unknown error";
        }
    }

    /** {@code ESRCH (No such process)}. */
    public static String describe(int errno) {
        return name(errno) + " (" + text(errno) + ")";
    }
}
