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

    private static final int S_IFMT = 0170000, S_IFCHR = 0020000, S_IFIFO = 0010000;

    /** The S_IFMT bits of the file behind a path (a /proc fd link is followed). */
    private static int type(Path statPath) throws IOException {
        return (Integer) Files.getAttribute(statPath, "unix:mode") & S_IFMT;
    }

    public static boolean isCharDevice(Path statPath) throws IOException {
        return Files.exists(statPath) && type(statPath) == S_IFCHR;
    }

    public static boolean isFifo(Path statPath) throws IOException {
        return Files.exists(statPath) && type(statPath) == S_IFIFO;
    }

    public static long rdev(Path statPath) throws IOException {
        return (Long) Files.getAttribute(statPath, "unix:rdev");
    }

    /** Null when the file is unchanged, else what differs, e.g. "size 120 → 4096". */
    public static String difference(FileRef dumped, FileRef now) {
        if (dumped.dev() != now.dev() || dumped.ino() != now.ino()) {
            return "it is another file now (inode " + dumped.ino() + " → " + now.ino() + ")";
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
