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

    /** argv/envp are {@link com.sun.jna.StringArray}s. */
    /** glibc's variadic syscall(2); every argument is 64-bit as the ABI needs. */
    public static native long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    public static native Pointer strerror(int errnum);

    public static native int posix_spawn(int[] pid, String path, Pointer fileActions, Pointer attr,
                                         Pointer argv, Pointer envp);

    public static native int posix_spawn_file_actions_init(Pointer actions);

    public static native int posix_spawn_file_actions_destroy(Pointer actions);

    public static native int posix_spawn_file_actions_addopen(Pointer actions, int fd, String path, int oflag, int mode);

    public static native int posix_spawn_file_actions_addclosefrom_np(Pointer actions, int from);

    public static native int posix_spawnattr_init(Pointer attr);

    public static native int posix_spawnattr_destroy(Pointer attr);

    public static native int posix_spawnattr_setflags(Pointer attr, short flags);
}
