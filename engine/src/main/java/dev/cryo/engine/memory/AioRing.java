package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

/**
 * The ring of an AIO context (io_setup), mapped as "/[aio]"; the context id a program holds is
 * the ring's address. Like CRIU, restore makes a new context with io_setup of the number of
 * events that gives a ring of the dumped size, and moves the ring to the dumped address with
 * mremap (the kernel moves the context id with it). Its pages are the kernel's: none are carried,
 * so a ring holding completed events not yet reaped is refused. A request still in flight cannot
 * be seen from outside the task (nor by CRIU); its completion would be lost.
 */
public final class AioRing extends MemoryKind {
    /** struct aio_ring: id, nr, head, tail, magic, compat_features, incompat_features, header_length. */
    private static final int HEADER = 32, EVENT = 32, MAGIC = 0xa10a10a1;
    private static final int MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2, PROT_NONE = 0, MAP_PRIVATE = 2;

    AioRing(int id) {
        super(id, "AIO_RING");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.path().equals("/[aio]");
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        ByteBuffer h = ByteBuffer.wrap(Sys.read(pid, m.start(), HEADER)).order(ByteOrder.LITTLE_ENDIAN);
        int nr = h.getInt(4), head = h.getInt(8), tail = h.getInt(12), magic = h.getInt(16), headerLength = h.getInt(28);
        String where = "pid " + pid + " maps the AIO ring at 0x" + Long.toHexString(m.start()) + "-0x"
                + Long.toHexString(m.end()) + ": ";
        if (magic != MAGIC || headerLength != HEADER || nr != slots(m.end() - m.start())) {
            throw new DumpException(where + "its header is not a ring this cryo knows (magic 0x"
                    + Integer.toHexString(magic) + ", " + nr + " slots, header " + headerLength + " bytes)");
        }
        if (head != tail) {
            int events = Integer.remainderUnsigned(tail - head + nr, nr);
            throw new DumpException(where + "it holds " + events + " completed event(s) not yet reaped, which a new "
                    + "ring cannot be given again; let the program reap them and dump again");
        }
    }

    /** The slots of a ring of this many bytes (the kernel rounds the ring up to whole pages). */
    static int slots(long length) {
        return (int) ((length - HEADER) / EVENT);
    }

    /**
     * The nr_events for io_setup that gives a ring of {@code length} bytes: the kernel makes
     * max(nr, 4 * cpus) * 2 + 2 slots and rounds up to pages (CRIU's estimate).
     */
    static int nrEvents(long length) {
        return (slots(length) - 2) / 2;
    }

    @Override
    public boolean takesPages() {
        return false;
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        long len = v.end() - v.start();
        // hold the dumped place so io_setup cannot put the new ring across it
        t.call("mmap(placeholder for the AIO ring at 0x" + Long.toHexString(v.start()) + ")", SyscallNr.MMAP, v.start(),
                len, PROT_NONE, MAP_PRIVATE | Mapper.MAP_ANONYMOUS | Mapper.MAP_FIXED, -1, 0);
        long ctxp = t.put(new byte[8]);
        int nr = nrEvents(len);
        t.call("io_setup(" + nr + ")", SyscallNr.IO_SETUP, nr, ctxp);
        long ctx = ByteBuffer.wrap(Sys.read(t.pid(), ctxp, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long made = ringLength(t, ctx);
        if (made != len) {
            t.call("io_destroy", SyscallNr.IO_DESTROY, ctx);
            throw new RestoreException("pid " + t.pid() + ": io_setup(" + nr + ") made an AIO ring of " + made
                    + " bytes, the dumped one at 0x" + Long.toHexString(v.start()) + " had " + len
                    + " (the kernel sizes rings by the number of CPUs: another host?)");
        }
        t.call("mremap(AIO ring 0x" + Long.toHexString(ctx) + " to 0x" + Long.toHexString(v.start()) + ")",
                SyscallNr.MREMAP, ctx, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, v.start());
    }

    private static long ringLength(TaskContext t, long ctx) {
        for (MapsEntry m : dev.cryo.kernel.proc.ProcFs.maps(t.pid())) {
            if (m.start() == ctx) {
                return m.end() - m.start();
            }
        }
        throw new RestoreException("pid " + t.pid() + ": io_setup gave context 0x" + Long.toHexString(ctx)
                + " but no ring is mapped there");
    }

    @Override
    public void protect(TaskContext t, VmaImage v) {}

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("aioContext", "0x" + Long.toHexString(v.start()));
        out.put("nrEvents", nrEvents(v.end() - v.start()));
    }
}
