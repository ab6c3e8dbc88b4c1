package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

/** eventfd: the counter and the semaphore mode come from fdinfo; restore makes a new one with them. */
public final class EventFdHandler implements FdHandler {
    private static final int EVENTFD2 = 290, EFD_SEMAPHORE = 1;

    @Override
    public String kind() {
        return "eventfd";
    }

    @Override
    public Class<? extends FileDesc> record() {
        return FileDesc.EventFd.class;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[eventfd]");
    }

    @Override
    public FileDesc dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        long count = Long.parseUnsignedLong(fd.info().value("eventfd-count").orElseThrow(
                () -> new IllegalStateException(fd.where() + ": fdinfo has no eventfd-count")).trim(), 16);
        boolean semaphore = fd.info().value("eventfd-semaphore").map(v -> v.trim().equals("1")).orElse(false);
        return new FileDesc.EventFd(count, semaphore);
    }

    @Override
    public long restore(FdImage fd, RestoreContext ctx) {
        FileDesc.EventFd e = (FileDesc.EventFd) fd.desc();
        int flags = fd.flags() & (FdHandlers.O_NONBLOCK | FdHandlers.O_CLOEXEC) | (e.semaphore() ? EFD_SEMAPHORE : 0);
        if (e.count() > 0xffffffffL) {
            // eventfd2 takes an unsigned int; add the rest with a write, as a program would
            long r = ctx.call("eventfd2", EVENTFD2, 0, flags);
            long buf = ctx.put(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putLong(e.count()).array());
            ctx.call("write(eventfd)", dev.cryo.kernel.SyscallNr.WRITE, r, buf, 8);
            return r;
        }
        return ctx.call("eventfd2", EVENTFD2, e.count(), flags);
    }
}
