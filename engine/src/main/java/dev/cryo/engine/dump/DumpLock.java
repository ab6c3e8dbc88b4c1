package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.HolderLock;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One dump of a tree at a time: an exclusive lock on {@code /run/cryo/dump-PIDNS-PID.lock} for the root
 * pid in cryo's pid namespace (PIDNS its inode: cryos in two containers that share /run each dump their own
 * pid 71 at once, as zdtm.py's parallel runs do), held for the whole dump by any cryo (another CLI, an agent, or this very JVM). The kernel
 * drops the lock when its holder dies, so a killed cryo never leaves a tree locked. The file
 * names the holder, so the refusal can say who it is, and is removed by the holder at the end
 * (under the lock), so /run/cryo does not fill up with one file per dump. A cryo that opened the
 * file just before that removal and locks it just after holds a lock nobody else sees: its dump
 * then meets the tree still seized by the other one and is refused by the seize.
 */
public final class DumpLock implements AutoCloseable {
    static final Path DIR = Path.of("/run/cryo");

    private final Path file;
    private final HolderLock lock;

    private DumpLock(Path file, HolderLock lock) {
        this.file = file;
        this.lock = lock;
    }

    public static DumpLock acquire(Pid root) {
        return acquire(DIR, ownPidNamespace(), root);
    }

    /** The inode of cryo's pid namespace, in which the pids it is given name tasks. */
    static long ownPidNamespace() {
        try {
            String ns = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString(); // pid:[4026531836]
            return Long.parseLong(ns.substring(ns.indexOf('[') + 1, ns.indexOf(']')));
        } catch (IOException | RuntimeException e) {
            throw new DumpException("cannot read cryo's pid namespace (/proc/self/ns/pid) to lock the dump: " + e, e);
        }
    }

    static DumpLock acquire(Path dir, long pidNs, Pid root) {
        Path file = dir.resolve("dump-" + pidNs + "-" + root + ".lock");
        try {
            Files.createDirectories(dir);
            synchronized (HELD) {
                removeStale(dir);
                DumpLock d = new DumpLock(file, HolderLock.take(file));
                HELD.add(file);
                return d;
            }
        } catch (HolderLock.Held h) {
            throw new DumpException("pid " + root + " is already being dumped"
                    + (h.holder().isEmpty() ? "" : " (by cryo process " + h.holder() + ")")
                    + "; one dump of a tree at a time: wait for that one to end");
        } catch (IOException e) {
            throw new DumpException("cannot lock " + file + " for the dump of pid " + root + ": "
                    + dev.cryo.kernel.FileErrors.reason(e) + (e instanceof java.nio.file.AccessDeniedException
                    ? " (cryo dumps as root)" : ""), e);
        }
    }

    @Override
    public void close() {
        synchronized (HELD) {
            try {
                Files.deleteIfExists(file); // still locked: a cryo waiting on it is refused, not let in
            } catch (IOException ignored) {
                // left behind: the next dump of this pid reuses it, or a later one removes it as stale
            }
            lock.close();
            HELD.remove(file);
        }
    }

    /** This JVM's dump locks: never opened by {@link #removeStale} (closing any fd of a file drops the process's locks on it). */
    private static final Set<Path> HELD = new HashSet<>();

    /** A file this old that nobody holds is no dump's: its cryo was killed (a fresh one may be about to be locked). */
    static final Duration STALE_AFTER = Duration.ofSeconds(10);

    /**
     * Removes the lock files of dumps whose cryo was killed (it never removed its file): one nobody
     * holds is stale, whoever its holder pid names now. Files of this JVM and files younger than
     * {@link #STALE_AFTER} (another cryo between creating and locking its own) are left alone.
     */
    static void removeStale(Path dir) {
        List<Path> files;
        try (var s = Files.list(dir)) {
            files = s.filter(f -> f.getFileName().toString().matches("dump-(\\d+-)?\\d+\\.lock")).toList();
        } catch (IOException e) {
            return;
        }
        long now = System.currentTimeMillis();
        for (Path f : files) {
            try {
                if (HELD.contains(f) || now - Files.getLastModifiedTime(f).toMillis() < STALE_AFTER.toMillis()) {
                    continue;
                }
                HolderLock.removeIfFree(f);
            } catch (IOException | RuntimeException held) {
                // a live dump's, or gone meanwhile
            }
        }
    }
}
