package dev.cryo.kernel;

import com.sun.jna.Memory;

/**
 * A read-only mount made writable for an instant: mount_setattr clears MOUNT_ATTR_RDONLY on that mount alone and
 * sets it again on close, as CRIU makes a mount read-only only once its files are in. For a file a restore must
 * make on a mount of the tree's own namespace before the tree runs (a deleted file on a bind remounted read-only,
 * zdtm's ghost_on_rofs); a writable mount, or one read-only by its file system, is left alone.
 */
public final class ReadOnlyMount implements AutoCloseable {
    private static final long ST_RDONLY = 1;

    private final Fd mount;
    private final String dir;

    private ReadOnlyMount(Fd mount, String dir) {
        this.mount = mount;
        this.dir = dir;
    }

    /** The mount {@code dir} is on, made writable until close when it is read-only (the caller in its namespace). */
    public static ReadOnlyMount writable(String dir) {
        if ((Sys.statfsFlags(dir) & ST_RDONLY) == 0) {
            return new ReadOnlyMount(null, dir);
        }
        Fd fd = Sys.open(dir, Fcntl.O_PATH | Fcntl.O_DIRECTORY | Fcntl.O_CLOEXEC);
        try {
            attr(fd, dir, 0, MountApi.MOUNT_ATTR_RDONLY);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        return new ReadOnlyMount(fd, dir);
    }

    private static void attr(Fd fd, String dir, long set, long clear) {
        Memory attr = new Memory(MountApi.MOUNT_ATTR_SIZE_VER0);
        attr.clear();
        attr.setLong(0, set);
        attr.setLong(8, clear);
        Memory empty = new Memory(1);
        empty.setByte(0, (byte) 0);
        Sys.call(() -> "mount_setattr(" + dir + ", " + (set != 0 ? "set" : "clear") + " MOUNT_ATTR_RDONLY)",
                SyscallNr.MOUNT_SETATTR, fd.value(), Sys.address(empty), Fcntl.AT_EMPTY_PATH, Sys.address(attr),
                MountApi.MOUNT_ATTR_SIZE_VER0, 0);
    }

    @Override
    public void close() {
        if (mount != null) {
            try {
                attr(mount, dir, MountApi.MOUNT_ATTR_RDONLY, 0);
            } finally {
                mount.close();
            }
        }
    }
}
