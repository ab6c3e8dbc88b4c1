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

    /**
     * A ring: its sizes, the setup flags that change its layout (IORING_SETUP_SQE128, CQE32,
     * NO_SQARRAY), the kernel's SQ head and CQ tail, and its mapped areas.
     */
    public record IoUringRing(int sqEntries, int cqEntries, int flags, int sqHead, int cqTail, List<Area> areas)
            implements FileDesc {
        public IoUringRing {
            areas = List.copyOf(areas);
        }
    }

    /**
     * One mapping of the ring: where, which of its areas ({@code offset}: IORING_OFF_*), protection,
     * bytes, and whether it was kept out of children (MADV_DONTFORK: liburing's io_uring_ring_dontfork, MariaDB).
     */
    public record Area(long start, long end, long offset, int prot, byte[] bytes, boolean dontFork) {}

    static final RecordCodec<IoUringRing> CODEC = RecordCodec.of(IoUringRing.class, RECORD_ID, 2, (out, r) -> {
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
        return new IoUringRing(sq, cq, flags, sqHead, cqTail, areas);
    });

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
        m.put("setupFlags", flags);
        m.put("sqHead", Integer.toUnsignedString(r.sqHead()));
        m.put("cqTail", Integer.toUnsignedString(r.cqTail()));
        List<String> areas = new ArrayList<>();
        for (Area a : r.areas()) {
            areas.add("0x" + Long.toHexString(a.start()) + "-0x" + Long.toHexString(a.end()) + " "
                    + (a.offset() == IoUring.OFF_SQES ? "SQEs" : a.offset() == IoUring.OFF_CQ_RING ? "CQ ring" : "rings"));
        }
        m.put("areas", areas);
    }
}
