package dev.cryo.kernel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What DirectoryChanges tells: nothing for reads, a change for a write, an owner, an entry, a directory it could not watch. */
class DirectoryChangesTest {
    @TempDir
    Path tmp;

    @Test
    void readsAreNoChangeAndWritesOwnersAndEntriesAre() throws Exception {
        Path file = Files.writeString(tmp.resolve("setting"), "1");
        try (DirectoryChanges c = DirectoryChanges.open()) {
            c.watch(tmp);
            Files.readString(file);
            try (var list = Files.list(tmp)) {
                list.count();
            }
            assertFalse(c.changed(), "reading is no change");
        }
        try (DirectoryChanges c = DirectoryChanges.open()) {
            c.watch(tmp);
            Files.writeString(file, "2");
            assertTrue(c.changed(), "a write");
        }
        try (DirectoryChanges c = DirectoryChanges.open()) {
            c.watch(tmp);
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            assertTrue(c.changed(), "a mode");
        }
        try (DirectoryChanges c = DirectoryChanges.open()) {
            c.watch(tmp);
            Files.createDirectory(tmp.resolve("below"));
            assertTrue(c.changed(), "an entry made");
        }
    }

    @Test
    void aDirectoryThatCannotBeWatchedCountsAsChanged() {
        try (DirectoryChanges c = DirectoryChanges.open()) {
            c.watch(tmp.resolve("gone"));
            assertTrue(c.changed());
        }
    }
}
