package dev.cryo.kernel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What DirectoryChanges tells: nothing for reads, a change for a write, an owner, an entry, a directory it could not watch. */
class DirectoryChangesTest {
    @TempDir
    Path tmp;

    @Test
    void readsAreNoChangeAndWritesOwnersAndEntriesAre() throws Exception {
        Path file = Files.writeString(tmp.resolve("setting"), "1");
        try (DirectoryChanges c = opened()) {
            c.watch(tmp);
            Files.readString(file);
            try (var list = Files.list(tmp)) {
                list.count();
            }
            assertFalse(c.changed(), "reading is no change");
        }
        try (DirectoryChanges c = opened()) {
            c.watch(tmp);
            Files.writeString(file, "2");
            assertTrue(c.changed(), "a write");
        }
        try (DirectoryChanges c = opened()) {
            c.watch(tmp);
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            assertTrue(c.changed(), "a mode");
        }
        try (DirectoryChanges c = opened()) {
            c.watch(tmp);
            Files.createDirectory(tmp.resolve("below"));
            assertTrue(c.changed(), "an entry made");
        }
    }

    @Test
    void aDirectoryThatCannotBeWatchedCountsAsChanged() throws Exception {
        try (DirectoryChanges c = opened()) {
            c.watch(tmp.resolve("gone"));
            assertTrue(c.changed());
        }
    }

    @Test
    void cryoHoldsAtMostItsShareOfTheUsersInstances() throws Exception {
        int limit = Integer.parseInt(java.nio.file.Files.readAllLines(
                Path.of("/proc/sys/fs/inotify/max_user_instances")).get(0).trim());
        java.util.List<DirectoryChanges> held = new java.util.ArrayList<>();
        try {
            DirectoryChanges c;
            while ((c = DirectoryChanges.tryOpen()) != null) {
                held.add(c);
                assertTrue(held.size() <= Math.max(1, limit / 8), held.size() + " instances of a limit of " + limit);
            }
            // its whole share, not fewer (it read the limit "128" as 1 and held a single instance)
            assertEquals(Math.max(1, limit / 8), held.size(), "instances held of a limit of " + limit);
            held.remove(0).close();
            held.add(opened()); // a closed instance is given back

        } finally {
            held.forEach(DirectoryChanges::close);
        }
    }

    /**
     * A task's reads before a freeze (cgroups, mapped files) share one instance: a change either
     * watched is seen by both, and the instance stays open until its last holder closes it.
     */
    @Test
    void aSharedInstanceSeesWhatEitherWatchedAndClosesWithItsLastHolder() throws Exception {
        try (DirectoryChanges a = opened()) {
            DirectoryChanges b = a.share();
            Path file = Files.writeString(tmp.resolve("watched"), "1");
            b.watch(file); // a file, not a directory
            assertFalse(a.changed());
            Files.writeString(file, "2");
            assertTrue(a.changed(), "a write to the file b watched");
            b.close();
            assertTrue(a.changed(), "still open for a");
        }
    }

    /** An instance, once one is given back (a close runs on a thread of its own). */
    private static DirectoryChanges opened() throws InterruptedException {
        long until = System.nanoTime() + 10_000_000_000L;
        DirectoryChanges c;
        while ((c = DirectoryChanges.tryOpen()) == null && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        assertTrue(c != null, "no inotify instance given back");
        return c;
    }
}
