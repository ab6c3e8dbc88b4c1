package dev.cryo.kernel;

/**
 * A syscall that failed, described the way a person debugs it:
 * {@code ptrace(PTRACE_SEIZE, pid 4242): ESRCH (No such process)}.
 */
public final class SyscallException extends KernelException {
    private final int errno;
    private final String call;

    public SyscallException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.errno = errno;
        this.call = call;
    }

    public int errno() {
        return errno;
    }

    /** The call and its arguments, without the errno part. */
    public String call() {
        return call;
    }

    public boolean is(int expected) {
        return errno == expected;
    }
}
