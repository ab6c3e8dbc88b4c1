package dev.cryo.kernel;

import java.util.concurrent.atomic.AtomicBoolean;

/** A file descriptor of this process that is closed exactly once. */
public final class Fd implements AutoCloseable {
    private final int value;
    private final AtomicBoolean closed = new AtomicBoolean();

    public Fd(int value) {
        if (value < 0) {
            throw new IllegalArgumentException("not an fd: " + value);
        }
        this.value = value;
    }

    public int value() {
        if (closed.get()) {
            throw new IllegalStateException("fd " + value + " is already closed");
        }
        return value;
    }

    public boolean isOpen() {
        return !closed.get();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.syscall(SyscallNr.CLOSE, value, 0, 0, 0, 0, 0);
        }
    }

    @Override
    public String toString() {
        return "fd " + value;
    }
}
