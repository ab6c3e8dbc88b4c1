package dev.cryo.engine.model;

import dev.cryo.engine.files.FdOwner;

/**
 * One file descriptor: its number, open flags (O_CLOEXEC included), position, what it is, and
 * who gets its SIGIO/SIGURG (null when no owner or signal is set).
 */
public record FdImage(int fd, int flags, long position, FileDesc desc, FdOwner owner) {
    public FdImage(int fd, int flags, long position, FileDesc desc) {
        this(fd, flags, position, desc, null);
    }
}
