package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One dump of a tree at a time: an exclusive lock on {@code /run/cryo/dump-PID.lock} for the root
 * pid, held for the whole dump by any cryo (another CLI, an agent, or this very JVM). The kernel
 * drops the lock when its holder dies, so a killed cryo never leaves a tree locked. The file
 * names the holder, so the refusal can say who it is, and is removed by the holder at the end
 * (under the lock), so /run/cryo does not fill up with one file per dump. A cryo that opened the
 * file just before that removal and locks it just after holds a lock nobody else sees: its dump
 * then meets the tree still seized by the other one and is refused by the seize.
 */
public final class DumpLock implements AutoCloseable {
    static final Path DIR = Path.of("/run/cryo");

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private DumpLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    public static DumpLock acquire(Pid root) {
        return acquire(DIR, root);
    }

    static DumpLock acquire(Path dir, Pid root) {
        Path file = dir.resolve("dump-" + root + ".lock");
        FileChannel ch = null;
        try {
            Files.createDirectories(dir);
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null; // held by this JVM
            }
            if (l == null) {
                String holder = Files.readString(file, StandardCharsets.UTF_8).trim();
                ch.close();
                throw new DumpException("pid " + root + " is already being dumped"
                        + (holder.isEmpty() ? "" : " (by cryo process " + holder + ")")
                        + "; one dump of a tree at a time: wait for that one to end");
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            return new DumpLock(file, ch, l);
        } catch (IOException e) {
            try {
                if (ch != null) {
                    ch.close();
                }
            } catch (IOException ignored) {
                // closing after a failure
            }
            throw new DumpException("cannot lock " + file + " for the dump of pid " + root + ": " + e, e);
        }
    }

    @Override
    public void close() {
        try {
            Files.deleteIfExists(file); // still locked: a cryo waiting on it is refused, not let in
        } catch (IOException ignored) {
            // left behind: the next dump of this pid reuses it
        }
        try {
            lock.release();
            channel.close();
        } catch (IOException ignored) {
            // the lock goes with the fd anyway
        }
    }
}
