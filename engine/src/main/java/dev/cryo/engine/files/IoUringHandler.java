package dev.cryo.engine.files;

import com.esotericsoftware.kryo.KryoException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelFields;
import dev.cryo.kernel.IoUring;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An io_uring with no request in flight (liburing's rings of mpd and MariaDB while they wait). The
 * ring's areas as the task mapped them, with their bytes (unsubmitted SQEs, unreaped CQEs, the SQ
 * array, the counters user space owns) are carried, with the two counters only the kernel moves:
 * the SQ head and the CQ tail. The program keeps its own copy of the SQ tail (liburing's
 * {@code sqe_tail}), so a new ring at 0 would not do: restore makes a ring of the same sizes and
 * layout flags in the task, maps it where the old one was, and brings the kernel's counters to the
 * dumped ones with NOPs submitted and reaped ({@link IoUringRestore}). What the dump cannot see or
 * carry is refused ({@link IoUringDump}).
 */
public final class IoUringHandler implements FdHandler<IoUringHandler.IoUringRing> {
    public static final int TAG = 470, RECORD_ID = 1260;
    /** A ring's largest area: 32768 SQEs of 128 bytes. */
    static final int AREA_LIMIT = 8 << 20, AREAS = 8;
    /** Registrations of one ring: a slot per thread at most, and a task has far fewer threads than this. */
    static final int REGISTRATIONS = 1 << 16;
    /** The kernel's largest registered buffer and file tables (IORING_MAX_REG_BUFFERS, IORING_MAX_FIXED_FILES). */
    static final int BUFFER_SLOTS = 1 << 14, FILE_SLOTS = 1 << 20;

    /**
     * A ring: its sizes, the setup flags that change its layout (IORING_SETUP_SQE128, CQE32,
     * NO_SQARRAY) or say who may use it (SINGLE_ISSUER, DEFER_TASKRUN: the main thread), the kernel's SQ head and CQ tail, its mapped areas, the slots threads of the
     * task registered it at (IORING_REGISTER_RING_FDS, {@link IoUringRingFds}), its registered
     * buffer table ({@code bufferSlots} slots, the filled ones in {@code buffers}) and the size of
     * its registered file table, which is carried only when no slot holds a file. {@code eventFd} (version 5): the
     * task's fd of the eventfd registered for its completions (IORING_REGISTER_EVENTFD; -1: none), {@code
     * eventFdAsync} whether it was IORING_REGISTER_EVENTFD_ASYNC; registered again once every fd is in place.
     * {@code tunings} (version 6): its io-wq worker limits, file slot allocation range, clock and NAPI busy polling.
     */
    public record IoUringRing(int sqEntries, int cqEntries, int flags, int sqHead, int cqTail, List<Area> areas,
                              List<Registration> registrations, int bufferSlots, List<Buffer> buffers,
                              int fileSlots, int eventFd, boolean eventFdAsync, IoUring.Tunings tunings) implements FileDesc {
        public IoUringRing {
            areas = List.copyOf(areas);
            registrations = List.copyOf(registrations);
            buffers = List.copyOf(buffers);
        }

        public IoUringRing(int sqEntries, int cqEntries, int flags, int sqHead, int cqTail, List<Area> areas,
                           List<Registration> registrations, int bufferSlots, List<Buffer> buffers, int fileSlots) {
            this(sqEntries, cqEntries, flags, sqHead, cqTail, areas, registrations, bufferSlots, buffers, fileSlots, -1, false,
                    IoUring.Tunings.initial(fileSlots));
        }

        public IoUringRing(int sqEntries, int cqEntries, int flags, int sqHead, int cqTail, List<Area> areas,
                           List<Registration> registrations) {
            this(sqEntries, cqEntries, flags, sqHead, cqTail, areas, registrations, 0, List.of(), 0);
        }

        public IoUringRing(int sqEntries, int cqEntries, int flags, int sqHead, int cqTail, List<Area> areas) {
            this(sqEntries, cqEntries, flags, sqHead, cqTail, areas, List.of());
        }

        public IoUringRing withRegistrations(List<Registration> registrations) {
            return new IoUringRing(sqEntries, cqEntries, flags, sqHead, cqTail, areas, registrations, bufferSlots, buffers,
                    fileSlots, eventFd, eventFdAsync, tunings);
        }
    }

    /**
     * A filled slot of the registered buffer table (IORING_REGISTER_BUFFERS): the task's memory at
     * {@code address}, {@code length} bytes, which READ_FIXED/WRITE_FIXED by {@code index} reach.
     */
    public record Buffer(int index, long address, long length) {}

    /** Thread {@code tid} registered the ring at its slot {@code slot} (0 to IoUring.RING_FD_SLOTS - 1). */
    public record Registration(int tid, int slot) {}

    /**
     * One mapping of the ring: where, which of its areas ({@code offset}: IORING_OFF_*), protection,
     * bytes, and whether it was kept out of children (MADV_DONTFORK: liburing's io_uring_ring_dontfork, MariaDB).
     */
    public record Area(long start, long end, long offset, int prot, byte[] bytes, boolean dontFork) {}

    static final RecordCodec<IoUringRing> CODEC = RecordCodec.of(IoUringRing.class, RECORD_ID, 6, (out, r) -> {
        out.writeInt(r.sqEntries());
        out.writeInt(r.cqEntries());
        out.writeInt(r.flags());
        out.writeInt(r.sqHead());
        out.writeInt(r.cqTail());
        if (r.areas().size() > AREAS) {
            throw new IllegalArgumentException("IoUringRing.areas has " + r.areas().size() + " entries, more than " + AREAS);
        }
        out.writeVarInt(r.areas().size(), true);
        for (Area a : r.areas()) {
            out.writeLong(a.start());
            out.writeLong(a.end());
            out.writeLong(a.offset());
            out.writeInt(a.prot());
            ModelFields.writeBytes(out, a.bytes(), AREA_LIMIT, "IoUringRing.Area.bytes");
            out.writeBoolean(a.dontFork()); // v2
        }
        if (r.registrations().size() > REGISTRATIONS) {
            throw new IllegalArgumentException("IoUringRing.registrations has " + r.registrations().size()
                    + " entries, more than " + REGISTRATIONS);
        }
        out.writeVarInt(r.registrations().size(), true); // v3
        for (Registration g : r.registrations()) {
            out.writeInt(g.tid());
            out.writeVarInt(g.slot(), true);
        }
        if (r.bufferSlots() > BUFFER_SLOTS || r.buffers().size() > r.bufferSlots() || r.fileSlots() > FILE_SLOTS) {
            throw new IllegalArgumentException("IoUringRing: " + r.buffers().size() + " buffers in " + r.bufferSlots()
                    + " slots, " + r.fileSlots() + " file slots: beyond the kernel's limits");
        }
        out.writeVarInt(r.bufferSlots(), true); // v4
        out.writeVarInt(r.buffers().size(), true);
        for (Buffer b : r.buffers()) {
            out.writeVarInt(b.index(), true);
            out.writeLong(b.address());
            out.writeLong(b.length());
        }
        out.writeVarInt(r.fileSlots(), true);
        out.writeVarInt(r.eventFd() + 1, true); // v5
        out.writeBoolean(r.eventFdAsync());
        IoUring.Tunings t = r.tunings(); // v6
        out.writeVarInt(t.iowqBounded(), true);
        out.writeVarInt(t.iowqUnbounded(), true);
        out.writeVarInt(t.fileAllocStart(), true);
        out.writeVarInt(t.fileAllocEnd(), true);
        out.writeVarInt(t.clockId(), true);
        out.writeVarLong(t.napiBusyPollNs(), true);
        out.writeBoolean(t.napiPreferBusyPoll());
        out.writeVarInt(t.napiTrackMode(), true);
    }, (in, version) -> {
        int sq = in.readInt(), cq = in.readInt(), flags = in.readInt(), sqHead = in.readInt(), cqTail = in.readInt();
        int n = in.readVarInt(true);
        if (n < 0 || n > AREAS) {
            throw new KryoException("IoUringRing.areas: list length " + n + " exceeds the limit of " + AREAS);
        }
        List<Area> areas = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            areas.add(new Area(in.readLong(), in.readLong(), in.readLong(), in.readInt(),
                    ModelFields.readBytes(in, AREA_LIMIT, "IoUringRing.Area.bytes"), version >= 2 && in.readBoolean()));
        }
        List<Registration> registrations = new ArrayList<>();
        int r = version >= 3 ? in.readVarInt(true) : 0;
        if (r < 0 || r > REGISTRATIONS) {
            throw new KryoException("IoUringRing.registrations: list length " + r + " exceeds the limit of " + REGISTRATIONS);
        }
        for (int i = 0; i < r; i++) {
            registrations.add(new Registration(in.readInt(), in.readVarInt(true)));
        }
        if (version < 4) {
            return new IoUringRing(sq, cq, flags, sqHead, cqTail, areas, registrations);
        }
        int bufferSlots = in.readVarInt(true), b = in.readVarInt(true);
        if (bufferSlots < 0 || bufferSlots > BUFFER_SLOTS || b < 0 || b > bufferSlots) {
            throw new KryoException("IoUringRing.buffers: " + b + " in " + bufferSlots + " slots exceeds the limit of "
                    + BUFFER_SLOTS);
        }
        List<Buffer> buffers = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            buffers.add(new Buffer(in.readVarInt(true), in.readLong(), in.readLong()));
        }
        int fileSlots = in.readVarInt(true);
        if (fileSlots < 0 || fileSlots > FILE_SLOTS) {
            throw new KryoException("IoUringRing.fileSlots: " + fileSlots + " exceeds the limit of " + FILE_SLOTS);
        }
        int eventFd = version >= 5 ? in.readVarInt(true) - 1 : -1;
        boolean async = version >= 5 && in.readBoolean();
        return new IoUringRing(sq, cq, flags, sqHead, cqTail, areas, registrations, bufferSlots, buffers, fileSlots,
                eventFd, async, version >= 6 ? readTunings(in, fileSlots) : IoUring.Tunings.initial(fileSlots));
    });

    /** The settings as the image has them, each within what the kernel takes (a forged one is refused here). */
    private static IoUring.Tunings readTunings(com.esotericsoftware.kryo.io.Input in, int fileSlots) {
        int bounded = in.readVarInt(true), unbounded = in.readVarInt(true);
        int start = in.readVarInt(true), end = in.readVarInt(true), clock = in.readVarInt(true);
        long pollNs = in.readVarLong(true);
        boolean prefer = in.readBoolean();
        int track = in.readVarInt(true);
        if (start < 0 || end < start || end > fileSlots) {
            throw new KryoException("IoUringRing.tunings: file allocation range " + start + "-" + end + " outside its table of "
                    + fileSlots + " slots");
        }
        if (clock != IoUring.CLOCK_MONOTONIC && clock != IoUring.CLOCK_BOOTTIME) {
            throw new KryoException("IoUringRing.tunings: clock " + clock + " is neither CLOCK_MONOTONIC nor CLOCK_BOOTTIME");
        }
        if (track != IoUring.NAPI_TRACKING_DYNAMIC && track != IoUring.NAPI_TRACKING_STATIC
                && track != IoUring.NAPI_TRACKING_INACTIVE || pollNs < 0 || pollNs / 1000 > 0xffffffffL) {
            throw new KryoException("IoUringRing.tunings: NAPI tracking " + track + " with busy polling of " + pollNs + " ns");
        }
        return new IoUring.Tunings(bounded, unbounded, start, end, clock, pollNs, prefer, track, false);
    }

    @Override
    public String kind() {
        return "io_uring";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<IoUringRing> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals(IoUringDump.TARGET);
    }

    @Override
    public IoUringRing dump(FdProbe fd, DumpContext ctx) {
        return IoUringDump.dump(fd);
    }

    @Override
    public long restore(FdImage fd, IoUringRing ring, RestoreContext ctx) {
        return IoUringRestore.restore(ring, ctx);
    }

    @Override
    public void show(IoUringRing r, Map<String, Object> m) {
        m.put("kind", "io_uring");
        m.put("sqEntries", r.sqEntries());
        m.put("cqEntries", r.cqEntries());
        List<String> flags = new ArrayList<>();
        if ((r.flags() & IoUring.SETUP_SQE128) != 0) {
            flags.add("SQE128");
        }
        if ((r.flags() & IoUring.SETUP_CQE32) != 0) {
            flags.add("CQE32");
        }
        if ((r.flags() & IoUring.SETUP_NO_SQARRAY) != 0) {
            flags.add("NO_SQARRAY");
        }
        if ((r.flags() & IoUring.SETUP_SINGLE_ISSUER) != 0) {
            flags.add("SINGLE_ISSUER");
        }
        if ((r.flags() & IoUring.SETUP_DEFER_TASKRUN) != 0) {
            flags.add("DEFER_TASKRUN");
        }
        m.put("setupFlags", flags);
        m.put("sqHead", Integer.toUnsignedString(r.sqHead()));
        m.put("cqTail", Integer.toUnsignedString(r.cqTail()));
        List<String> areas = new ArrayList<>();
        for (Area a : r.areas()) {
            areas.add("0x" + Long.toHexString(a.start()) + "-0x" + Long.toHexString(a.end()) + " "
                    + (a.offset() == IoUring.OFF_SQES ? "SQEs" : a.offset() == IoUring.OFF_CQ_RING ? "CQ ring" : "rings"));
        }
        m.put("areas", areas);
        if (!r.registrations().isEmpty()) {
            m.put("registeredRingFds", r.registrations().stream().map(g -> "tid " + g.tid() + " slot " + g.slot()).toList());
        }
        if (r.bufferSlots() > 0) {
            m.put("registeredBufferSlots", r.bufferSlots());
            m.put("registeredBuffers", r.buffers().stream().map(b -> b.index() + ": 0x" + Long.toHexString(b.address()) + "/"
                    + b.length()).toList());
        }
        if (r.fileSlots() > 0) {
            m.put("registeredFileSlots", r.fileSlots() + " (empty)");
        }
        if (r.eventFd() >= 0) {
            m.put("registeredEventFd", "fd " + r.eventFd() + (r.eventFdAsync() ? " (async)" : ""));
        }
        IoUring.Tunings t = r.tunings();
        if (t.iowqBounded() != 0 || t.iowqUnbounded() != 0) {
            m.put("iowqMaxWorkers", "bounded " + Integer.toUnsignedString(t.iowqBounded()) + ", unbounded "
                    + Integer.toUnsignedString(t.iowqUnbounded()));
        }
        if (t.fileAllocStart() != 0 || t.fileAllocEnd() != r.fileSlots()) {
            m.put("fileAllocRange", t.fileAllocStart() + "-" + t.fileAllocEnd());
        }
        if (t.clockId() != IoUring.CLOCK_MONOTONIC) {
            m.put("clock", t.clockId() == IoUring.CLOCK_BOOTTIME ? "BOOTTIME" : String.valueOf(t.clockId()));
        }
        if (t.napi()) {
            m.put("napi", (t.napiTrackMode() == IoUring.NAPI_TRACKING_STATIC ? "static" : "dynamic") + " tracking, busy poll "
                    + t.napiBusyPollNs() / 1000 + " us" + (t.napiPreferBusyPoll() ? ", prefer busy poll" : ""));
        }
    }
}
