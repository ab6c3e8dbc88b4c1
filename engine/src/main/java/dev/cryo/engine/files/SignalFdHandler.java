package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * signalfd: the signal mask comes from fdinfo; restore makes a new one reading the same signals.
 * Signals it would read are pending on the task, and come back with the task's pending signals.
 */
public final class SignalFdHandler implements FdHandler {
    private static final int SIGNALFD4 = 289;

    @Override
    public String kind() {
        return "signalfd";
    }

    @Override
    public Class<? extends FileDesc> record() {
        return FileDesc.SignalFd.class;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[signalfd]");
    }

    @Override
    public FileDesc dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        String mask = fd.info().value("sigmask").orElseThrow(
                () -> new IllegalStateException(fd.where() + ": fdinfo has no sigmask")).trim();
        return new FileDesc.SignalFd(Long.parseUnsignedLong(mask, 16));
    }

    @Override
    public long restore(FdImage fd, RestoreContext ctx) {
        long mask = ctx.put(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(((FileDesc.SignalFd) fd.desc()).mask()).array());
        return ctx.call("signalfd4", SIGNALFD4, -1, mask, 8, fd.flags() & (FdHandlers.O_NONBLOCK | FdHandlers.O_CLOEXEC));
    }
}
