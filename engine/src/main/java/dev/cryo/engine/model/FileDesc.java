package dev.cryo.engine.model;

/** What an fd refers to; one record per kind of kernel object (see the fd handler table). */
public sealed interface FileDesc permits FileDesc.RegularFile, FileDesc.Pipe, FileDesc.CharDevice,
        FileDesc.EventFd, FileDesc.TimerFd, FileDesc.Epoll, FileDesc.SignalFd {
    /** A regular file or directory, reopened by path after its identity is checked. */
    record RegularFile(FileRef file) implements FileDesc {}

    /**
     * One end of a pipe or FIFO; ends sharing {@code pipeId} (the pipe inode) are joined again.
     * The bytes sitting in the pipe are carried once, by the first end dumped ({@code data} empty
     * elsewhere). {@code fifoPath} is empty for anonymous pipes.
     */
    record Pipe(long pipeId, boolean readEnd, String fifoPath, byte[] data) implements FileDesc {}

    /** /dev/null, /dev/zero, a terminal (restored only with --shell-job), ... */
    record CharDevice(String path, long rdev, boolean tty) implements FileDesc {}

    /** A signalfd and the signals it reads (bit n-1 for signal n). */
    record SignalFd(long mask) implements FileDesc {}

    /** An eventfd: its counter and whether it counts as a semaphore (EFD_SEMAPHORE). */
    record EventFd(long count, boolean semaphore) implements FileDesc {}

    /**
     * A timerfd: its clock, expirations not read yet, the time left to the next expiry and the
     * period (relative, as /proc gives them; zero value = disarmed).
     */
    record TimerFd(int clockId, long ticks, long valueSec, long valueNsec, long intervalSec, long intervalNsec)
            implements FileDesc {}

    /** An epoll instance and what it watches: fds of the same task, their event masks and data. */
    record Epoll(java.util.List<Watch> watches) implements FileDesc {
        public Epoll {
            watches = java.util.List.copyOf(watches);
        }

        public record Watch(int fd, int events, long data) {}
    }
}
