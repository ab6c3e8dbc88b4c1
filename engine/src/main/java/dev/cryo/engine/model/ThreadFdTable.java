package dev.cryo.engine.model;

import java.util.List;

/**
 * The fd table of a thread that holds its own (unshare(CLONE_FILES) in that thread), as far as a restore makes it:
 * each of its fds is an open file its process holds too, at {@code processFd} of the process's table (the same
 * number unless the thread moved it), with the thread's own close-on-exec flag. An fd of the thread's table alone,
 * an open file its process does not hold, is refused at dump.
 */
public record ThreadFdTable(List<Entry> entries) {
    public ThreadFdTable {
        entries = List.copyOf(entries);
    }

    /** Fd {@code fd} of the thread: the open file at {@code processFd} of its process's table. */
    public record Entry(int fd, int processFd, boolean cloexec) {
        public Entry {
            if (fd < 0 || processFd < 0) {
                throw new IllegalArgumentException("ThreadFdTable.Entry: fd " + fd + " of process fd " + processFd);
            }
        }
    }

    public List<String> json() {
        return entries.stream().map(e -> e.fd() + (e.fd() != e.processFd() ? " = process fd " + e.processFd() : "")
                + (e.cloexec() ? " cloexec" : "")).toList();
    }
}
