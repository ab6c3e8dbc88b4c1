package dev.cryo.engine.model;

/**
 * Where a task sits in the tree: pid, parent, process group, session; and its controlling
 * terminal as stat shows it ({@code ttyNr} the device number, 0 for none; {@code tpgid} the
 * terminal's foreground process group, -1 for none).
 */
public record TaskIds(int pid, int ppid, int pgid, int sid, int ttyNr, int tpgid) {
    public TaskIds(int pid, int ppid, int pgid, int sid) {
        this(pid, ppid, pgid, sid, 0, -1);
    }
}
