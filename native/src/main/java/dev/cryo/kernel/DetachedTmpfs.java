package dev.cryo.kernel;

/**
 * A tmpfs made with the new mount API and attached nowhere (fsopen, fsmount): what a tmpfs unmounted
 * with {@code umount -l} while a file of it was open is to that file. Its files are reached through
 * the mount's fd ({@link #path}).
 */
public final class DetachedTmpfs implements AutoCloseable {
    private final Fd mount;

    private DetachedTmpfs(Fd mount) {
        this.mount = mount;
    }

    /** A new tmpfs of {@code bytes} (its size= option; 0: the kernel's default), mounted nowhere. */
    public static DetachedTmpfs make(long bytes) {
        try (Fd fs = new Fd((int) Sys.call(() -> "fsopen(tmpfs)", SyscallNr.FSOPEN, Sys.address(Sys.cString("tmpfs")),
                MountApi.FSOPEN_CLOEXEC, 0, 0))) {
            if (bytes > 0) {
                Sys.call(() -> "fsconfig(tmpfs, size=" + bytes + ")", SyscallNr.FSCONFIG, fs.value(),
                        MountApi.FSCONFIG_SET_STRING, Sys.address(Sys.cString("size")), Sys.address(Sys.cString(Long.toString(bytes))), 0, 0);
            }
            Sys.call(() -> "fsconfig(tmpfs, FSCONFIG_CMD_CREATE)", SyscallNr.FSCONFIG, fs.value(),
                    MountApi.FSCONFIG_CMD_CREATE, 0, 0, 0, 0);
            return new DetachedTmpfs(new Fd((int) Sys.call(() -> "fsmount(tmpfs)", SyscallNr.FSMOUNT, fs.value(),
                    MountApi.FSMOUNT_CLOEXEC, 0, 0)));
        }
    }

    /** Where {@code relative} (a path from the mount's root, "/" first or not) is reached through cryo's fd. */
    public java.nio.file.Path path(String relative) {
        return java.nio.file.Path.of("/proc/self/fd/" + mount.value(), relative.replaceFirst("^/+", ""));
    }

    /** The mount lives on while a file of it is open. */
    @Override
    public void close() {
        mount.close();
    }
}
