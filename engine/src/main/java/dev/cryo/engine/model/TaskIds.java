package dev.cryo.engine.model;

/**
 * Where a task sits in the tree: pid, parent, process group, session; and its controlling
 * terminal as stat shows it ({@code ttyNr} the device number, 0 for none; {@code tpgid} the
 * terminal's foreground process group, -1 for none). {@code sharedWithParent}: the clone flags
 * ({@code CLONE_FILES}, {@code CLONE_FS}) of the tables it shares with its parent, which its
 * restore forks it with (0 for none); a task sharing its parent's fd table carries no fds of its own.
 */
public record TaskIds(int pid, int ppid, int pgid, int sid, int ttyNr, int tpgid, int sharedWithParent) {
    public TaskIds(int pid, int ppid, int pgid, int sid) {
        this(pid, ppid, pgid, sid, 0, -1);
    }

    public TaskIds(int pid, int ppid, int pgid, int sid, int ttyNr, int tpgid) {
        this(pid, ppid, pgid, sid, ttyNr, tpgid, 0);
    }

    /** Its fd table is its parent's (CLONE_FILES): the parent's side carries and restores it. */
    public boolean sharesParentFds() {
        return (sharedWithParent & dev.cryo.kernel.Clone.FILES) != 0;
    }

    public TaskIds withSharedWithParent(int flags) {
        return new TaskIds(pid, ppid, pgid, sid, ttyNr, tpgid, flags);
    }
}
