package dev.cryo.kernel;

import com.sun.jna.Memory;

import static dev.cryo.kernel.Fcntl.F_SETPIPE_SZ;
import static dev.cryo.kernel.Fcntl.O_NONBLOCK;

/**
 * A pipe held by cryo itself, pre-filled with the bytes a dumped pipe held. Restored tasks open
 * their ends through /proc/CRYO_PID/fd/N, which joins them to this very pipe. For a FIFO, cryo
 * holds the named pipe open for reading and writing instead, so the tasks' own opens of the path
 * never block waiting for a peer.
 */
public final class LocalPipe implements AutoCloseable {

    private final Fd read;
    private final Fd write;

    private LocalPipe(Fd read, Fd write) {
        this.read = read;
        this.write = write;
    }

    /** {@code size}: the buffer size the dumped pipe had (0: the default, or unknown). */
    public static LocalPipe create(byte[] contents, int size) {
        return create(contents, size, new int[0]);
    }

    /** As above; {@code packets}: the lengths of the packets {@code contents} holds (packet mode), or none. */
    public static LocalPipe create(byte[] contents, int size, int[] packets) {
        Memory fds = new Memory(8);
        Sys.call(() -> "pipe2()", SyscallNr.PIPE2, Sys.address(fds), O_NONBLOCK | Fcntl.O_CLOEXEC, 0, 0);
        return filled(new LocalPipe(new Fd(fds.getInt(0)), new Fd(fds.getInt(4))), contents, size, packets);
    }

    /** Sizes and fills the pipe, or closes it when it cannot be (a size refused, a short write). */
    private static LocalPipe filled(LocalPipe p, byte[] contents, int size, int[] packets) {
        try {
            p.fill(contents, size, packets);
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /**
     * Holds the FIFO at {@code path} open and refills it. It is filled through a read-write open (which
     * never blocks on a FIFO), then held by a read-only one: a writer cryo kept would hang up the
     * tasks' readers once it closed (see {@link #openingReader}); a reader lets their writers open.
     */
    public static LocalPipe fifo(String path, byte[] contents, int size) {
        return fifo(path, contents, size, new int[0]);
    }

    /** As above, {@code contents} in packets of these lengths (none: a byte stream). */
    public static LocalPipe fifo(String path, byte[] contents, int size, int[] packets) {
        try (Fd rw = Sys.open(path, 2 /* O_RDWR */ | O_NONBLOCK)) {
            new LocalPipe(rw, rw).fill(contents, size, packets);
            Fd held = Sys.open(path, Fcntl.O_RDONLY | O_NONBLOCK | Fcntl.O_CLOEXEC);
            return new LocalPipe(held, held);
        }
    }

    /**
     * Runs a task's open of this FIFO for reading ({@code open}), with a writer of cryo's present
     * or not. A reader opened without writers reports POLLHUP only once a writer has come and gone
     * since ({@code hungUp} false: open it with O_NONBLOCK then); one opened while a writer exists
     * reports it as soon as no writer is left ({@code hungUp} true: the writer cryo opens for the
     * instant is that writer). One open at a time, so a temporary writer is no other reader's.
     */
    public synchronized <T> T openingReader(boolean hungUp, java.util.function.Supplier<T> open) {
        if (!hungUp) {
            return open.get();
        }
        try (Fd writer = Sys.open(procPath(false), Fcntl.O_WRONLY | O_NONBLOCK | Fcntl.O_CLOEXEC)) {
            return open.get();
        }
    }

    private void fill(byte[] contents, int dumpedSize, int[] packets) {
        LocalPipe p = this;
        // the dumped size (a program may have grown or shrunk it; it held the bytes), else room for them
        int fits = contents.length == 0 ? 0
                : Math.max(65536, Integer.highestOneBit(Math.max(1, contents.length - 1)) << 1);
        int size = dumpedSize > 0 && dumpedSize >= contents.length ? dumpedSize : fits;
        if (size > 0) {
            Sys.call(() -> "fcntl(pipe, F_SETPIPE_SZ, " + size + ")", SyscallNr.FCNTL, p.write.value(), F_SETPIPE_SZ, size, 0);
        }
        if (contents.length > 0 && packets.length > 0) { // one write per packet, through a packet-mode end
            long flags = Sys.call(() -> "fcntl(pipe, F_GETFL)", SyscallNr.FCNTL, p.write.value(), Fcntl.F_GETFL, 0, 0);
            Sys.call(() -> "fcntl(pipe, F_SETFL, O_DIRECT)", SyscallNr.FCNTL, p.write.value(), Fcntl.F_SETFL,
                    flags | Fcntl.O_DIRECT, 0);
            Memory m = new Memory(contents.length);
            m.write(0, contents, 0, contents.length);
            long at = 0;
            for (int len : packets) {
                final long off = at;
                long n = Sys.call(() -> "write(pipe, packet of " + len + " bytes)", SyscallNr.WRITE, p.write.value(),
                        Sys.address(m) + off, len, 0);
                if (n != len) {
                    throw new KernelException("write(pipe, packet of " + len + " bytes) wrote " + n);
                }
                at += len;
            }
            Sys.call(() -> "fcntl(pipe, F_SETFL)", SyscallNr.FCNTL, p.write.value(), Fcntl.F_SETFL, flags, 0);
        } else if (contents.length > 0) {
            Memory m = new Memory(contents.length);
            m.write(0, contents, 0, contents.length);
            long done = 0;
            while (done < contents.length) {
                final long off = done;
                done += Sys.call(() -> "write(pipe, " + (contents.length - off) + " bytes)", SyscallNr.WRITE,
                        p.write.value(), Sys.address(m) + off, contents.length - off, 0);
            }
        }
    }

    public boolean isFifo() {
        return read == write;
    }

    /** cryo's own fd of one side, for a process to take with pidfd_getfd. */
    public int fd(boolean readEnd) {
        return readEnd ? read.value() : write.value();
    }

    /** The path through which another process opens this pipe's read or write side. */
    public String procPath(boolean readEnd) {
        return "/proc/" + ProcessHandle.current().pid() + "/fd/" + (readEnd ? read.value() : write.value());
    }

    @Override
    public void close() {
        read.close();
        write.close(); // closes once: for a FIFO both are the same Fd
    }
}
