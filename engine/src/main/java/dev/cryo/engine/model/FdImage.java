package dev.cryo.engine.model;

import dev.cryo.engine.files.FdOwner;

/**
 * One file descriptor: its number, open flags (O_CLOEXEC included), position, what it is, who gets
 * its SIGIO/SIGURG (null when no owner or signal is set), and {@code dirNotify}: the DN_* mask of
 * the directory notification (fcntl F_NOTIFY) the task's fd table registered through this fd, 0 for none.
 */
public record FdImage(int fd, int flags, long position, FileDesc desc, FdOwner owner, int dirNotify) {
    public FdImage(int fd, int flags, long position, FileDesc desc, FdOwner owner) {
        this(fd, flags, position, desc, owner, 0);
    }

    public FdImage(int fd, int flags, long position, FileDesc desc) {
        this(fd, flags, position, desc, null);
    }
}
