package dev.cryo.kernel;

/** x86_64 open(2) flags and fcntl(2) commands (fcntl.h), in one place. */
public final class Fcntl {
    private Fcntl() {}

    /** open(2) flags (octal, as the kernel's headers and fdinfo's flags line write them). */
    public static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_ACCMODE = 3, O_CREAT = 0100, O_EXCL = 0200,
            O_NOCTTY = 0400, O_TRUNC = 01000, O_APPEND = 02000, O_NONBLOCK = 04000, O_ASYNC = 020000, O_DIRECT = 040000,
            O_LARGEFILE = 0100000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_CLOEXEC = 02000000, O_PATH = 010000000;
    /** The *at(2) calls' directory fd meaning the caller's current directory, and their flags. */
    public static final int AT_FDCWD = -100, AT_SYMLINK_FOLLOW = 0x400, AT_EMPTY_PATH = 0x1000;
    /** renameat2(2)'s flag that swaps two names: neither file is unlinked, each dentry moves. */
    public static final int RENAME_EXCHANGE = 2;
    /** O_TMPFILE is this bit with O_DIRECTORY; an fd made with it keeps both in its flags. */
    public static final int O_TMPFILE_BIT = 020000000, O_TMPFILE = O_TMPFILE_BIT | O_DIRECTORY;

    /** fcntl(2) commands. */
    public static final int F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_SETLK = 6, F_SETOWN_EX = 15, F_SETSIG = 10,
            F_GETSIG = 11, F_DUPFD_CLOEXEC = 1030, F_SETLEASE = 1024, F_NOTIFY = 1026,
            F_OFD_SETLK = 37, F_SETPIPE_SZ = 1031, F_GETPIPE_SZ = 1032, F_ADD_SEALS = 1033, F_GET_SEALS = 1034;

    /** F_SETFD's flag; F_SETLK's lock types; F_SETOWN_EX's owner kinds; seals. */
    public static final int FD_CLOEXEC = 1, F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2, F_OWNER_TID = 0, F_OWNER_PID = 1,
            F_OWNER_PGRP = 2, F_SEAL_SEAL = 1, F_SEAL_WRITE = 8, F_SEAL_FUTURE_WRITE = 0x10,
            F_SEAL_EXEC = 0x20;

    /** The seals against writing: a memfd's shared areas made after either have no VM_MAYWRITE. */
    public static final int F_SEALS_AGAINST_WRITING = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
}
