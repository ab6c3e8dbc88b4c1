package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Map;

/**
 * The ring of an AIO context (io_setup), mapped as "/[aio]"; the context id a program holds is
 * the ring's address. The ring's pages (header and events) go into the image. Like CRIU, restore
 * makes a new context with io_setup of the number of events that gives a ring of the dumped size
 * and moves it to the dumped address with mremap (the kernel moves the context id with it). Once
 * the dumped pages are in, the kernel's own tail (which user space cannot write) is moved to the
 * dumped one by requests that complete at once (writes to /dev/null), the dumped events are put
 * back over theirs and the head is set, so the program reaps the very events it had not reaped.
 * Requests in flight at the freeze cannot be seen from outside the task (nor by CRIU): the dump
 * waits until the ring's tail has stood still for {@link #SETTLE_MILLIS}, so that those which
 * complete meanwhile are carried as completed.
 */
public final class AioRing extends MemoryKind {
    /** struct aio_ring: id, nr, head, tail, magic, compat_features, incompat_features, header_length. */
    private static final int HEADER = 32, EVENT = 32, MAGIC = 0xa10a10a1;
    private static final int ID = 0, NR = 4, HEAD = 8, TAIL = 12;
    private static final int MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2, PROT_NONE = 0, MAP_PRIVATE = 2;
    /** struct iocb is 64 bytes: opcode at 16, fd at 20, buffer at 24, length at 32. */
    private static final int IOCB = 64, IOCB_CMD_PWRITE = 1, SUBMIT_BATCH = 256;
    static final long SETTLE_MILLIS = 50, SETTLE_LIMIT_MILLIS = 5000;

    AioRing(int id) {
        super(id, "AIO_RING");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.path().equals("/[aio]");
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        String where = "pid " + pid + " maps the AIO ring at 0x" + Long.toHexString(m.start()) + "-0x"
                + Long.toHexString(m.end()) + ": ";
        ByteBuffer h = settled(pid, m, where);
        int nr = h.getInt(NR), head = h.getInt(HEAD), tail = h.getInt(TAIL), magic = h.getInt(16);
        int headerLength = h.getInt(28);
        if (magic != MAGIC || headerLength != HEADER || nr != slots(m.end() - m.start())
                || Integer.compareUnsigned(head, nr) >= 0 || Integer.compareUnsigned(tail, nr) >= 0) {
            throw new DumpException(where + "its header is not a ring this cryo knows (magic 0x"
                    + Integer.toHexString(magic) + ", " + nr + " slots, header " + headerLength + " bytes, head "
                    + Integer.toUnsignedString(head) + ", tail " + Integer.toUnsignedString(tail) + ")");
        }
    }

    /**
     * The ring's header once its tail has not moved for {@link #SETTLE_MILLIS}: the kernel goes on
     * completing requests of a frozen task, and a completion that came after the pages were read
     * would be lost with the task.
     */
    private static ByteBuffer settled(Pid pid, MapsEntry m, String where) {
        long limit = System.nanoTime() + SETTLE_LIMIT_MILLIS * 1_000_000;
        ByteBuffer h = header(Sys.read(pid, m.start(), HEADER));
        while (true) {
            try {
                Thread.sleep(SETTLE_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DumpException(where + "interrupted while waiting for its requests in flight");
            }
            ByteBuffer again = header(Sys.read(pid, m.start(), HEADER));
            if (again.getInt(TAIL) == h.getInt(TAIL)) {
                return again;
            }
            if (System.nanoTime() - limit > 0) {
                throw new DumpException(where + "requests still complete after " + SETTLE_LIMIT_MILLIS / 1000
                        + " s; requests in flight cannot be carried");
            }
            h = again;
        }
    }

    private static ByteBuffer header(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
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

    /** The kernel writes the ring through its own mapping: the task's page table may lack any of its pages. */
    @Override
    public void planPages(PageScan scan) {
        scan.wholeArea();
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
        long ctx = header(Sys.read(t.pid(), ctxp, 8)).getLong();
        long made = ringLength(t, ctx);
        if (made != len) {
            t.call("io_destroy", SyscallNr.IO_DESTROY, ctx);
            throw new RestoreException("pid " + t.pid() + ": io_setup(" + nr + ") made an AIO ring of " + made
                    + " bytes, the dumped one at 0x" + Long.toHexString(v.start()) + " had " + len
                    + " (the kernel sizes rings by the number of CPUs: another host?)");
        }
        t.call("mremap(AIO ring 0x" + Long.toHexString(ctx) + " to 0x" + Long.toHexString(v.start()) + ")",
                SyscallNr.MREMAP, ctx, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, v.start());
        // the new ring's header (its id is the kernel's index of the context): the dumped pages overwrite it
        t.noteArea(v.start(), Sys.read(t.pid(), v.start(), HEADER));
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

    /** Once the dumped pages are in: the kernel's tail moved to the dumped one, then the dumped events and head. */
    @Override
    public void protect(TaskContext t, VmaImage v) {
        byte[] fresh = t.areaNote(v.start());
        if (fresh == null) {
            return;
        }
        t.flush();
        Pid pid = t.pid();
        int len = (int) (v.end() - v.start());
        byte[] dumped = Sys.read(pid, v.start(), len); // an image before rings carried pages: the fresh ring
        ByteBuffer d = header(dumped);
        int nr = header(fresh).getInt(NR), head = d.getInt(HEAD), tail = d.getInt(TAIL);
        Sys.write(pid, v.start(), fresh); // the kernel's id back; head and tail 0, as its own tail is
        if (head == 0 && tail == 0) {
            return;
        }
        if (Integer.compareUnsigned(head, nr) >= 0 || Integer.compareUnsigned(tail, nr) >= 0) {
            throw new RestoreException("pid " + pid + ": the AIO ring at 0x" + Long.toHexString(v.start())
                    + " has head " + Integer.toUnsignedString(head) + " and tail " + Integer.toUnsignedString(tail)
                    + " in the image, beyond its " + nr + " slots");
        }
        moveTail(t, v.start(), nr, head, tail);
        int kernelTail = header(Sys.read(pid, v.start(), HEADER)).getInt(TAIL);
        if (kernelTail != tail) {
            throw new RestoreException("pid " + pid + ": the AIO ring at 0x" + Long.toHexString(v.start())
                    + " reached tail " + kernelTail + " instead of " + tail);
        }
        Sys.write(pid, v.start() + HEADER, Arrays.copyOfRange(dumped, HEADER, len));
        Sys.write(pid, v.start() + HEAD, intBytes(head));
    }

    /**
     * Completes requests until the kernel's tail is {@code tail}, reaping them (by writing the head,
     * as user space may) up to {@code head}: one full turn first when the tail is behind the head,
     * so the kernel counts the events between them as completed and unreaped.
     */
    private static void moveTail(TaskContext t, long ctx, int nr, int head, int tail) {
        int count = Integer.compareUnsigned(tail, head) >= 0 ? tail : nr + tail;
        int batch = Math.min(Math.min(count, nr - 1), SUBMIT_BATCH);
        long fd = t.open("/dev/null", Fcntl.O_WRONLY | Fcntl.O_CLOEXEC);
        try {
            ByteBuffer cbs = ByteBuffer.allocate(IOCB + 8 * batch).order(ByteOrder.LITTLE_ENDIAN);
            cbs.putShort(16, (short) IOCB_CMD_PWRITE).putInt(20, (int) fd).putLong(32, 1);
            long at = t.put(cbs.array()); // a write to /dev/null never reads its buffer, nor is it queued
            cbs.putLong(24, at);
            for (int i = 0; i < batch; i++) {
                cbs.putLong(IOCB + 8 * i, at);
            }
            t.put(cbs.array());
            int done = 0;
            while (done < count) {
                long n;
                try {
                    n = t.call("io_submit(AIO ring 0x" + Long.toHexString(ctx) + ")", SyscallNr.IO_SUBMIT, ctx,
                            Math.min(batch, count - done), at + IOCB);
                } catch (SyscallException e) {
                    throw new RestoreException("pid " + t.pid() + ": moving the tail of the AIO ring at 0x"
                            + Long.toHexString(ctx) + " to " + tail + " (" + done + " of " + count + " requests made): "
                            + e.getMessage(), e);
                }
                done += (int) n;
                Sys.write(t.pid(), ctx + HEAD, intBytes(Math.min(done, head)));
            }
        } finally {
            t.call("close(/dev/null)", SyscallNr.CLOSE, fd);
        }
    }

    private static byte[] intBytes(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("aioContext", "0x" + Long.toHexString(v.start()));
        out.put("nrEvents", nrEvents(v.end() - v.start()));
    }
}
