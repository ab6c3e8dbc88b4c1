package dev.cryo.kernel;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * Direct-mapped libc entry points. Raw: callers check the result and read errno with
 * {@link Native#getLastError()} at once (see {@link Sys}). Pointers travel as {@code long}
 * addresses so one signature serves every syscall.
 */
public final class LibC {
    static {
        Native.register(NativeLibrary.getInstance("c"));
    }

    private LibC() {}

    /**
     * glibc's variadic syscall(2); every argument is 64-bit as the ABI needs. Buffers whose
     * addresses were taken with {@link Sys#address} on this thread stay reachable until it returns:
     * a {@code long} keeps no {@code Memory} alive, and JNA frees one as soon as the collector finds
     * it unreachable -- which the JIT may decide right after its address was read, while the kernel
     * still reads or writes it.
     */
    public static long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
        OwnSyscalls.count(number);
        try {
            return Raw.syscall(number, a1, a2, a3, a4, a5, a6);
        } finally {
            Sys.unpinAll();
        }
    }

    /** The bare entry point, under its own name, behind the wrapper above. */
    private static final class Raw {
        static {
            Native.register(NativeLibrary.getInstance("c"));
        }

        static native long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
    }

    public static native Pointer strerror(int errnum);

    public static native int posix_spawn(int[] pid, String path, Pointer fileActions, Pointer attr,
                                         Pointer argv, Pointer envp);

    public static native int posix_spawn_file_actions_init(Pointer actions);

    public static native int posix_spawn_file_actions_destroy(Pointer actions);

    public static native int posix_spawn_file_actions_addopen(Pointer actions, int fd, String path, int oflag, int mode);

    public static native int posix_spawn_file_actions_addclosefrom_np(Pointer actions, int from);

    public static native int posix_spawn_file_actions_adddup2(Pointer actions, int fd, int newfd);

    public static native int posix_spawnattr_init(Pointer attr);

    public static native int posix_spawnattr_destroy(Pointer attr);

    public static native int posix_spawnattr_setflags(Pointer attr, short flags);
}
