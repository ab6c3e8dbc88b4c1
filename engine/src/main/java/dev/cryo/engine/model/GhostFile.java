package dev.cryo.engine.model;

/**
 * A deleted (unlinked) file a task still maps or holds open, with its whole contents: restore
 * recreates it, maps or opens it, and unlinks it again. Carried by the first task of the dump that
 * holds it; {@code file} is its identity at dump time (device and inode tell which mappings and
 * fds of which tasks are this file), {@code uid} and {@code gid} its owner, given back with its mode.
 */
public record GhostFile(FileRef file, byte[] contents, int uid, int gid) {}
