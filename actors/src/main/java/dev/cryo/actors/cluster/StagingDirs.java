package dev.cryo.actors.cluster;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The directories an agent stages images in (an arriving migration, its warm-up). They hold a
 * tree's memory, so each is 0700 and holds a lock on its {@code .owner} file for as long as its
 * agent uses it: the kernel drops the lock when the agent dies, however it dies, and an agent
 * starting later removes what a killed one left behind ({@link #sweep}). Agents sharing a staging
 * directory, even from other pid namespaces, never remove each other's live ones.
 */
final class StagingDirs {
    private static final String OWNER = ".owner";
    private static final Map<Path, FileChannel> HELD = new ConcurrentHashMap<>();

    private StagingDirs() {}

    /** A new private directory in {@code staging}, locked as this agent's until {@link #delete}. */
    static Path create(Path staging, String prefix) throws IOException {
        Files.createDirectories(staging);
        Path dir = Files.createTempDirectory(staging, prefix,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        FileChannel owner = FileChannel.open(dir.resolve(OWNER), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        owner.lock();
        HELD.put(dir, owner);
        return dir;
    }

    /** Gives the directory up and removes it with all it holds. */
    static void delete(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // gone already, or unreadable: private (0700) either way
        }
        FileChannel owner = HELD.remove(dir);
        if (owner != null) {
            try {
                owner.close(); // after the removal: no other agent may take it for a leftover meanwhile
            } catch (IOException ignored) {
                // the lock goes with the fd
            }
        }
    }

    /** Removes the directories whose agent has died (their lock is free); returns how many. */
    static int sweep(Path staging) {
        if (!Files.isDirectory(staging)) {
            return 0;
        }
        int removed = 0;
        try (Stream<Path> dirs = Files.list(staging)) {
            for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                if (HELD.containsKey(dir) || !Files.exists(dir.resolve(OWNER))) {
                    continue; // ours, or not made this way: left alone
                }
                try (FileChannel owner = FileChannel.open(dir.resolve(OWNER), StandardOpenOption.WRITE)) {
                    FileLock lock = owner.tryLock();
                    if (lock == null) {
                        continue; // a live agent's
                    }
                    delete(dir);
                    removed++;
                } catch (OverlappingFileLockException | IOException e) {
                    // in use in this JVM, or gone meanwhile
                }
            }
        } catch (IOException ignored) {
            // an unreadable staging directory: nothing to sweep
        }
        return removed;
    }
}
