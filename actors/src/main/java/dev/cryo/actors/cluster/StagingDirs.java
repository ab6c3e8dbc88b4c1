package dev.cryo.actors.cluster;

import dev.cryo.engine.files.PrivateModes;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
 *
 * <p>A removed directory's image file, its first {@link #keepUpTo} bytes, is kept (in a directory
 * {@code kept-*} of the same kind) for the next image that arrives in the same staging directory,
 * which is written over it in place ({@link #startWriting}): overwriting pages the file already has
 * in the page cache costs the receiving agent less than making new ones (page allocation, LRU and
 * memory cgroup charging), about a third less system time per GiB written here. The price: that
 * many bytes of page cache stay held (and are written back to disk like any file's) between
 * migrations. Only a file nothing writes any more is kept.
 */
public final class StagingDirs {
    private static final String OWNER = ".owner";
    private static final String IMAGE = dev.cryo.engine.image.ImageFormat.IMAGE_FILE;
    private static final String KEPT_PREFIX = "kept-";
    private static final Map<Path, FileChannel> HELD = new ConcurrentHashMap<>();
    /** Per staging directory: the kept file's directory (held as the others). */
    private static final Map<Path, Path> KEPT = new ConcurrentHashMap<>();
    /** Image files being written ({@link #startWriting}): never kept, a late writer would write into the next image. */
    private static final java.util.Set<Path> WRITING = new java.util.HashSet<>();
    private static volatile long keepUpTo;

    private StagingDirs() {}

    /** A new private directory in {@code staging}, locked as this agent's until {@link #delete}. */
    public static Path create(Path staging, String prefix) throws IOException {
        Files.createDirectories(staging);
        Path dir = Files.createTempDirectory(staging, prefix,
                PrivateModes.DIR_ATTRIBUTE);
        FileChannel owner = FileChannel.open(dir.resolve(OWNER), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        owner.lock();
        HELD.put(dir, owner);
        return dir;
    }

    /** The largest image file kept for the next arrival ({@code cryo.cluster.keep-staged}); 0: none. */
    public static void keepUpTo(long bytes) {
        keepUpTo = Math.max(0, bytes);
    }

    /**
     * {@code target} (an image file in a directory of {@link #create}) is about to be written:
     * the file kept from an earlier image is moved there if there is one, and then it returns true
     * (the caller writes over it and cuts it to its image's size). {@link #doneWriting} after.
     */
    static boolean startWriting(Path target) {
        synchronized (WRITING) {
            WRITING.add(target);
            Path keptDir = HELD.containsKey(target.getParent()) ? KEPT.get(target.getParent().getParent()) : null;
            Path kept = keptDir == null ? null : keptDir.resolve(IMAGE);
            if (kept == null || !Files.isRegularFile(kept, LinkOption.NOFOLLOW_LINKS) || Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
            try {
                Files.move(kept, target, StandardCopyOption.ATOMIC_MOVE);
                return true;
            } catch (IOException e) {
                return false; // written anew; the kept file goes with its directory
            }
        }
    }

    static void doneWriting(Path target) {
        synchronized (WRITING) {
            WRITING.remove(target);
        }
    }

    /** Gives the directory up and removes it with all it holds (its image file may be kept: see above). */
    public static void delete(Path dir) {
        keep(dir);
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

    /**
     * Moves {@code dir}'s image file to its staging directory's kept one if nothing writes it and it
     * is larger than the one kept (which it replaces), cut to {@link #keepUpTo} first if longer: the
     * next image is written over what there is and grows the file past it.
     */
    private static void keep(Path dir) {
        long limit = keepUpTo;
        Path image = dir.resolve(IMAGE), staging = dir.getParent();
        if (limit == 0 || !HELD.containsKey(dir) || dir.getFileName().toString().startsWith(KEPT_PREFIX)) {
            return;
        }
        synchronized (WRITING) {
            try {
                if (WRITING.contains(image) || !Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS)) {
                    return;
                }
                long size = Math.min(limit, Files.size(image));
                Path keptDir = KEPT.get(staging);
                Path kept = keptDir == null ? null : keptDir.resolve(IMAGE);
                if (size == 0 || (kept != null && Files.exists(kept) && Files.size(kept) >= size)) {
                    return;
                }
                try (FileChannel f = FileChannel.open(image, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    f.truncate(size);
                }
                // the next image is written into it as it is: 0600 whoever made it
                Files.setPosixFilePermissions(image, PrivateModes.FILE);
                if (keptDir == null) {
                    keptDir = create(staging, KEPT_PREFIX);
                    KEPT.put(staging, keptDir);
                    Path made = keptDir;
                    // an agent stopping removes it (a killed one's goes at the next start: sweep)
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(made), "cryo-staging-kept"));
                }
                Files.move(image, keptDir.resolve(IMAGE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                // not kept: removed with the directory
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
