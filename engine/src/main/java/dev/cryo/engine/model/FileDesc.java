package dev.cryo.engine.model;

/** What an fd refers to; one record per kind of kernel object (see the fd handler table). */
public sealed interface FileDesc permits FileDesc.RegularFile, FileDesc.Pipe, FileDesc.CharDevice {
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
}
