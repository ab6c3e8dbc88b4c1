package dev.cryo.kernel;

/** Flags of the new mount API (linux/mount.h, fcntl.h), in one place. */
public final class MountApi {
    private MountApi() {}

    /** move_mount(2): both mounts named by their fds; SET_GROUP puts the target in the source's peer group and master. */
    public static final int MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40, MOVE_MOUNT_SET_GROUP = 0x100;
    /** mount_setattr(2): the mount the fd names; struct mount_attr's first version (attr_set, attr_clr, propagation, userns_fd). */
    public static final int AT_EMPTY_PATH = 0x1000, MOUNT_ATTR_SIZE_VER0 = 32;
    /** Propagation types as mount(2) and struct mount_attr's propagation take them. */
    public static final long MS_UNBINDABLE = 1 << 17, MS_PRIVATE = 1 << 18, MS_SLAVE = 1 << 19, MS_SHARED = 1 << 20;
}
