package dev.cryo.engine.files;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.IoUring;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.IoUringInfo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The restore half of {@link IoUringHandler}: a new ring of the dumped sizes and layout flags made by
 * the task itself (so it is the task's: its accounting, its creds), mapped over the placeholders the
 * memory stage left at the dumped addresses. The kernel's SQ head and CQ tail, which user space
 * cannot write, are brought to the dumped ones with NOPs (an all-zero SQE) submitted by the task a
 * ring's worth at a time and reaped by moving the CQ head; then the dumped bytes of every area go
 * back over the ring (counters, unsubmitted SQEs, unreaped CQEs, the SQ array). Last, the
 * registered buffer table (the same ranges of the task's memory, restored by then, at the same
 * slots) and an empty registered file table of the dumped size.
 */
final class IoUringRestore {
    private IoUringRestore() {}

    private static final int PROT_WRITE = 2, MAP_SHARED = 1, MADV_DONTFORK = 10;
    /** Inaccessible, private, anonymous, unaccounted, never over an existing mapping. */
    private static final long MAP_RESERVE = 0x02 | 0x20 | 0x4000 | 0x100000;
    /** The user address space the kernel places mappings in: above mmap_min_addr's usual 64 KiB, below 2^47. */
    private static final long LOWEST = 0x10000L, HIGHEST = 0x7ffffffff000L;

    static long restore(IoUringHandler.IoUringRing ring, FdHandler.RestoreContext ctx) {
        Pid pid = Pid.of(ctx.taskPid());
        long params = ctx.put(IoUring.params(ring.sqEntries(), ring.cqEntries(), ring.flags()));
        long fd = ctx.call("io_uring_setup(" + ring.sqEntries() + ")", SyscallNr.IO_URING_SETUP, ring.sqEntries(), params);
        IoUring.Layout lay = IoUring.Layout.of(ByteBuffer.wrap(Sys.read(pid, params, IoUring.PARAMS_SIZE)));
        String what = "pid " + pid + ": the io_uring made again";
        if (lay.sqEntries() != ring.sqEntries() || lay.cqEntries() != ring.cqEntries()) {
            throw new RestoreException(what + " has " + lay.sqEntries() + "/" + lay.cqEntries() + " entries, the dumped one "
                    + ring.sqEntries() + "/" + ring.cqEntries());
        }
        long rings = 0, sqes = 0;
        for (IoUringHandler.Area a : ring.areas()) {
            mapAt(ctx, pid, fd, a);
            if (a.offset() == IoUring.OFF_SQ_RING) {
                rings = a.start();
            } else if (a.offset() == IoUring.OFF_SQES) {
                sqes = a.start();
            }
        }
        if (rings == 0 || sqes == 0) {
            throw new RestoreException(what + ": the image has no SQ ring or SQE area for it");
        }
        advance(ctx, pid, fd, lay, rings, sqes, ring);
        for (IoUringHandler.Area a : ring.areas()) {
            Sys.write(pid, a.start(), a.bytes());
            if ((a.prot() & PROT_WRITE) == 0) {
                ctx.call("mprotect(io_uring area at 0x" + Long.toHexString(a.start()) + ")", SyscallNr.MPROTECT, a.start(),
                        a.end() - a.start(), a.prot());
            }
        }
        IoUringInfo made = IoUringInfo.read(pid, (int) fd);
        if (made.cachedSqHead() != ring.sqHead() || made.cachedCqTail() != ring.cqTail()) {
            throw new RestoreException(what + " reached SQ head " + Integer.toUnsignedString(made.cachedSqHead())
                    + " and CQ tail " + Integer.toUnsignedString(made.cachedCqTail()) + " instead of "
                    + Integer.toUnsignedString(ring.sqHead()) + " and " + Integer.toUnsignedString(ring.cqTail()));
        }
        registerTables(ctx, pid, fd, ring);
        tune(ctx, fd, ring);
        return fd;
    }

    /** The ring's settings, those that differ from a new ring's (the file range after its file table is made). */
    private static void tune(FdHandler.RestoreContext ctx, long fd, IoUringHandler.IoUringRing ring) {
        IoUring.Tunings t = ring.tunings(), fresh = IoUring.Tunings.initial(ring.fileSlots());
        if (t.iowqBounded() != 0 || t.iowqUnbounded() != 0) {
            ctx.call("io_uring_register(IORING_REGISTER_IOWQ_MAX_WORKERS, " + Integer.toUnsignedString(t.iowqBounded()) + ", "
                    + Integer.toUnsignedString(t.iowqUnbounded()) + ")", SyscallNr.IO_URING_REGISTER, fd,
                    IoUring.REGISTER_IOWQ_MAX_WORKERS, ctx.put(IoUring.iowqMaxWorkers(t.iowqBounded(), t.iowqUnbounded())), 2);
        }
        if (t.fileAllocStart() != fresh.fileAllocStart() || t.fileAllocEnd() != fresh.fileAllocEnd()) {
            ctx.call("io_uring_register(IORING_REGISTER_FILE_ALLOC_RANGE, " + t.fileAllocStart() + "-" + t.fileAllocEnd() + ")",
                    SyscallNr.IO_URING_REGISTER, fd, IoUring.REGISTER_FILE_ALLOC_RANGE,
                    ctx.put(IoUring.fileIndexRange(t.fileAllocStart(), t.fileAllocEnd())), 0);
        }
        if (t.clockId() != fresh.clockId()) {
            ctx.call("io_uring_register(IORING_REGISTER_CLOCK, " + t.clockId() + ")", SyscallNr.IO_URING_REGISTER, fd,
                    IoUring.REGISTER_CLOCK, ctx.put(IoUring.clockRegister(t.clockId())), 0);
        }
        if (t.napi()) {
            ctx.call("io_uring_register(IORING_REGISTER_NAPI)", SyscallNr.IO_URING_REGISTER, fd, IoUring.REGISTER_NAPI,
                    ctx.put(IoUring.napiRegister(t.napiBusyPollNs(), t.napiPreferBusyPoll(), t.napiTrackMode())), 1);
        }
    }

    /** iovecs per IORING_REGISTER_BUFFERS_UPDATE: they and the update go through the task's bootstrap data area. */
    private static final int IOVECS_PER_UPDATE = 256;

    /**
     * The registered tables made sparse at their dumped sizes, then each run of buffers (empty slots
     * between them included, as {0, 0} iovecs, which leave a slot empty) put at its slots.
     */
    private static void registerTables(FdHandler.RestoreContext ctx, Pid pid, long fd, IoUringHandler.IoUringRing ring) {
        if (ring.bufferSlots() > 0) {
            ctx.call("io_uring_register(IORING_REGISTER_BUFFERS2, " + ring.bufferSlots() + " empty slots)",
                    SyscallNr.IO_URING_REGISTER, fd, IoUring.REGISTER_BUFFERS2, ctx.put(IoUring.sparseTable(ring.bufferSlots())),
                    IoUring.RSRC_ARG_SIZE);
            java.util.List<IoUringHandler.Buffer> left = new java.util.ArrayList<>(ring.buffers());
            left.sort(java.util.Comparator.comparingInt(IoUringHandler.Buffer::index));
            while (!left.isEmpty()) {
                int first = left.get(0).index();
                if (first < 0 || left.get(left.size() - 1).index() >= ring.bufferSlots()) {
                    throw new RestoreException("pid " + pid + ": the io_uring's registered buffers lie outside its table of "
                            + ring.bufferSlots());
                }
                ByteBuffer iovecs = ByteBuffer.allocate(16 * IOVECS_PER_UPDATE).order(ByteOrder.LITTLE_ENDIAN);
                int n = 0;
                while (!left.isEmpty() && left.get(0).index() - first < IOVECS_PER_UPDATE) {
                    IoUringHandler.Buffer b = left.remove(0);
                    iovecs.putLong(16 * (b.index() - first), b.address()).putLong(16 * (b.index() - first) + 8, b.length());
                    n = b.index() - first + 1;
                }
                byte[] both = new byte[IoUring.RSRC_ARG_SIZE + 16 * n];
                long at = ctx.put(both); // the update first, its iovecs right after it
                System.arraycopy(IoUring.rsrcUpdate(first, at + IoUring.RSRC_ARG_SIZE, n), 0, both, 0, IoUring.RSRC_ARG_SIZE);
                System.arraycopy(iovecs.array(), 0, both, IoUring.RSRC_ARG_SIZE, 16 * n);
                ctx.put(both);
                long got = ctx.call("io_uring_register(IORING_REGISTER_BUFFERS_UPDATE, slots " + first + "-" + (first + n - 1)
                        + ")", SyscallNr.IO_URING_REGISTER, fd, IoUring.REGISTER_BUFFERS_UPDATE, at, IoUring.RSRC_ARG_SIZE);
                if (got != n) {
                    throw new RestoreException("pid " + pid + ": io_uring_register updated " + got + " of the " + n
                            + " registered buffer slots from " + first);
                }
            }
        }
        if (ring.fileSlots() > 0) {
            ctx.call("io_uring_register(IORING_REGISTER_FILES2, " + ring.fileSlots() + " empty slots)",
                    SyscallNr.IO_URING_REGISTER, fd, IoUring.REGISTER_FILES2, ctx.put(IoUring.sparseTable(ring.fileSlots())),
                    IoUring.RSRC_ARG_SIZE);
        }
    }

    /**
     * The ring's area mapped at its dumped address. io_uring refuses any address but 0 (the kernel
     * picks the place, for architectures whose caches alias), MAP_FIXED and mremap to an address
     * alike: so for that one mmap every free range of the address space but the dumped one is
     * filled with an inaccessible reservation, which leaves the kernel one place to choose.
     */
    private static void mapAt(FdHandler.RestoreContext ctx, Pid pid, long fd, IoUringHandler.Area a) {
        long len = a.end() - a.start();
        String at = "io_uring area 0x" + Long.toHexString(a.offset()) + " at 0x" + Long.toHexString(a.start());
        ctx.call("munmap(placeholder of the " + at + ")", SyscallNr.MUNMAP, a.start(), len);
        java.util.List<long[]> fillers = new java.util.ArrayList<>();
        try {
            long from = LOWEST;
            java.util.List<dev.cryo.kernel.proc.MapsEntry> maps = new java.util.ArrayList<>(dev.cryo.kernel.proc.ProcFs.maps(pid));
            maps.add(new dev.cryo.kernel.proc.MapsEntry(a.start(), a.end(), false, false, false, false, 0, 0, 0, 0, "", false));
            maps.sort(java.util.Comparator.comparingLong(dev.cryo.kernel.proc.MapsEntry::start));
            for (dev.cryo.kernel.proc.MapsEntry m : maps) {
                long to = Math.min(m.start(), HIGHEST);
                if (to > from) {
                    ctx.call("mmap(reservation 0x" + Long.toHexString(from) + "-0x" + Long.toHexString(to) + " while placing the "
                            + at + ")", SyscallNr.MMAP, from, to - from, 0, MAP_RESERVE, -1, 0);
                    fillers.add(new long[] {from, to});
                }
                from = Math.max(from, m.end());
            }
            if (from < HIGHEST) {
                ctx.call("mmap(reservation above 0x" + Long.toHexString(from) + ")", SyscallNr.MMAP, from, HIGHEST - from, 0,
                        MAP_RESERVE, -1, 0);
                fillers.add(new long[] {from, HIGHEST});
            }
            long got = ctx.call("mmap(" + at + ")", SyscallNr.MMAP, 0, len, a.prot() | PROT_WRITE, MAP_SHARED, fd, a.offset());
            if (got != a.start()) {
                ctx.call("munmap(misplaced " + at + ")", SyscallNr.MUNMAP, got, len);
                throw new RestoreException("pid " + pid + ": the kernel placed the " + at + " at 0x" + Long.toHexString(got));
            }
            if (a.dontFork()) {
                ctx.call("madvise(" + at + ", MADV_DONTFORK)", SyscallNr.MADVISE, a.start(), len, MADV_DONTFORK);
            }
        } finally {
            for (long[] f : fillers) {
                ctx.call("munmap(reservation 0x" + Long.toHexString(f[0]) + ")", SyscallNr.MUNMAP, f[0], f[1] - f[0]);
            }
        }
    }

    /**
     * NOPs until the kernel's SQ head and CQ tail are the dumped ones (equal: the dump carries a
     * ring only when every request has its completion). At most one SQ ring's worth per call: the
     * kernel takes no more, and the CQ ring (at least as big) then never overflows.
     */
    private static void advance(FdHandler.RestoreContext ctx, Pid pid, long fd, IoUring.Layout lay, long rings, long sqes,
                                IoUringHandler.IoUringRing ring) {
        if (ring.sqHead() != ring.cqTail()) {
            throw new RestoreException("pid " + pid + ": the io_uring in the image has SQ head "
                    + Integer.toUnsignedString(ring.sqHead()) + " and CQ tail " + Integer.toUnsignedString(ring.cqTail())
                    + "; only a ring with every request completed can be made again");
        }
        long target = Integer.toUnsignedLong(ring.sqHead());
        if (target == 0) {
            return;
        }
        int sqeSize = (ring.flags() & IoUring.SETUP_SQE128) != 0 ? 2 * IoUring.SQE_SIZE : IoUring.SQE_SIZE;
        Sys.write(pid, sqes, new byte[lay.sqEntries() * sqeSize]); // all NOPs
        if (lay.sqArray() >= 0) {
            ByteBuffer array = ByteBuffer.allocate(4 * lay.sqEntries()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < lay.sqEntries(); i++) {
                array.putInt(i);
            }
            Sys.write(pid, rings + lay.sqArray(), array.array());
        }
        long done = 0;
        while (done < target) {
            int n = (int) Math.min(target - done, lay.sqEntries());
            Sys.write(pid, rings + lay.sqTail(), IoUringDump.le((int) (done + n)));
            long got = ctx.call("io_uring_enter(" + n + " NOPs, at " + done + " of " + target + ")",
                    SyscallNr.IO_URING_ENTER, fd, n, 0, 0, 0, 0);
            if (got != n) {
                throw new RestoreException("pid " + pid + ": io_uring_enter took " + got + " of " + n
                        + " NOPs moving the new ring's counters to " + target);
            }
            done += n;
            Sys.write(pid, rings + lay.cqHead(), IoUringDump.le((int) done));
        }
    }
}
