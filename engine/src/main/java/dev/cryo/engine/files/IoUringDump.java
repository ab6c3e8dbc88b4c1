package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.IoUring;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.IoUringInfo;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The dump half of {@link IoUringHandler}: waits until the ring has no request in flight (every
 * request submitted has its completion posted, none armed on a poll, none in the overflow list),
 * or refuses it naming what is left; refuses what restore cannot make again (SQPOLL, registered
 * files, personalities, polled I/O); tells a ring with one issuer; reads the registered buffer table; tells the setup flags that change the
 * ring's layout, which fdinfo does not print, from what fdinfo shows of an SQE and a CQE; and reads
 * the ring's mapped areas.
 */
final class IoUringDump {
    private IoUringDump() {}

    static final String TARGET = "anon_inode:[io_uring]";
    /** The kernel goes on completing requests of a frozen task: the dump waits for them as for an AIO ring. */
    static final long SETTLE_MILLIS = 50, SETTLE_LIMIT_MILLIS = 5000;
    private static final long PROBE_WAIT_NANOS = 1_000_000;
    private static final int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;

    static IoUringHandler.IoUringRing dump(FdProbe fd) {
        Pid pid = fd.pid();
        String where = fd.where() + " (io_uring): ";
        IoUringInfo info = settled(pid, fd.fd(), where);
        List<MapsEntry> all = ProcFs.maps(pid);
        List<IoUringHandler.Buffer> buffers = buffers(info, all, where);
        List<MapsEntry> maps = mappings(all, fd.info().ino());
        MapsEntry rings = area(maps, IoUring.OFF_SQ_RING), sqes = area(maps, IoUring.OFF_SQES);
        if (rings == null || sqes == null) {
            throw new DumpException(where + "its SQ ring and SQEs are not both mapped (a ring in memory of the"
                    + " program's own, IORING_SETUP_NO_MMAP, or unmapped); not supported yet");
        }
        int flags = modes(pid, fd.fd(), info, rings, where) | layoutFlags(pid, fd.fd(), info, rings, sqes, where);
        List<IoUringHandler.Area> areas = new ArrayList<>();
        java.util.Set<Long> dontFork = new java.util.HashSet<>();
        for (dev.cryo.kernel.proc.SmapsEntry s : ProcFs.smaps(pid)) {
            if (s.vmFlags().contains("dc")) {
                dontFork.add(s.map().start());
            }
        }
        for (MapsEntry m : maps) {
            int prot = (m.read() ? PROT_READ : 0) | (m.write() ? PROT_WRITE : 0) | (m.exec() ? PROT_EXEC : 0);
            areas.add(new IoUringHandler.Area(m.start(), m.end(), m.offset(), prot, Sys.read(pid, m.start(), (int) m.size()),
                    dontFork.contains(m.start())));
        }
        Registrations reg = registrations(pid, fd.fd(), info.userFiles(), where);
        return new IoUringHandler.IoUringRing(info.sqEntries(), info.cqEntries(), flags, info.cachedSqHead(),
                info.cachedCqTail(), areas, List.of(), info.userBufs(), buffers, info.userFiles(), reg.eventFd(),
                reg.eventFdAsync(), reg.tunings());
    }

    /** What {@link #registrations} found: the registered eventfd's fd in the task (-1: none), its mode, the settings. */
    private record Registrations(int eventFd, boolean eventFdAsync, IoUring.Tunings tunings) {}

    /**
     * The task's fd of the eventfd registered for the ring's completions (RingRegistrations: no file shows it; a ring made
     * again without it left the program waiting on an eventfd nothing signalled), -1 for none, and whether it was
     * registered _ASYNC; and the ring's settings ({@link IoUring.Tunings}: none shows in full anywhere else). An eventfd
     * the task holds at no fd (closed after registering) cannot be registered again: refused; so is a ring where the
     * iterator cannot run (whether it has one cannot be seen), and NAPI ids listed by hand (static tracking).
     */
    private static Registrations registrations(Pid pid, int fd, int fileSlots, String where) {
        dev.cryo.kernel.RingRegistrations.Of of;
        try {
            of = dev.cryo.kernel.RingRegistrations.of(dev.cryo.kernel.ExitedLeaders.reader(pid.value()));
        } catch (RuntimeException e) {
            throw new DumpException(where + "whether an eventfd is registered for its completions cannot be read"
                    + " (cryo's BPF iterator: " + e.getMessage() + "); not supported", e);
        }
        dev.cryo.kernel.RingRegistrations.Registered r = of.rings().get(fd);
        if (r == null) {
            return new Registrations(-1, false, IoUring.Tunings.initial(fileSlots));
        }
        if (r.bufferGroups()) { // a read with IOSQE_BUFFER_SELECT failed with ENOBUFS after the restore
            throw new DumpException(where + "provided buffer groups (a buffer ring, IORING_REGISTER_PBUF_RING, or"
                    + " IORING_OP_PROVIDE_BUFFERS), which no file shows and a ring made again would not have; not supported yet");
        }
        if (r.restricted()) {
            throw new DumpException(where + "restrictions (IORING_REGISTER_RESTRICTIONS), which no file shows: a ring made"
                    + " again would allow what they forbid; not supported yet");
        }
        if (r.tunings().napiTrackMode() == IoUring.NAPI_TRACKING_STATIC && r.tunings().napiIds()) {
            throw new DumpException(where + "NAPI ids added by hand for its busy polling (IORING_REGISTER_NAPI with static"
                    + " tracking, IO_URING_NAPI_STATIC_ADD_ID), which cannot be read back; not supported");
        }
        if (r.eventfd() == 0) {
            return new Registrations(-1, false, r.tunings());
        }
        Integer at = of.eventfds().get(r.eventfd());
        if (at == null) {
            throw new DumpException(where + "the eventfd registered for its completions (IORING_REGISTER_EVENTFD) is"
                    + " open at no fd of the task (closed after registering): it could not be registered again; not supported");
        }
        return new Registrations(at, r.async(), r.tunings());
    }

    /** The ring's fdinfo once nothing is in flight, within {@link #SETTLE_LIMIT_MILLIS}. */
    private static IoUringInfo settled(Pid pid, int fd, String where) {
        IoUringInfo info = IoUringInfo.read(pid, fd);
        if (info.sqThread() != -1) {
            throw new DumpException(where + "a kernel thread polls its SQ ring (IORING_SETUP_SQPOLL, thread "
                    + info.sqThread() + "); not supported yet");
        }
        if (!info.files().isEmpty()) {
            throw new DumpException(where + "registered file(s) (IORING_REGISTER_FILES) " + info.files().stream()
                    .map(f -> "slot " + f.index() + " " + f.name()).collect(java.util.stream.Collectors.joining(", "))
                    + ": fdinfo names a registered file by its path only, which tells neither which open file it is"
                    + " (offset, flags) nor which end of a pipe; not supported (an empty table is)");
        }
        if (info.personalities()) {
            throw new DumpException(where + "registered personalities (IORING_REGISTER_PERSONALITY); not supported yet");
        }

        long limit = System.nanoTime() + SETTLE_LIMIT_MILLIS * 1_000_000;
        while (true) {
            String busy = busy(info);
            if (busy == null) {
                return info;
            }
            if (System.nanoTime() - limit > 0) {
                throw new DumpException(where + busy + " after " + SETTLE_LIMIT_MILLIS / 1000
                        + " s; requests in flight cannot be carried");
            }
            try {
                Thread.sleep(SETTLE_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DumpException(where + "interrupted while waiting for its requests in flight");
            }
            info = IoUringInfo.read(pid, fd);
        }
    }

    /** What keeps the ring from being idle, or null. */
    static String busy(IoUringInfo info) {
        if (info.polls() > 0) {
            return info.polls() + " request(s) armed on a poll (waiting for a file to be ready)";
        }
        if (info.overflowed() > 0) {
            return info.overflowed() + " completion(s) in the kernel's overflow list (the CQ ring was full)";
        }
        if (info.sqHead() != info.cachedSqHead()) {
            return "a submission under way";
        }
        int open = info.cachedSqHead() - info.cachedCqTail();
        if (open > 0) {
            return open + " request(s) submitted have no completion yet (in flight, or completed without one:"
                    + " IOSQE_CQE_SKIP_SUCCESS)";
        }
        if (open < 0) {
            return -open + " more completion(s) than requests (multishot requests, zero-copy sends): requests"
                    + " still armed cannot be told apart";
        }
        return null;
    }

    /**
     * The registered buffers, each of which must lie in writable memory of the task (the kernel pins
     * its pages for writing): the restore registers the same ranges again once memory is back.
     */
    static List<IoUringHandler.Buffer> buffers(IoUringInfo info, List<MapsEntry> maps, String where) {
        List<IoUringHandler.Buffer> out = new ArrayList<>();
        for (IoUringInfo.RegisteredBuffer b : info.buffers()) {
            String what = where + "registered buffer " + b.index() + " (0x" + Long.toHexString(b.address()) + ", " + b.length()
                    + " bytes, IORING_REGISTER_BUFFERS) ";
            if (b.address() == 0) {
                throw new DumpException(what + "is a kernel buffer (ublk), not the task's memory; not supported");
            }
            long at = b.address(), end = b.address() + b.length();
            for (MapsEntry m : maps) {
                if (m.end() <= at || m.start() > at) {
                    continue;
                }
                if (!m.write()) {
                    throw new DumpException(what + "lies in memory no longer writable (" + m.perms() + " at 0x"
                            + Long.toHexString(m.start()) + "): it could not be registered again; not supported");
                }
                at = m.end();
                if (at >= end) {
                    break;
                }
            }
            if (at < end) {
                throw new DumpException(what + "is no longer mapped at 0x" + Long.toHexString(at) + " (its pages are the"
                        + " kernel's alone now); not supported");
            }
            out.add(new IoUringHandler.Buffer(b.index(), b.address(), b.length()));
        }
        return out;
    }

    /** This ring's mappings in the task, by the ring's own inode. */
    private static List<MapsEntry> mappings(List<MapsEntry> all, long ino) {
        List<MapsEntry> out = new ArrayList<>();
        for (MapsEntry m : all) {
            if (m.path().equals(TARGET) && m.inode() == ino) {
                out.add(m);
            }
        }
        return out;
    }

    private static MapsEntry area(List<MapsEntry> maps, long offset) {
        return maps.stream().filter(m -> m.offset() == offset).findFirst().orElse(null);
    }

    /**
     * The ring's one-issuer modes (IORING_SETUP_SINGLE_ISSUER, DEFER_TASKRUN: carried, the restore
     * makes the ring in the issuer, {@link IoUringRingFds#checkIssuers}), and modes restore could
     * not give the new ring, refused; told by calls on a copy of the ring that change nothing: the
     * register call is refused to any task but the one issuer, only that issuer may wait on a
     * DEFER_TASKRUN ring, a wait with nothing to reap returns at once with polled I/O, and a
     * disabled ring refuses waits.
     */
    private static int modes(Pid pid, int fd, IoUringInfo info, MapsEntry rings, String where) {
        IoUring.Layout base = IoUring.layout(info.sqEntries(), info.cqEntries(), 0);
        try (Fd pidfd = Sys.pidfdOpen(pid); Fd copy = Sys.pidfdGetfd(pidfd, pid, fd)) {
            int modes = IoUring.probe(copy) == -Errno.EEXIST ? IoUring.SETUP_SINGLE_ISSUER : 0;
            long head = rings.start() + base.cqHead();
            byte[] saved = Sys.read(pid, head, 4);
            int r;
            try {
                Sys.write(pid, head, le(info.cqTail())); // nothing to reap for that instant
                r = IoUring.waitEvents(copy, 1, PROBE_WAIT_NANOS);
            } finally {
                Sys.write(pid, head, saved);
            }
            if (r == -Errno.ETIME) {
                return modes;
            }
            if (r == -Errno.EEXIST && modes != 0) {
                return modes | IoUring.SETUP_DEFER_TASKRUN;
            }
            String why = r >= 0 ? "its I/O is polled (IORING_SETUP_IOPOLL)"
                    : r == -Errno.EBADFD ? "it is disabled (IORING_SETUP_R_DISABLED)"
                    : "a wait on it gave " + Errno.describe(-r);
            throw new DumpException(where + why + "; not supported yet");
        }
    }

    /**
     * IORING_SETUP_CQE32, SQE128 and NO_SQARRAY change where things sit in the ring. fdinfo prints the
     * CQEs and SQEs between head and tail, with their extra words when they are big, and no SQE
     * without an SQ array: the tails are moved one past the heads for the instant of one read of
     * fdinfo (the task is frozen and nothing is in flight, so the kernel reads neither meanwhile).
     */
    private static int layoutFlags(Pid pid, int fd, IoUringInfo info, MapsEntry rings, MapsEntry sqes, String where) {
        IoUring.Layout base = IoUring.layout(info.sqEntries(), info.cqEntries(), 0);
        List<String> cqeLines = info.cqes();
        if (cqeLines.isEmpty()) {
            cqeLines = withTail(pid, fd, rings.start() + base.cqTail(), info.cqHead() + 1, null, 0).cqes();
        }
        boolean cqe32 = !cqeLines.isEmpty() && IoUringInfo.bigCqe(cqeLines.get(0));
        IoUring.Layout lay = IoUring.layout(info.sqEntries(), info.cqEntries(), cqe32 ? IoUring.SETUP_CQE32 : 0);
        List<String> sqeLines = info.sqes();
        if (sqeLines.isEmpty()) {
            long slot = rings.start() + lay.sqArray() + 4L * (info.sqHead() & (info.sqEntries() - 1));
            sqeLines = withTail(pid, fd, rings.start() + base.sqTail(), info.sqHead() + 1,
                    slot + 4 <= rings.end() ? slot : null, 0).sqes();
        }
        int flags = cqe32 ? IoUring.SETUP_CQE32 : 0;
        if (!sqeLines.isEmpty()) {
            return flags | (IoUringInfo.bigSqe(sqeLines.get(0)) ? IoUring.SETUP_SQE128 : 0);
        }
        // no SQ array: fdinfo shows no SQE; the SQE area's size tells their size when it is not one page either way
        long small = pages(info.sqEntries() * (long) IoUring.SQE_SIZE), big = pages(2L * info.sqEntries() * IoUring.SQE_SIZE);
        long size = sqes.end() - sqes.start();
        if (small == big || (size != small && size != big)) {
            throw new DumpException(where + "a ring without an SQ array (IORING_SETUP_NO_SQARRAY) whose SQE size"
                    + " cannot be told from its " + size + "-byte SQE area; not supported yet");
        }
        return flags | IoUring.SETUP_NO_SQARRAY | (size == big ? IoUring.SETUP_SQE128 : 0);
    }

    private static long pages(long bytes) {
        return (bytes + MapsEntry.PAGE_SIZE - 1) / MapsEntry.PAGE_SIZE * MapsEntry.PAGE_SIZE;
    }

    /** fdinfo read while the tail at {@code tailAt} is {@code tail} (and the SQ array slot at {@code slot}, if any, is 0). */
    private static IoUringInfo withTail(Pid pid, int fd, long tailAt, int tail, Long slot, int index) {
        byte[] savedTail = Sys.read(pid, tailAt, 4);
        byte[] savedSlot = slot == null ? null : Sys.read(pid, slot, 4);
        try {
            if (slot != null) {
                Sys.write(pid, slot, le(index));
            }
            Sys.write(pid, tailAt, le(tail));
            return IoUringInfo.read(pid, fd);
        } finally {
            Sys.write(pid, tailAt, savedTail);
            if (slot != null) {
                Sys.write(pid, slot, savedSlot);
            }
        }
    }

    static byte[] le(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }
}
