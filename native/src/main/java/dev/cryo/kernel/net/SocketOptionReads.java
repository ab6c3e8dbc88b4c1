package dev.cryo.kernel.net;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.IoUring;
import dev.cryo.kernel.LibC;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

/**
 * Many SOL_SOCKET options of one socket read in one syscall: each a getsockopt given to io_uring as a
 * command (IORING_OP_URING_CMD, SOCKET_URING_OP_GETSOCKOPT, Linux 6.7: the kernel runs the very
 * getsockopt of the syscall, for level SOL_SOCKET only). A dump reads some 35 of them for every socket
 * of a frozen server, thousands, and here a syscall costs about a microsecond before any work. Where
 * io_uring cannot serve (an older kernel, io_uring_disabled, a seccomp filter), or answers other than
 * the syscall does on a socket of cryo's own, {@link #available} is false and callers read one by one.
 * One ring is kept for the JVM's life; a thread that finds it in use reads one by one (null), and a ring
 * whose reads failed is closed.
 */
public final class SocketOptionReads implements AutoCloseable {
    private static final int OP_URING_CMD = 46, SOCKET_URING_OP_GETSOCKOPT = 2;
    private static final int ENTRIES = 64, SLOT = 64, CQ_ENTRIES = 2 * ENTRIES;
    /** The largest option value read this way. */
    public static final int LARGEST = SLOT;
    private static final int PROT_RW = 3, MAP_SHARED_POPULATE = 0x01 | 0x8000;
    /** io_uring_sqe fields: opcode, fd, cmd_op, level, optname, user_data, optlen, optval. */
    private static final int SQE_OPCODE = 0, SQE_FD = 4, SQE_CMD_OP = 8, SQE_LEVEL = 16, SQE_OPTNAME = 20,
            SQE_USER_DATA = 32, SQE_OPTLEN = 44, SQE_OPTVAL = 48;

    /** The one ring cryo keeps (null while a thread uses it), and whether it exists. */
    private static final java.util.concurrent.atomic.AtomicReference<SocketOptionReads> KEPT =
            new java.util.concurrent.atomic.AtomicReference<>();
    private static final java.util.concurrent.atomic.AtomicBoolean MADE = new java.util.concurrent.atomic.AtomicBoolean();
    private static volatile Boolean available;

    private final Fd ring;
    private final IoUring.Layout layout;
    private final Pointer rings, sqes;
    private final long ringsBytes, sqesBytes;
    private final com.sun.jna.Memory values = new com.sun.jna.Memory((long) ENTRIES * SLOT);

    private SocketOptionReads(Fd ring, IoUring.Layout layout, Pointer rings, long ringsBytes, Pointer sqes, long sqesBytes) {
        this.ring = ring;
        this.layout = layout;
        this.rings = rings;
        this.ringsBytes = ringsBytes;
        this.sqes = sqes;
        this.sqesBytes = sqesBytes;
    }

    /** Whether options can be read this way here: checked once, on a socket of cryo's own, against getsockopt. */
    public static boolean available() {
        Boolean a = available;
        if (a == null) {
            synchronized (SocketOptionReads.class) {
                if (available == null) {
                    available = selfCheck();
                }
                a = available;
            }
        }
        return a;
    }

    private static boolean selfCheck() {
        try (Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0)) {
            int[] names = {Sockets.SO_TYPE, Sockets.SO_KEEPALIVE, Sockets.SO_LINGER};
            int[] sizes = {4, 4, 8};
            byte[][] got = read(s, names, sizes);
            if (got == null) {
                return false;
            }
            for (int i = 0; i < names.length; i++) {
                byte[] direct = Sockets.getBytesOrNull(s, Sockets.SOL_SOCKET, names[i], sizes[i]);
                if (direct == null || !java.util.Arrays.equals(got[i], direct)) {
                    return false;
                }
            }
            return true;
        } catch (RuntimeException e) {
            return false; // no io_uring here, or not for sockets: read one by one
        }
    }

    /**
     * The SOL_SOCKET options {@code names} of {@code s}, each read into {@code sizes[i]} bytes: the bytes
     * getsockopt wrote, or null where it failed (an option this kind of socket does not offer); null
     * when the ring is in another thread's hands. Only when {@link #available}.
     */
    public static byte[][] read(Fd s, int[] names, int[] sizes) {
        SocketOptionReads r = KEPT.getAndSet(null);
        if (r == null) {
            if (!MADE.compareAndSet(false, true)) {
                return null; // the ring is another thread's now: this one reads one by one
            }
            try {
                r = open();
            } catch (RuntimeException e) {
                MADE.set(false);
                throw e;
            }
        }
        boolean ok = false;
        try {
            byte[][] out = new byte[names.length][];
            for (int from = 0; from < names.length; from += ENTRIES) {
                r.batch(s, names, sizes, from, Math.min(names.length, from + ENTRIES), out);
            }
            ok = true;
            return out;
        } finally {
            if (ok) {
                KEPT.set(r);
            } else {
                r.close(); // one that failed may still get answers: not for the next reads
                MADE.set(false);
            }
        }
    }

    private static SocketOptionReads open() {
        com.sun.jna.Memory p = new com.sun.jna.Memory(IoUring.PARAMS_SIZE);
        p.write(0, IoUring.params(ENTRIES, CQ_ENTRIES, IoUring.SETUP_SUBMIT_ALL), 0, IoUring.PARAMS_SIZE);
        Fd ring = new Fd((int) Sys.call(() -> "io_uring_setup(" + ENTRIES + ")", SyscallNr.IO_URING_SETUP, ENTRIES,
                Sys.address(p), 0, 0));
        Pointer rings = null, sqes = null;
        long ringsBytes = 0, sqesBytes = (long) ENTRIES * IoUring.SQE_SIZE;
        try {
            IoUring.Layout l = IoUring.Layout.of(p.getByteBuffer(0, IoUring.PARAMS_SIZE));
            if ((l.features() & 1) == 0 || l.sqArray() < 0) { // IORING_FEAT_SINGLE_MMAP, and an SQ array
                throw new IllegalStateException("io_uring without a single mapping of its rings");
            }
            ringsBytes = Math.max(l.sqArray() + 4L * l.sqEntries(), l.cqes() + (long) IoUring.CQE_SIZE * l.cqEntries());
            rings = map(ring, ringsBytes, IoUring.OFF_SQ_RING);
            sqes = map(ring, sqesBytes, IoUring.OFF_SQES);
            return new SocketOptionReads(ring, l, rings, ringsBytes, sqes, sqesBytes);
        } catch (RuntimeException e) {
            unmap(rings, ringsBytes);
            unmap(sqes, sqesBytes);
            ring.close();
            throw e;
        }
    }

    private static Pointer map(Fd ring, long bytes, long offset) {
        long at = Sys.call(() -> "mmap(io_uring " + ring + ", " + bytes + " bytes)", SyscallNr.MMAP, 0, bytes, PROT_RW,
                MAP_SHARED_POPULATE, ring.value(), offset);
        return new Pointer(at);
    }

    private static void unmap(Pointer p, long bytes) {
        if (p != null) {
            LibC.syscall(SyscallNr.MUNMAP, Pointer.nativeValue(p), bytes, 0, 0, 0, 0);
        }
    }

    /** Reads options {@code from} to {@code to} (at most ENTRIES) with one io_uring_enter (more if a signal cuts its wait). */
    private void batch(Fd s, int[] names, int[] sizes, int from, int to, byte[][] out) {
        int n = to - from;
        int mask = layout.sqEntries() - 1;
        int tail = rings.getInt(layout.sqTail());
        values.clear((long) n * SLOT);
        for (int i = 0; i < n; i++) {
            int size = sizes[from + i];
            if (size > SLOT) {
                throw new IllegalArgumentException("option " + names[from + i] + ": " + size + " bytes, more than " + SLOT);
            }
            int index = (tail + i) & mask;
            long sqe = (long) index * IoUring.SQE_SIZE;
            sqes.setMemory(sqe, IoUring.SQE_SIZE, (byte) 0);
            sqes.setByte(sqe + SQE_OPCODE, (byte) OP_URING_CMD);
            sqes.setInt(sqe + SQE_FD, s.value());
            sqes.setInt(sqe + SQE_CMD_OP, SOCKET_URING_OP_GETSOCKOPT);
            sqes.setInt(sqe + SQE_LEVEL, Sockets.SOL_SOCKET);
            sqes.setInt(sqe + SQE_OPTNAME, names[from + i]);
            sqes.setLong(sqe + SQE_USER_DATA, i);
            sqes.setInt(sqe + SQE_OPTLEN, size);
            sqes.setLong(sqe + SQE_OPTVAL, Pointer.nativeValue(values) + (long) i * SLOT);
            rings.setInt(layout.sqArray() + 4L * index, index);
        }
        rings.setInt(layout.sqTail(), tail + n); // x86: the stores above are seen first
        int seen = 0;
        for (int attempt = 0; seen < n; attempt++) {
            long r = LibC.syscall(SyscallNr.IO_URING_ENTER, ring.value(), attempt == 0 ? n : 0, n - seen,
                    IoUring.ENTER_GETEVENTS, 0, 0);
            int errno = r == -1 ? Native.getLastError() : 0;
            if ((errno != 0 && errno != dev.cryo.kernel.Errno.EINTR) || (attempt == 0 && r != n) || attempt > 100) {
                throw new dev.cryo.kernel.SyscallException("io_uring_enter(" + n + " getsockopt of " + s + "), "
                        + (attempt == 0 && r >= 0 ? r + " submitted" : seen + " answered"),
                        errno != 0 ? errno : dev.cryo.kernel.Errno.EIO);
            }
            int head = rings.getInt(layout.cqHead()), done = rings.getInt(layout.cqTail());
            int cqMask = layout.cqEntries() - 1;
            for (int c = head; c != done; c++) {
                long cqe = layout.cqes() + (long) (c & cqMask) * IoUring.CQE_SIZE;
                int i = (int) rings.getLong(cqe);
                int res = rings.getInt(cqe + 8);
                if (i >= 0 && i < n && out[from + i] == null) {
                    seen++;
                    out[from + i] = res < 0 ? FAILED : values.getByteArray((long) i * SLOT, Math.min(res, sizes[from + i]));
                }
            }
            rings.setInt(layout.cqHead(), done);
        }
        for (int i = from; i < to; i++) {
            if (out[i] == FAILED) {
                out[i] = null; // getsockopt failed: not offered by this kind of socket
            }
        }
    }

    /** Marks an answered read that failed, while answers are counted. */
    private static final byte[] FAILED = new byte[0];

    @Override
    public void close() {
        unmap(rings, ringsBytes);
        unmap(sqes, sqesBytes);
        ring.close();
    }
}
