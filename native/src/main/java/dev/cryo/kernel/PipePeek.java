package dev.cryo.kernel;

import com.sun.jna.Memory;

import static dev.cryo.kernel.Fcntl.F_GETPIPE_SZ;
import static dev.cryo.kernel.Fcntl.F_SETPIPE_SZ;
import static dev.cryo.kernel.Fcntl.O_NONBLOCK;

/**
 * Reads the bytes sitting in a pipe without consuming them: a new read end is opened through
 * /proc/PID/fd/N, and tee(2) duplicates its contents into a private pipe that cryo drains.
 * The owner's pipe is left exactly as it was.
 */
public final class PipePeek {
    private PipePeek() {}

    /**
     * Whether fd {@code fd} of {@code pid}, a FIFO's read end, reports POLLHUP: its writers came and
     * went since it was opened. Polled through a duplicate of the very open file (pidfd_getfd),
     * since the state is the open file's, not the FIFO's.
     */
    public static boolean hungUp(Pid pid, int fd) {
        try (Fd pidfd = Sys.pidfdOpen(pid); Fd dup = Sys.pidfdGetfd(pidfd, pid, fd)) {
            Memory pfd = new Memory(8);
            pfd.setInt(0, dup.value());
            pfd.setShort(4, (short) 1 /* POLLIN */);
            pfd.setShort(6, (short) 0);
            Sys.call(() -> "poll(pid " + pid + " fd " + fd + ")", SyscallNr.POLL, Sys.address(pfd), 1, 0, 0);
            return (pfd.getShort(6) & 0x10 /* POLLHUP */) != 0;
        }
    }

    private static final int SPLICE_F_NONBLOCK = 2;

    /** The pipe's buffer size (F_GETPIPE_SZ), through a new read end opened like {@link #peek}. */
    public static int size(String procFdPath) {
        try (Fd src = Sys.open(procFdPath, Fcntl.O_RDONLY | O_NONBLOCK)) {
            return (int) Sys.call(() -> "fcntl(" + procFdPath + ", F_GETPIPE_SZ)", SyscallNr.FCNTL,
                    src.value(), F_GETPIPE_SZ, 0, 0);
        }
    }

    public static byte[] peek(String procFdPath) {
        return peekPackets(procFdPath).data();
    }

    /**
     * The bytes, and the length of each read that took them: a read stops at the end of a packet of a
     * packet-mode pipe (pipe2 O_DIRECT; tee keeps the packet mark), so more than one read means packets.
     */
    public record Peeked(byte[] data, int[] reads) {}

    public static Peeked peekPackets(String procFdPath) {
        try (Fd src = Sys.open(procFdPath, Fcntl.O_RDONLY | O_NONBLOCK)) {
            int size = (int) Sys.call(() -> "fcntl(" + procFdPath + ", F_GETPIPE_SZ)", SyscallNr.FCNTL,
                    src.value(), F_GETPIPE_SZ, 0, 0);
            Memory fds = new Memory(8);
            Sys.call(() -> "pipe2()", SyscallNr.PIPE2, Sys.address(fds), O_NONBLOCK | Fcntl.O_CLOEXEC, 0, 0);
            try (Fd r = new Fd(fds.getInt(0)); Fd w = new Fd(fds.getInt(4))) {
                Sys.call(() -> "fcntl(pipe, F_SETPIPE_SZ, " + size + ")", SyscallNr.FCNTL, w.value(), F_SETPIPE_SZ, size, 0);
                long n = LibC.syscall(SyscallNr.TEE, src.value(), w.value(), size, SPLICE_F_NONBLOCK, 0, 0);
                if (n == -1) {
                    int errno = com.sun.jna.Native.getLastError();
                    if (errno == Errno.EAGAIN) {
                        return new Peeked(new byte[0], new int[0]); // empty pipe
                    }
                    throw new SyscallException("tee(" + procFdPath + ")", errno);
                }
                Memory buf = new Memory(Math.max(n, 1));
                long got = 0;
                java.util.List<Integer> reads = new java.util.ArrayList<>();
                while (got < n) {
                    final long at = got;
                    long k = Sys.call(() -> "read(pipe)", SyscallNr.READ, r.value(), Sys.address(buf) + at, n - at, 0);
                    if (k == 0) {
                        break;
                    }
                    reads.add((int) k);
                    got += k;
                }
                return new Peeked(buf.getByteArray(0, (int) got), reads.stream().mapToInt(Integer::intValue).toArray());
            }
        }
    }
}
