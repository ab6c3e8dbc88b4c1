package dev.cryo.engine.files;

import dev.cryo.kernel.EventFdWaiters;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.SyscallNr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

/** eventfd: the counter and the semaphore mode come from fdinfo; restore makes a new one with them. */
public final class EventFdHandler implements FdHandler<EventFdHandler.EventFd> {
    public static final int TAG = 4, RECORD_ID = 114;
    private static final int EFD_SEMAPHORE = 1;

    /** An eventfd: its counter and whether it counts as a semaphore (EFD_SEMAPHORE). */
    public record EventFd(long count, boolean semaphore) implements FileDesc {}

    static final RecordCodec<EventFd> CODEC = RecordCodec.of(EventFd.class, RECORD_ID, 1, (out, e) -> {
        out.writeLong(e.count());
        out.writeBoolean(e.semaphore());
    }, (in, version) -> new EventFd(in.readLong(), in.readBoolean()));

    @Override
    public String kind() {
        return "eventfd";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<EventFd> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[eventfd]");
    }

    @Override
    public EventFd dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        refuseKernelWaiters(fd, ctx);
        long count = Long.parseUnsignedLong(fd.info().value("eventfd-count").orElseThrow(
                () -> new IllegalStateException(fd.where() + ": fdinfo has no eventfd-count")).trim(), 16);
        boolean semaphore = fd.info().value("eventfd-semaphore").map(v -> v.trim().equals("1")).orElse(false);
        return new EventFd(count, semaphore);
    }

    private static final TaskFileReads<Map<Integer, EventFdWaiters.Waiters>> WAITERS = new TaskFileReads<>(EventFdWaiters::of);

    /**
     * Refuses an eventfd the kernel itself signals through a registration of its own (EventFdWaiters): made again, the
     * eventfd has none, and the program would wait for a notification that never comes. Where the iterator cannot run
     * (no BTF, no bpf() for cryo, kallsyms hidden) nothing is refused: every eventfd would be.
     */
    private static void refuseKernelWaiters(FdProbe fd, DumpContext ctx) {
        EventFdWaiters.Waiters w;
        try {
            w = WAITERS.of(ctx, dev.cryo.kernel.ExitedLeaders.reader(fd.pid().value())).get(fd.fd());
        } catch (RuntimeException cannotTell) {
            return;
        }
        if (w != null && w.memcgEvents() > 0) {
            throw new dev.cryo.engine.DumpException(fd.where() + ": eventfd is registered with a memory cgroup through"
                    + " cgroup.event_control (" + w.memcgEvents() + " notification(s): memory.oom_control, a"
                    + " memory.usage_in_bytes threshold or memory.pressure_level), which the kernel keeps out of sight and"
                    + " an eventfd made again would not have; not supported");
        }
        if (w != null && w.kvmIrqfds() > 0) {
            throw new dev.cryo.engine.DumpException(fd.where() + ": eventfd is a KVM irqfd (a virtual machine's"
                    + " interrupt), which an eventfd made again would not be; not supported");
        }
    }

    @Override
    public long restore(FdImage fd, EventFd e, RestoreContext ctx) {
        int flags = fd.flags() & (Fcntl.O_NONBLOCK | Fcntl.O_CLOEXEC) | (e.semaphore() ? EFD_SEMAPHORE : 0);
        if (e.count() > 0xffffffffL) {
            // eventfd2 takes an unsigned int; add the rest with a write, as a program would
            long r = ctx.call("eventfd2", SyscallNr.EVENTFD2, 0, flags);
            long buf = ctx.put(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(e.count()).array());
            ctx.call("write(eventfd)", SyscallNr.WRITE, r, buf, 8);
            return r;
        }
        return ctx.call("eventfd2", SyscallNr.EVENTFD2, e.count(), flags);
    }

    @Override
    public void show(EventFd e, Map<String, Object> m) {
        m.put("kind", "eventfd");
        m.put("count", e.count());
        m.put("semaphore", e.semaphore());
    }
}
