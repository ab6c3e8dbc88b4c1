package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.IoUring;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Ring fds registered with IORING_REGISTER_RING_FDS (liburing's io_uring_register_ring_fd): the
 * thread then enters the ring by a slot number instead of its fd (IORING_ENTER_REGISTERED_RING),
 * and a ring that came back unregistered fails every such call with EBADF. The slots are the
 * thread's own and /proc shows none, so the dump asks each thread of a task holding a ring which
 * of its slots are taken (an io_uring_enter of nothing by slot: 0 taken, EBADF free, EINVAL when
 * the thread never used io_uring) and which ring each holds; restore registers the same ring fd
 * at the same slot in the same thread.
 */
public final class IoUringRingFds {
    private IoUringRingFds() {}

    /** A wait as short as the kernel allows: only whether it returns at once matters. */
    private static final long PROBE_WAIT_NANOS = 1000;

    /**
     * io_uring_enter(slot 0, nothing, IORING_ENTER_REGISTERED_RING), which does nothing: EINVAL when
     * the thread has no io_uring context (never used io_uring, so no slot), and 0 or EBADF when it
     * has one. One call in each thread's batch of the dump ({@link #hasContext}).
     */
    public static SyscallBatch.Call contextProbe() {
        return new SyscallBatch.Call(SyscallNr.IO_URING_ENTER, 0, 0, 0, IoUring.ENTER_REGISTERED_RING, 0, 0);
    }

    /** Whether {@link #contextProbe} answered that the thread has an io_uring context (ENOSYS: a kernel without io_uring). */
    public static boolean hasContext(long result) {
        return result != -Errno.EINVAL && result != -Errno.ENOSYS;
    }

    /**
     * The task's rings ({@code fds}) with the slots its threads registered them at;
     * {@code tids}: the threads with an io_uring context, the only ones that may hold a slot
     * (a ring can be in a slot with no fd and no mapping left, so they are asked even when the task
     * holds no ring fd). Refused: a slot holding a ring the task has no fd of (closed after
     * registering: liburing's io_uring_close_ring_fd, IORING_SETUP_REGISTERED_FD_ONLY), and any slot
     * of a task sharing its parent's fd table ({@code sharesFds}: CLONE_FILES; its rings are
     * carried by the parent's record).
     */
    public static List<FdImage> dump(RemoteTask remote, List<Integer> tids, List<FdImage> fds, boolean sharesFds) {
        Map<Integer, FdImage> rings = new LinkedHashMap<>();
        for (FdImage f : fds) {
            if (f.desc() instanceof IoUringHandler.IoUringRing) {
                rings.put(f.fd(), f);
            }
        }
        checkIssuers(remote, rings.values());
        if (tids.isEmpty()) {
            return fds;
        }
        Map<Integer, List<IoUringHandler.Registration>> found = new LinkedHashMap<>();
        for (int tid : tids) {
            try (Injector inj = remote.injector(tid)) {
                long[] slots = slots(remote, inj);
                for (int slot = 0; slot < slots.length; slot++) {
                    if (slots[slot] == -Errno.EINVAL) {
                        break; // the thread has no io_uring context: no slot at all
                    }
                    if (slots[slot] == -Errno.EBADF) {
                        continue;
                    }
                    String where = "pid " + remote.pid() + " tid " + tid + ": its registered ring slot " + slot
                            + " (IORING_REGISTER_RING_FDS)";
                    if (slots[slot] != 0) {
                        throw new DumpException(where + " answers " + Errno.describe((int) -slots[slot]) + "; not supported yet");
                    }
                    if (sharesFds) {
                        throw new DumpException(where + " is taken, and the task shares its parent's fd table (CLONE_FILES,"
                                + " whose rings the parent's record carries); not supported yet");
                    }
                    int fd = holder(remote, inj, slot, rings.values());
                    if (fd < 0) {
                        throw new DumpException(where + " holds an io_uring the task has no fd of (closed after it was"
                                + " registered: io_uring_close_ring_fd, IORING_SETUP_REGISTERED_FD_ONLY); not supported yet");
                    }
                    found.computeIfAbsent(fd, k -> new ArrayList<>()).add(new IoUringHandler.Registration(tid, slot));
                }
            }
        }
        if (found.isEmpty()) {
            return fds;
        }
        List<FdImage> out = new ArrayList<>(fds.size());
        for (FdImage f : fds) {
            List<IoUringHandler.Registration> regs = rings.get(f.fd()) == f ? found.get(f.fd()) : null;
            out.add(regs == null ? f : new FdImage(f.fd(), f.flags(), f.position(),
                    ((IoUringHandler.IoUringRing) f.desc()).withRegistrations(regs), f.owner()));
        }
        return out;
    }

    /**
     * A ring with one issuer (IORING_SETUP_SINGLE_ISSUER) is made again by the restore in the task's
     * main thread, which becomes its issuer: refused when the issuer is another thread (the register
     * call that only reads the kernel's opcodes, IORING_REGISTER_PROBE of none, is refused with
     * EEXIST to any task but the issuer).
     */
    private static void checkIssuers(RemoteTask remote, Iterable<FdImage> rings) {
        Injector inj = null;
        try {
            for (FdImage f : rings) {
                if ((((IoUringHandler.IoUringRing) f.desc()).flags() & IoUring.SETUP_SINGLE_ISSUER) == 0) {
                    continue;
                }
                if (inj == null) {
                    inj = remote.injector(remote.pid().value());
                }
                Sys.write(remote.pid(), remote.scratch(), new byte[IoUring.PROBE_HEADER_SIZE]);
                long r = inj.raw(SyscallNr.IO_URING_REGISTER, f.fd(), IoUring.REGISTER_PROBE, remote.scratch(), 0);
                if (r != 0) {
                    throw new DumpException("pid " + remote.pid() + " fd " + f.fd() + " (io_uring): it takes calls from one"
                            + " task only (IORING_SETUP_SINGLE_ISSUER), " + (r == -Errno.EEXIST ? "a thread other than the main one"
                            : "and the main thread's probe of it gave " + Errno.describe((int) -r))
                            + "; not supported yet (the restore makes the ring in the main thread)");
                }
            }
        } finally {
            if (inj != null) {
                inj.close();
            }
        }
    }

    /** What io_uring_enter(slot, 0, 0, IORING_ENTER_REGISTERED_RING) returns for every slot (it does nothing). */
    private static long[] slots(RemoteTask remote, Injector inj) {
        List<SyscallBatch.Call> calls = new ArrayList<>();
        for (int slot = 0; slot < IoUring.RING_FD_SLOTS; slot++) {
            calls.add(new SyscallBatch.Call(SyscallNr.IO_URING_ENTER, slot, 0, 0, IoUring.ENTER_REGISTERED_RING, 0, 0));
        }
        long[] r = remote.batch(inj, calls);
        if (r == null) {
            r = new long[IoUring.RING_FD_SLOTS];
            for (int slot = 0; slot < r.length; slot++) {
                r[slot] = inj.raw(SyscallNr.IO_URING_ENTER, slot, 0, 0, IoUring.ENTER_REGISTERED_RING, 0, 0);
            }
        }
        return r;
    }

    /**
     * The fd of the ring in {@code slot}, or -1. A wait for one completion through the slot returns
     * at once when its ring shows one unreaped and times out when it shows none; the CQ head of each
     * candidate in turn is moved to say so for the two waits, then put back (the task is frozen and
     * its rings idle: the kernel reads the head only in such a wait). Another ring in the slot
     * answers both waits alike.
     */
    private static int holder(RemoteTask remote, Injector inj, int slot, Iterable<FdImage> rings) {
        Pid pid = remote.pid();
        long arg = remote.scratch();
        Sys.write(pid, arg, IoUring.waitArg(arg, PROBE_WAIT_NANOS));
        for (FdImage f : rings) {
            IoUringHandler.IoUringRing ring = (IoUringHandler.IoUringRing) f.desc();
            long area = ring.areas().stream().filter(a -> a.offset() == IoUring.OFF_SQ_RING).findFirst().orElseThrow().start();
            IoUring.Layout lay = IoUring.layout(ring.sqEntries(), ring.cqEntries(), 0);
            long headAt = area + lay.cqHead();
            byte[] head = Sys.read(pid, headAt, 4);
            int tail = java.nio.ByteBuffer.wrap(Sys.read(pid, area + lay.cqTail(), 4)).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .getInt();
            try {
                Sys.write(pid, headAt, IoUringDump.le(tail - 1));
                if (waitOne(inj, slot, arg) != 0) {
                    continue;
                }
                Sys.write(pid, headAt, IoUringDump.le(tail));
                if (waitOne(inj, slot, arg) == -Errno.ETIME) {
                    return f.fd();
                }
            } finally {
                Sys.write(pid, headAt, head);
            }
        }
        return -1;
    }

    private static long waitOne(Injector inj, int slot, long arg) {
        return inj.raw(SyscallNr.IO_URING_ENTER, slot, 0, 1,
                IoUring.ENTER_GETEVENTS | IoUring.ENTER_EXT_ARG | IoUring.ENTER_REGISTERED_RING, arg, IoUring.WAIT_ARG_SIZE);
    }

    /** Every ring fd of the task registered again at its slot, by the thread that had it there. */
    public static void restore(TaskContext t) {
        for (FdImage f : t.task().fds()) {
            if (!(f.desc() instanceof IoUringHandler.IoUringRing ring)) {
                continue;
            }
            for (IoUringHandler.Registration g : ring.registrations()) {
                long got = t.injector(g.tid()).call("io_uring_register(fd " + f.fd() + ", IORING_REGISTER_RING_FDS, slot "
                        + g.slot() + ")", SyscallNr.IO_URING_REGISTER, f.fd(), IoUring.REGISTER_RING_FDS,
                        t.put(IoUring.ringFdUpdate(g.slot(), f.fd())), 1);
                if (got != 1) {
                    throw new RestoreException("pid " + t.pid() + " tid " + g.tid() + ": io_uring_register of fd " + f.fd()
                            + " at ring slot " + g.slot() + " registered " + got);
                }
            }
        }
    }
}
