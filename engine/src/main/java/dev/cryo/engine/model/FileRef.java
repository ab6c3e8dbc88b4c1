package dev.cryo.engine.model;

/**
 * A file by path and identity: restore checks the file it finds is the one that was dumped
 * (device, inode, size, mtime) before it maps or opens it.
 */
public record FileRef(String path, long dev, long ino, long size, long mtimeNanos, int mode) {
    /** The same file named by another path (where cryo finds it: below a bind mount's source). */
    public FileRef withPath(String other) {
        return new FileRef(other, dev, ino, size, mtimeNanos, mode);
    }
}
