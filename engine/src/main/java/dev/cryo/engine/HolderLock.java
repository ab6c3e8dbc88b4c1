package dev.cryo.engine;

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
 * An exclusive flock on a file that names its holder's pid, so a refusal can say who holds it (one
 * dump of a tree at a time, one agent per local socket). The kernel drops it when its holder dies.
 */
public final class HolderLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private HolderLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Another process (or this JVM) holds the lock; {@code holder} is the pid it wrote, or "". */
    public static final class Held extends Exception {
        private final String holder;

        Held(String holder) {
            super("held by " + (holder.isEmpty() ? "another process" : "pid " + holder), null, false, false);
            this.holder = holder;
        }

        public String holder() {
            return holder;
        }
    }

    /** The lock on {@code file} (created if missing), with this process's pid written in it. */
    public static HolderLock take(Path file) throws IOException, Held {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null; // held by this JVM
            }
            if (l == null) {
                throw new Held(Files.readString(file, StandardCharsets.UTF_8).trim());
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            return new HolderLock(ch, l);
        } catch (IOException | Held | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Removes {@code file} if no process holds its lock (its holder died without removing it), under
     * the lock for that moment, as a holder's own removal; its content is left as it was meanwhile (a
     * cryo refused by that moment's lock names the dead holder). Must not be called for a file this
     * JVM holds: closing any fd of a file drops the process's locks on it.
     */
    public static boolean removeIfFree(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                return false; // this JVM's
            }
            if (l == null) {
                return false;
            }
            try {
                Files.deleteIfExists(file);
                return true;
            } finally {
                l.release();
            }
        } catch (java.nio.file.NoSuchFileException gone) {
            return false;
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException ignored) {
            // the lock goes with the fd anyway
        }
    }
}
