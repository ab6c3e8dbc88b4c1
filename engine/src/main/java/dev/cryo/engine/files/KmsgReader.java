package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FdImage;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KmsgReaders;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Terminals;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A reader of /dev/kmsg (dmesg --follow, journald, rsyslog's imklog) keeps its place in the kernel's log in its open
 * file: reopened by path it read the whole log again from its first record, and dmesg -w printed every line a second
 * time. The dump records the next record's sequence number ({@link KmsgReaders}); the restore opens the device as
 * cryo, moves it there and gives the task that open file.
 */
final class KmsgReader {
    /** Not a reader of /dev/kmsg: an open for writing only (systemd's log lines) keeps no place. */
    static final long NONE = -1;

    private KmsgReader() {}

    static boolean isKmsg(long rdev) {
        return Terminals.major(rdev) == 1 && Terminals.minor(rdev) == 11;
    }

    /** The sequence number of the record reader {@code fd} reads next, or {@link #NONE}. */
    static long dump(FdProbe fd, long rdev) {
        if (!isKmsg(rdev) || fd.info() == null || (fd.info().flags() & Fcntl.O_ACCMODE) == Fcntl.O_WRONLY) {
            return NONE;
        }
        try {
            Long seq = KmsgReaders.of(ExitedLeaders.reader(fd.pid().value())).get(fd.fd());
            return seq == null ? NONE : seq;
        } catch (RuntimeException e) {
            throw new DumpException(fd.where() + ": " + fd.target() + " is open for reading, and where it reads in the"
                    + " kernel's log cannot be seen (cryo's BPF iterator: " + e.getMessage() + "); reopened, it would read"
                    + " the whole log again; not supported", e);
        }
    }

    /** Reopens the device at {@code c}'s path (/dev/kmsg where that is another file now) placed at its next record. */
    static long restore(FdImage fd, CharDeviceHandler.CharDevice c, FdHandler.RestoreContext ctx) {
        int flags = FdHandlers.openFlags(fd);
        String path = isKmsgAt(c.path()) ? c.path() : "/dev/kmsg";
        try (Fd own = Sys.open(path, flags | Fcntl.O_NONBLOCK)) { // its reads never wait
            KmsgReaders.position(own, c.kmsgSeq());
            if ((flags & Fcntl.O_NONBLOCK) == 0) {
                Sys.call(() -> "fcntl(" + path + ", F_SETFL)", SyscallNr.FCNTL, own.value(), Fcntl.F_SETFL, flags, 0);
            }
            return ctx.take((int) ProcessHandle.current().pid(), own.value());
        }
    }

    private static boolean isKmsgAt(String path) {
        try {
            Path p = Path.of(path);
            return Files.exists(p) && FileIdentity.isCharDevice(p) && isKmsg(FileIdentity.rdev(p));
        } catch (Exception e) {
            return false;
        }
    }
}
