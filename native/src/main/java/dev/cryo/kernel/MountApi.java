package dev.cryo.kernel;

/** Flags of mount(2), umount2(2) and the new mount API (sys/mount.h, linux/mount.h, fcntl.h), in one place. */
public final class MountApi {
    private MountApi() {}

    /** move_mount(2): both mounts named by their fds; SET_GROUP puts the target in the source's peer group and master. */
    public static final int MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40, MOVE_MOUNT_SET_GROUP = 0x100;
    /** open_tree(2): a detached copy of the mount alone (with AT_RECURSIVE, of the mounts below it too). */
    public static final int OPEN_TREE_CLONE = 1, AT_RECURSIVE = 0x8000;
    /** mount_setattr(2): the size of struct mount_attr's first version (attr_set, attr_clr, propagation, userns_fd). */
    public static final int MOUNT_ATTR_SIZE_VER0 = 32;
    /** struct mount_attr's attr_set/attr_clr bit for a read-only mount. */
    public static final long MOUNT_ATTR_RDONLY = 0x1;
    /** mount(2) flags; the propagation types also as struct mount_attr's propagation takes them. */
    public static final long MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32,
            MS_NOSYMFOLLOW = 256, MS_NOATIME = 1024, MS_NODIRATIME = 2048, MS_BIND = 4096, MS_REC = 16384,
            MS_UNBINDABLE = 1 << 17, MS_PRIVATE = 1 << 18, MS_SLAVE = 1 << 19, MS_SHARED = 1 << 20,
            MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24;
    /** fsopen(2), fsconfig(2), fsmount(2): a file system made and mounted nowhere (a detached mount). */
    public static final int FSOPEN_CLOEXEC = 1, FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6, FSMOUNT_CLOEXEC = 1;
    /** umount2(2): detach now, free once no longer busy. */
    public static final int MNT_DETACH = 2;
}
