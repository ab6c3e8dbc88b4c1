package dev.cryo.kernel;

import com.sun.jna.Memory;

/**
 * A pipe held by cryo itself, pre-filled with the bytes a dumped pipe held. Restored tasks open
 * their ends through /proc/CRYO_PID/fd/N, which joins them to this very pipe.
 */
public final class LocalPipe implements AutoCloseable {
    private static final int PIPE2 = 293, O_NONBLOCK = 04000, F_SETPIPE_SZ = 1031;

    private final Fd read;
    private final Fd write;

    private LocalPipe(Fd read, Fd write) {
        this.read = read;
        this.write = write;
    }

    public static LocalPipe create(byte[] contents) {
        Memory fds = new Memory(8);
        Sys.call(() -> "pipe2()", PIPE2, Sys.address(fds), O_NONBLOCK | Sys.O_CLOEXEC, 0, 0);
        LocalPipe p = new LocalPipe(new Fd(fds.getInt(0)), new Fd(fds.getInt(4)));
        if (contents.length > 0) {
            int size = Math.max(65536, Integer.highestOneBit(Math.max(1, contents.length - 1)) << 1);
            Sys.call(() -> "fcntl(pipe, F_SETPIPE_SZ, " + size + ")", SyscallNr.FCNTL, p.write.value(), F_SETPIPE_SZ, size, 0);
            Memory m = new Memory(contents.length);
            m.write(0, contents, 0, contents.length);
            long done = 0;
            while (done < contents.length) {
                final long off = done;
                done += Sys.call(() -> "write(pipe, " + (contents.length - off) + " bytes)", SyscallNr.WRITE,
                        p.write.value(), Sys.address(m) + off, contents.length - off, 0);
            }
        }
        return p;
    }

    /** The path through which another process opens this pipe's read or write side. */
    public String procPath(boolean readEnd) {
        return "/proc/" + ProcessHandle.current().pid() + "/fd/" + (readEnd ? read.value() : write.value());
    }

    @Override
    public void close() {
        read.close();
        write.close();
    }
}
