package dev.cryo.kernel;

import com.sun.jna.Memory;

import static dev.cryo.kernel.Fcntl.O_PATH;

/**
 * open_by_handle_at(2): opens the file a kernel file handle names (inotify and fanotify fdinfo
 * give one per watched inode). Needs CAP_DAC_READ_SEARCH.
 */
public final class FileHandles {
    private FileHandles() {}

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
