package dev.cryo.kernel;

/** The fanotify constants cryo uses (linux/fanotify.h): its handler's, the restore's emptying of queues, {@link QuietOpens}. */
public final class FanotifyAbi {
    private FanotifyAbi() {}

    /** fanotify_init flags; FAN_CLASS_BITS: the class's (FAN_CLASS_CONTENT, FAN_CLASS_PRE_CONTENT: permission events). */
    public static final int FAN_CLOEXEC = 1, FAN_NONBLOCK = 2, FAN_CLASS_CONTENT = 4, FAN_CLASS_BITS = 0x0c,
            FAN_REPORT_TID = 0x100;
    /** fanotify_mark flags. */
    public static final int FAN_MARK_ADD = 1, FAN_MARK_MOUNT = 0x10, FAN_MARK_IGNORED_MASK = 0x20,
            FAN_MARK_IGNORED_SURV_MODIFY = 0x40, FAN_MARK_FILESYSTEM = 0x100, FAN_MARK_EVICTABLE = 0x200,
            FAN_MARK_IGNORE = 0x400;
    /** Event bits. */
    public static final long FAN_OPEN_PERM = 0x10000, FAN_ONDIR = 0x40000000L;
    /** The answers to a permission event (struct fanotify_response: the event's fd, then one of these). */
    public static final int FAN_ALLOW = 1, FAN_DENY = 2;
    /** struct fanotify_event_metadata: event_len at 0, the event's fd at 16 (FAN_NOFD, -1: none), its pid (or tid) at 20. */
    public static final int EVENT_LEN = 0, EVENT_FD = 16, EVENT_PID = 20, METADATA_MIN = 24;
}
