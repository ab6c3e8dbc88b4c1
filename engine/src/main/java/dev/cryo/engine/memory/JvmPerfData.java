package dev.cryo.engine.memory;

import dev.cryo.engine.dump.GhostFiles;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * A HotSpot JVM's perf-data file, /tmp/hsperfdata_USER/PID, mapped shared (every JVM run with the
 * default -XX:+UsePerfData has one). Any JVM that starts deletes the files of JVMs it believes dead
 * — a dumped JVM's among them, once its tree is gone — so a file mapping checked at restore would
 * make a dumped JVM unrestorable as soon as any other Java program ran. Its pages (32 KiB of
 * counters) go into the image instead; restore maps the file when it is still there, else makes
 * it again, with the JVM's owner, where jps and jcmd look for it.
 */
public final class JvmPerfData extends MemoryKind {
    private static final Pattern PATH = Pattern.compile("/tmp/hsperfdata_[^/]+/\\d+");

    JvmPerfData(int id) {
        super(id, "JVM_PERF_DATA");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.shared() && m.isFileBacked() && !m.deleted() && PATH.matcher(m.path()).matches();
    }

    @Override
    public boolean fileBacked() {
        return true;
    }

    @Override
    public FileRef file(Pid pid, MapsEntry m, GhostFiles ghosts) {
        return FileMappings.identity(pid, m);
    }

    @Override
    public void planPages(PageScan scan) {
        scan.sharedObjectPages(scan.file().ino());
    }

    @Override
    public boolean checksFile() {
        return false; // the image holds its pages; it is made again when gone
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        Path file = Path.of(v.file().path());
        try {
            if (!Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                int uid = t.task().creds().uids().get(1), gid = t.task().creds().gids().get(1); // effective ids
                Path dir = file.getParent();
                if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(dir);
                    shared.madeForGood(dir);
                    dev.cryo.kernel.Sys.chownChmod(dir.toString(), uid, gid, 0755); // as HotSpot makes it
                }
                Files.createFile(file);
                shared.madeForGood(file);
                dev.cryo.kernel.Sys.chownChmod(file.toString(), uid, gid, v.file().mode() & 07777);
            }
            long size = v.offset() + (v.end() - v.start());
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                if (f.length() < size) {
                    f.setLength(size); // a shorter file would fault where the JVM writes its counters
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new RestoreException("pid " + t.pid() + ": cannot make its JVM perf-data file " + file + " again: " + e);
        }
        // writable while cryo writes the dumped counters into it; protect() sets the final protection
        Mapper.mapFile(t, v, file.toString(), Fcntl.O_RDWR, v.prot() | VmaImage.PROT_READ | VmaImage.PROT_WRITE);
    }
}
