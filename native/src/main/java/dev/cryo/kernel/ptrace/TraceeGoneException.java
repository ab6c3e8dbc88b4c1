package dev.cryo.kernel.ptrace;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.WaitStatus;

/** A traced thread exited or was killed while cryo was working on it. */
public final class TraceeGoneException extends KernelException {
    private final int tid;

    public TraceeGoneException(int tid, String while_, WaitStatus status) {
        super("tid " + tid + " " + (status == null ? "disappeared" : status.toString()) + " while " + while_);
        this.tid = tid;
    }

    public int tid() {
        return tid;
    }
}
