package dev.cryo.kernel.proc;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.SyscallException;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/** Turns the JDK's IOExceptions on /proc files back into errno-named {@link SyscallException}s. */
final class ProcErrors {
    private ProcErrors() {}

    /** Errnos a /proc access commonly meets; matched by their strerror text in the JDK message. */
    private static final int[] KNOWN = {Errno.ESRCH, Errno.ENOENT, Errno.EACCES, Errno.EPERM, Errno.EIO,
            Errno.EINVAL, Errno.ENOTDIR, Errno.ENOMEM, Errno.EFAULT};

    /** {@code op} is the operation and path, e.g. "open /proc/4242/stat". */
    static KernelException of(String op, IOException e) {
        if (e instanceof NoSuchFileException) {
            return withCause(new SyscallException(op, Errno.ENOENT), e);
        }
        if (e instanceof AccessDeniedException) {
            return withCause(new SyscallException(op, Errno.EACCES), e);
        }
        String text = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason() : e.getMessage();
        if (text != null) {
            for (int errno : KNOWN) {
                if (text.contains(Errno.text(errno))) {
                    return withCause(new SyscallException(op, errno), e);
                }
            }
        }
        return new KernelException(op + ": " + e, e);
    }

    private static KernelException withCause(KernelException k, IOException cause) {
        k.initCause(cause);
        return k;
    }
}
