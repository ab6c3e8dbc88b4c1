package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.io.IOException;

/**
 * One kind of kernel object behind a file descriptor, with its dump half and its restore half;
 * {@link FdHandlers} lists them all in one table.
 */
public interface FdHandler {
    /** Human name of the kind, used in messages ("pipe", "regular file"). */
    String kind();

    /** The image record this handler writes and reads back. */
    Class<? extends FileDesc> record();

    boolean handles(FdProbe fd) throws IOException;

    FileDesc dump(FdProbe fd, DumpContext ctx) throws IOException;

    /**
     * Recreates the object inside the task being restored (by injected syscalls) and returns the
     * fd number it got there; the caller moves it to its dumped number.
     */
    long restore(FdImage fd, RestoreContext ctx);

    /** Objects that refer to other fds of the task (epoll) are restored after all the others. */
    default boolean restoresLast() {
        return false;
    }

    /** What a restore half may do inside the task being restored. */
    interface RestoreContext {
        /** openat(AT_FDCWD, path, flags) in the task. */
        long open(String path, int flags);

        /** A syscall injected into the task; failures throw with the call named. */
        long call(String name, int nr, long... args);

        /** Copies bytes into scratch memory of the task and returns their address there. */
        long put(byte[] data);

        /** The path through which the task opens its end of a dumped pipe. */
        String pipePath(long pipeId, boolean readEnd);
    }

    /** State shared by all tasks of one dump: pipe data and shared memory are carried once. */
    interface DumpContext {
        /** True the first time a pipe id is seen in this dump. */
        boolean claimPipeData(long pipeId);

        /** The pages of shared memory objects already carried by tasks of this dump. */
        dev.cryo.engine.dump.SharedMemoryClaims sharedMemory();

        /** Whether the controlling terminal may be dumped (CRIU's --shell-job). */
        boolean shellJob();

        /**
         * For objects restore recreates per process (eventfd, timerfd, epoll): fails if another
         * task of the tree holds the very same open file, which restore could not share again.
         */
        void requireUnshared(FdProbe fd, String kind);
    }
}
