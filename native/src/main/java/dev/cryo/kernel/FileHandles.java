package dev.cryo.kernel;

import com.sun.jna.Memory;

import static dev.cryo.kernel.Fcntl.O_PATH;

/**
 * name_to_handle_at(2) and open_by_handle_at(2): the kernel's handle of a file, and the file a
 * handle names (inotify and fanotify fdinfo give one per watched inode). Opening needs
 * CAP_DAC_READ_SEARCH.
 */
public final class FileHandles {
    private FileHandles() {}

    /** MAX_HANDLE_SZ of the kernel's fcntl.h. */
    public static final int MAX_HANDLE_BYTES = 128;

    /** A file handle, and the id of the mount the file was reached through (mountinfo's first field). */
    public record Handle(int type, byte[] bytes, int mountId) {}

    /** The handle of the file at {@code path}, a final symbolic link followed (a /proc/PID/fd link too). */
    public static Handle of(String path) {
        Memory h = new Memory(8L + MAX_HANDLE_BYTES);
        h.setInt(0, MAX_HANDLE_BYTES);
        Memory mountId = new Memory(4);
        Memory name = new Memory(path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1L);
        name.setString(0, path, "UTF-8");
        Sys.call(() -> "name_to_handle_at(" + path + ")", SyscallNr.NAME_TO_HANDLE_AT, Fcntl.AT_FDCWD,
                Sys.address(name), Sys.address(h), Sys.address(mountId), Fcntl.AT_SYMLINK_FOLLOW, 0);
        return new Handle(h.getInt(4), h.getByteArray(8, h.getInt(0)), mountId.getInt(0));
    }

    /** The handle of the file {@code fd} holds (an O_PATH fd too): no path, which another root would read otherwise. */
    public static Handle of(Fd fd) {
        Memory h = new Memory(8L + MAX_HANDLE_BYTES);
        h.setInt(0, MAX_HANDLE_BYTES);
        Memory mountId = new Memory(4);
        Memory empty = new Memory(1);
        empty.setByte(0, (byte) 0);
        Sys.call(() -> "name_to_handle_at(" + fd + ", AT_EMPTY_PATH)", SyscallNr.NAME_TO_HANDLE_AT, fd.value(),
                Sys.address(empty), Sys.address(h), Sys.address(mountId), Fcntl.AT_EMPTY_PATH, 0);
        return new Handle(h.getInt(4), h.getByteArray(8, h.getInt(0)), mountId.getInt(0));
    }

    /**
     * Opens the handle {@code bytes} of {@code type} through the mount of {@code mountFd}, with
     * O_PATH|O_CLOEXEC: an fd that only names the inode.
     */
    public static Fd open(Fd mountFd, int type, byte[] bytes) {
        // struct file_handle { unsigned int handle_bytes; int handle_type; unsigned char f_handle[]; }
        Memory h = new Memory(8L + Math.max(bytes.length, 1));
        h.setInt(0, bytes.length);
        h.setInt(4, type);
        h.write(8, bytes, 0, bytes.length);
        return new Fd((int) Sys.call(() -> "open_by_handle_at(" + mountFd + ", handle type " + type + ", "
                        + bytes.length + " bytes)", SyscallNr.OPEN_BY_HANDLE_AT, mountFd.value(), Sys.address(h),
                O_PATH | Fcntl.O_CLOEXEC, 0));
    }
}
