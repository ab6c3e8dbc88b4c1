package dev.cryo.engine.model;

/** Where a task sits in the tree: pid, parent, process group, session. */
public record TaskIds(int pid, int ppid, int pgid, int sid) {}
