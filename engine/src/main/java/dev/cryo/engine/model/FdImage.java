package dev.cryo.engine.model;

/** One file descriptor: its number, open flags (O_CLOEXEC included), position, and what it is. */
public record FdImage(int fd, int flags, long position, FileDesc desc) {}
