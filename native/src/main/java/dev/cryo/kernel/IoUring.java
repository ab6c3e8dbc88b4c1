package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Native;

/**
 * io_uring's ABI (include/uapi/linux/io_uring.h) and the few calls cryo makes on a ring from its own
 * process: a throwaway ring that tells this kernel's ring layout, and probes of a task's ring taken
 * with pidfd_getfd that change nothing in it.
 */
public final class IoUring {
    private IoUring() {}

    /** mmap offsets of the ring fd's areas. */
    public static final long OFF_SQ_RING = 0, OFF_CQ_RING = 0x8000000L, OFF_SQES = 0x10000000L;

    /** io_uring_setup flags. */
    public static final int SETUP_IOPOLL = 1, SETUP_SQPOLL = 1 << 1, SETUP_SQ_AFF = 1 << 2, SETUP_CQSIZE = 1 << 3,
            SETUP_CLAMP = 1 << 4, SETUP_ATTACH_WQ = 1 << 5, SETUP_R_DISABLED = 1 << 6, SETUP_SUBMIT_ALL = 1 << 7,
            SETUP_COOP_TASKRUN = 1 << 8, SETUP_TASKRUN_FLAG = 1 << 9, SETUP_SQE128 = 1 << 10, SETUP_CQE32 = 1 << 11,
            SETUP_SINGLE_ISSUER = 1 << 12, SETUP_DEFER_TASKRUN = 1 << 13, SETUP_NO_MMAP = 1 << 14,
            SETUP_REGISTERED_FD_ONLY = 1 << 15, SETUP_NO_SQARRAY = 1 << 16;

    /** io_uring_enter flags. */
    public static final int ENTER_GETEVENTS = 1, ENTER_EXT_ARG = 1 << 3, ENTER_REGISTERED_RING = 1 << 4;

    /** io_uring_register opcodes. */
    public static final int REGISTER_PROBE = 8, REGISTER_FILES2 = 13, REGISTER_BUFFERS2 = 15, REGISTER_BUFFERS_UPDATE = 16,
            REGISTER_RING_FDS = 20;
    /** IORING_REGISTER_EVENTFD and its _ASYNC form (signalled only for completions done out of line). */
    public static final int REGISTER_EVENTFD = 4, REGISTER_EVENTFD_ASYNC = 7;

    /** Opcodes of the settings a ring keeps that no fdinfo line shows all of ({@link Tunings}). */
    public static final int REGISTER_IOWQ_MAX_WORKERS = 19, REGISTER_FILE_ALLOC_RANGE = 25, REGISTER_NAPI = 27,
            REGISTER_CLOCK = 29;
    /** io_ring_ctx.napi_track_mode: IO_URING_NAPI_TRACKING_DYNAMIC, _STATIC, _INACTIVE (no NAPI registered). */
    public static final int NAPI_TRACKING_DYNAMIC = 0, NAPI_TRACKING_STATIC = 1, NAPI_TRACKING_INACTIVE = 255;
    /** A new ring's clock (IORING_REGISTER_CLOCK takes CLOCK_MONOTONIC or CLOCK_BOOTTIME). */
    public static final int CLOCK_MONOTONIC = 1, CLOCK_BOOTTIME = 7;

    /**
     * What a ring was told after its setup, as io_ring_ctx holds it: its io-wq worker limits (IORING_REGISTER_IOWQ_MAX_WORKERS,
     * 0: none set), the range its registered file table allocates slots from (IORING_REGISTER_FILE_ALLOC_RANGE; the
     * table's whole size unless narrowed), the clock of its waits' timeouts (IORING_REGISTER_CLOCK) and its NAPI busy
     * polling (IORING_REGISTER_NAPI: the busy-poll time in ns, prefer-busy-poll, the tracking mode, and whether NAPI ids
     * are listed, which a static mode got from IO_URING_NAPI_STATIC_ADD_ID and cannot be read back).
     */
    public record Tunings(int iowqBounded, int iowqUnbounded, int fileAllocStart, int fileAllocEnd, int clockId,
                          long napiBusyPollNs, boolean napiPreferBusyPoll, int napiTrackMode, boolean napiIds) {
        /** A ring's as io_uring_setup leaves it, with a registered file table of {@code fileSlots}. */
        public static Tunings initial(int fileSlots) {
            return new Tunings(0, 0, 0, fileSlots, CLOCK_MONOTONIC, 0, false, NAPI_TRACKING_INACTIVE, false);
        }

        public boolean napi() {
            return napiTrackMode != NAPI_TRACKING_INACTIVE;
        }
    }

    /** u32[2] for IORING_REGISTER_IOWQ_MAX_WORKERS: bounded, unbounded (0 leaves one as it is). */
    public static byte[] iowqMaxWorkers(int bounded, int unbounded) {
        return le(8).putInt(bounded).putInt(unbounded).array();
    }

    /** struct io_uring_file_index_range {u32 off; u32 len; u64 resv}. */
    public static byte[] fileIndexRange(int start, int end) {
        return le(16).putInt(start).putInt(end - start).array();
    }

    /** struct io_uring_clock_register {u32 clockid; u32 resv[3]}. */
    public static byte[] clockRegister(int clockId) {
        return le(16).putInt(clockId).array();
    }

    /**
     * struct io_uring_napi {u32 busy_poll_to (us); u8 prefer_busy_poll; u8 opcode (IO_URING_NAPI_REGISTER_OP: 0);
     * u8 pad[2]; u32 op_param (the tracking mode); u32 resv}.
     */
    public static byte[] napiRegister(long busyPollNs, boolean prefer, int trackMode) {
        return le(16).putInt((int) (busyPollNs / 1000)).put((byte) (prefer ? 1 : 0)).put((byte) 0).putShort((short) 0)
                .putInt(trackMode).array();
    }

    private static java.nio.ByteBuffer le(int size) {
        return java.nio.ByteBuffer.allocate(size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /** struct io_uring_rsrc_register and struct io_uring_rsrc_update2: 32 bytes each (their size is the call's nr_args). */
    public static final int RSRC_ARG_SIZE = 32;

    /**
     * struct io_uring_rsrc_register {u32 nr; u32 flags; u64 resv2; u64 data; u64 tags} for
     * IORING_REGISTER_FILES2/BUFFERS2: a table of {@code slots} empty slots (IORING_RSRC_REGISTER_SPARSE).
     */
    public static byte[] sparseTable(int slots) {
        return java.nio.ByteBuffer.allocate(RSRC_ARG_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(slots).putInt(1)
                .array();
    }

    /**
     * struct io_uring_rsrc_update2 {u32 offset; u32 resv; u64 data; u64 tags; u32 nr; u32 resv2} for
     * IORING_REGISTER_BUFFERS_UPDATE: {@code nr} slots from {@code offset} take the iovecs at {@code iovecs}.
     */
    public static byte[] rsrcUpdate(int offset, long iovecs, int nr) {
        return java.nio.ByteBuffer.allocate(RSRC_ARG_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(offset).putInt(0)
                .putLong(iovecs).putLong(0).putInt(nr).array();
    }

    /**
     * Slots a task has for ring fds it registered (IORING_REGISTER_RING_FDS; the kernel's
     * IO_RINGFD_REG_MAX, io_uring/tctx.h): io_uring_enter and io_uring_register then take the slot
     * instead of an fd. They belong to the thread that registered, and show nowhere in /proc.
     */
    public static final int RING_FD_SLOTS = 16;

    /** struct io_uring_rsrc_update {u32 offset; u32 resv; u64 data}: which slot, which ring fd. */
    public static byte[] ringFdUpdate(int slot, int fd) {
        return java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(slot).putInt(0)
                .putLong(fd).array();
    }

    /**
     * struct io_uring_getevents_arg (sigmask, sigmask_sz, min_wait_usec, ts: 24 bytes) followed by the
     * struct __kernel_timespec it points at, for a copy of these bytes at {@code at}: an
     * IORING_ENTER_EXT_ARG wait of at most {@code timeoutNanos}.
     */
    public static final int WAIT_ARG_SIZE = 24;

    public static byte[] waitArg(long at, long timeoutNanos) {
        return java.nio.ByteBuffer.allocate(WAIT_ARG_SIZE + 16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0)
                .putInt(0).putInt(0).putLong(at + WAIT_ARG_SIZE).putLong(timeoutNanos / 1_000_000_000L)
                .putLong(timeoutNanos % 1_000_000_000L).array();
    }

    /** struct io_uring_sqe is 64 bytes (128 with SQE128), struct io_uring_cqe 16 (32 with CQE32). */
    public static final int SQE_SIZE = 64, CQE_SIZE = 16;

    /** An all-zero SQE is IORING_OP_NOP with user_data 0. */
    public static final int OP_NOP = 0;

    /**
     * struct io_uring_params: 120 bytes. The fields cryo reads: entries and flags at the start,
     * struct io_sqring_offsets at 40 and struct io_cqring_offsets at 80.
     */
    public static final int PARAMS_SIZE = 120, P_SQ_ENTRIES = 0, P_CQ_ENTRIES = 4, P_FLAGS = 8, P_FEATURES = 20,
            P_SQ_OFF = 40, P_CQ_OFF = 80;

    /**
     * Where the counters and arrays sit in a ring's shared area (struct io_rings, offsets from
     * io_uring_params): {@code sqArray} is -1 for a ring without one (IORING_SETUP_NO_SQARRAY).
     */
    public record Layout(int sqEntries, int cqEntries, int sqHead, int sqTail, int sqFlags, int sqDropped,
                         int sqArray, int cqHead, int cqTail, int cqOverflow, int cqes, int cqFlags, int features) {

        /** The params io_uring_setup filled in (PARAMS_SIZE bytes, little-endian). */
        public static Layout of(java.nio.ByteBuffer p) {
            p.order(java.nio.ByteOrder.LITTLE_ENDIAN);
            int array = p.getInt(P_SQ_OFF + 24);
            boolean noArray = (p.getInt(P_FLAGS) & SETUP_NO_SQARRAY) != 0;
            return new Layout(p.getInt(P_SQ_ENTRIES), p.getInt(P_CQ_ENTRIES), p.getInt(P_SQ_OFF), p.getInt(P_SQ_OFF + 4),
                    p.getInt(P_SQ_OFF + 16), p.getInt(P_SQ_OFF + 20), noArray ? -1 : array, p.getInt(P_CQ_OFF),
                    p.getInt(P_CQ_OFF + 4), p.getInt(P_CQ_OFF + 16), p.getInt(P_CQ_OFF + 20), p.getInt(P_CQ_OFF + 24),
                    p.getInt(P_FEATURES));
        }
    }

    /** The params for io_uring_setup of a ring of these sizes and flags (CQSIZE added when the CQ is not twice the SQ). */
    public static byte[] params(int sqEntries, int cqEntries, int flags) {
        java.nio.ByteBuffer p = java.nio.ByteBuffer.allocate(PARAMS_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (cqEntries != 2 * sqEntries) {
            flags |= SETUP_CQSIZE;
            p.putInt(P_CQ_ENTRIES, cqEntries);
        }
        p.putInt(P_FLAGS, flags);
        return p.array();
    }

    /** The layout this kernel gives a ring of these sizes and flags: a ring made in cryo's process and closed. */
    public static Layout layout(int sqEntries, int cqEntries, int flags) {
        Memory p = new Memory(PARAMS_SIZE);
        p.write(0, params(sqEntries, cqEntries, flags), 0, PARAMS_SIZE);
        long fd = Sys.call(() -> "io_uring_setup(" + sqEntries + ", cq " + cqEntries + ", flags 0x" + Integer.toHexString(flags)
                + ")", SyscallNr.IO_URING_SETUP, sqEntries, Sys.address(p), 0, 0);
        new Fd((int) fd).close();
        return Layout.of(p.getByteBuffer(0, PARAMS_SIZE));
    }

    /**
     * io_uring_register(IORING_REGISTER_PROBE) on a ring cryo holds: it only reads which opcodes the
     * kernel has, and is refused with EEXIST when the ring takes calls from one task only
     * (IORING_SETUP_SINGLE_ISSUER). Returns 0 or -errno.
     */
    /** struct io_uring_probe without its ops: all a probe of no opcode (nr_args 0) reads and writes back. */
    public static final int PROBE_HEADER_SIZE = 16;

    public static int probe(Fd ring) {
        Memory buf = new Memory(PROBE_HEADER_SIZE + 256 * 8);
        buf.clear();
        long r = LibC.syscall(SyscallNr.IO_URING_REGISTER, ring.value(), REGISTER_PROBE, Sys.address(buf), 256, 0, 0);
        return r == -1 ? -Native.getLastError() : 0;
    }

    /**
     * io_uring_enter(GETEVENTS) on a ring cryo holds, waiting at most {@code timeoutNanos} for
     * {@code minComplete} completions: it submits nothing and reaps nothing (user space reaps by
     * moving the CQ head). Returns the result or -errno (ETIME when it waited out, EEXIST when only
     * its submitter may wait: IORING_SETUP_DEFER_TASKRUN).
     */
    public static int waitEvents(Fd ring, int minComplete, long timeoutNanos) {
        Memory arg = new Memory(WAIT_ARG_SIZE + 16);
        arg.write(0, waitArg(Sys.address(arg), timeoutNanos), 0, WAIT_ARG_SIZE + 16);
        long r = LibC.syscall(SyscallNr.IO_URING_ENTER, ring.value(), 0, minComplete, ENTER_GETEVENTS | ENTER_EXT_ARG,
                Sys.address(arg), WAIT_ARG_SIZE);
        return r == -1 ? -Native.getLastError() : (int) r;
    }
}
