package dev.cryo.engine.files;

import dev.cryo.engine.model.FileRef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Reads a file's identity (device, inode, size, mtime, mode) through the JDK's "unix" view. */
public final class FileIdentity {
    private FileIdentity() {}

    /** Identity of {@code statPath} (may be a /proc/PID/fd/N or map_files link), recorded under {@code path}. */
    public static FileRef of(String path, Path statPath) throws IOException {
        Map<String, Object> a = Files.readAttributes(statPath, "unix:dev,ino,size,lastModifiedTime,mode");
        return new FileRef(path, (Long) a.get("dev"), (Long) a.get("ino"), (Long) a.get("size"),
                ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS), (Integer) a.get("mode"));
    }

    private static final int S_IFMT = 0170000, S_IFCHR = 0020000, S_IFIFO = 0010000, S_IFDIR = 0040000;

    public static boolean isDirectory(FileRef ref) {
        return (ref.mode() & S_IFMT) == S_IFDIR;
    }

    /**
     * How a task used a file, which decides what must still hold at restore (same host):
     * <ul>
     *   <li>{@code MAPPED} (the executable, a file mapping): the same file with the same content,
     *       by device, inode, size and mtime: the restored pages that were not dumped come from it;</li>
     *   <li>{@code OPEN} (an fd): the same file (device, inode) with the same size and mtime: cryo
     *       cannot know what the task assumes about its content or its position in it;</li>
     *   <li>{@code APPENDING} (an fd with O_APPEND): the same file, which may have grown (a log
     *       that others append to), but not shrunk;</li>
     * </ul>
     * A directory (open, or a cwd or root) only has to exist and be a directory: directories
     * change all the time on a live host (see {@code RestoreValidator}).
     */
    public enum Use { MAPPED, OPEN, APPENDING }

    /** The S_IFMT bits of the file behind a path (a /proc fd link is followed). */
    private static int type(Path statPath) throws IOException {
        return (Integer) Files.getAttribute(statPath, "unix:mode") & S_IFMT;
    }

    public static boolean isCharDevice(Path statPath) throws IOException {
        return Files.exists(statPath) && type(statPath) == S_IFCHR;
    }

    /** Whether fd {@code fd} is an open character device {@code major:minor} (a /dev/tty, a /dev/net/tun...). */
    static boolean isDevice(FdProbe fd, int major, int minor) throws IOException {
        if (!fd.target().startsWith("/") || !isCharDevice(fd.procPath())) {
            return false;
        }
        long rdev = rdev(fd.procPath());
        return dev.cryo.kernel.Terminals.major(rdev) == major && dev.cryo.kernel.Terminals.minor(rdev) == minor;
    }

    public static boolean isFifo(Path statPath) throws IOException {
        return Files.exists(statPath) && type(statPath) == S_IFIFO;
    }

    public static long rdev(Path statPath) throws IOException {
        return (Long) Files.getAttribute(statPath, "unix:rdev");
    }

    /** Null when the file is still fit for {@code use}, else what differs, e.g. "its size changed (120 → 4096 bytes)". */
    public static String difference(FileRef dumped, FileRef now, Use use) {
        if (dumped.dev() != now.dev() || dumped.ino() != now.ino()) {
            return "it is another file now (inode " + dumped.ino() + " → " + now.ino() + ")";
        }
        if (use == Use.APPENDING) {
            return now.size() >= dumped.size() ? null
                    : "it was truncated (" + dumped.size() + " → " + now.size() + " bytes); a file open for appending may only grow";
        }
        if (dumped.size() != now.size()) {
            return "its size changed (" + dumped.size() + " → " + now.size() + " bytes)";
        }
        if (dumped.mtimeNanos() != now.mtimeNanos()) {
            return "it was modified after the dump";
        }
        return null;
    }
}
