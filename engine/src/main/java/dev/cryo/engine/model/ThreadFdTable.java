package dev.cryo.engine.model;

import java.util.List;

/**
 * The fd table of a thread that holds its own (unshare(CLONE_FILES) in that thread), as far as a restore makes it:
 * {@code entries}, its fds that are open files its process holds too, at {@code processFd} of the process's table
 * (the same number unless the thread moved it), with the thread's own close-on-exec flag; and {@code alone}, the
 * open files only its table holds (a file it opened since), each at its number in the thread's table with its own
 * flags, dumped and made again by its kind's handler like a file in flight.
 */
public record ThreadFdTable(List<Entry> entries, List<FdImage> alone) {
    public ThreadFdTable {
        entries = List.copyOf(entries);
        alone = List.copyOf(alone);
    }

    public ThreadFdTable(List<Entry> entries) {
        this(entries, List.of());
    }

    /** Fd {@code fd} of the thread: the open file at {@code processFd} of its process's table. */
    public record Entry(int fd, int processFd, boolean cloexec) {
        public Entry {
            if (fd < 0 || processFd < 0) {
                throw new IllegalArgumentException("ThreadFdTable.Entry: fd " + fd + " of process fd " + processFd);
            }
        }
    }

    /** Every fd number of the thread's table. */
    public java.util.stream.IntStream fds() {
        return java.util.stream.IntStream.concat(entries.stream().mapToInt(Entry::fd), alone.stream().mapToInt(FdImage::fd));
    }

    /** Its entries' lines ({@code cryo show} renders the files alone as fds). */
    public List<String> json() {
        return entries.stream().map(e -> e.fd() + (e.fd() != e.processFd() ? " = process fd " + e.processFd() : "")
                + (e.cloexec() ? " cloexec" : "")).toList();
    }
}
