package dev.cryo.engine.files;

import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import static dev.cryo.engine.show.ShowFormat.hex;

/**
 * signalfd: the signal mask comes from fdinfo; restore makes a new one reading the same signals.
 * Signals it would read are pending on the task, and come back with the task's pending signals.
 */
public final class SignalFdHandler implements FdHandler<SignalFdHandler.SignalFd> {
    public static final int TAG = 7, RECORD_ID = 117;

    /** A signalfd and the signals it reads (bit n-1 for signal n). */
    public record SignalFd(long mask) implements FileDesc {}

    static final RecordCodec<SignalFd> CODEC = RecordCodec.of(SignalFd.class, RECORD_ID, 1,
            (out, s) -> out.writeLong(s.mask()), (in, version) -> new SignalFd(in.readLong()));

    @Override
    public String kind() {
        return "signalfd";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<SignalFd> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[signalfd]");
    }

    @Override
    public SignalFd dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        String mask = fd.info().value("sigmask").orElseThrow(
                () -> new IllegalStateException(fd.where() + ": fdinfo has no sigmask")).trim();
        return new SignalFd(Long.parseUnsignedLong(mask, 16));
    }

    @Override
    public long restore(FdImage fd, SignalFd s, RestoreContext ctx) {
        long mask = ctx.put(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(s.mask()).array());
        return ctx.call("signalfd4", SyscallNr.SIGNALFD4, -1, mask, 8, fd.flags() & (Fcntl.O_NONBLOCK | Fcntl.O_CLOEXEC));
    }

    @Override
    public void show(SignalFd s, Map<String, Object> m) {
        m.put("kind", "signalfd");
        m.put("mask", hex(s.mask()));
    }
}
