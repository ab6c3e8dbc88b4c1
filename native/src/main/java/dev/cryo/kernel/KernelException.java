package dev.cryo.kernel;

/** Any failure at the kernel boundary: a syscall, a /proc file, a tracee that misbehaved. */
public class KernelException extends RuntimeException {
    public KernelException(String message) {
        super(message);
    }

    public KernelException(String message, Throwable cause) {
        super(message, cause);
    }
}
