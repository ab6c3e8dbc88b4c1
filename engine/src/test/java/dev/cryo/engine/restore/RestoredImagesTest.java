package dev.cryo.engine.restore;

import dev.cryo.engine.model.DumpInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The marks of restored images: one per image (host, root pid, dump time), private to root, read back. */
class RestoredImagesTest {
    private static DumpInfo info(String host, int root, long created) {
        return new DumpInfo("1", created, host, "6.1", root, List.of(root), 832, false);
    }

    @Test
    void anImageRestoredOnceIsKnownAgainAndAnotherImageIsNot(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("restored");
        DumpInfo img = info("vm", 4242, 1_700_000_000_000L);
        assertTrue(RestoredImages.earlier(dir, img).isEmpty(), "no mark before the first restore");
        RestoredImages.record(dir, img, 4242, 1_700_000_100_000L);
        assertEquals(new RestoredImages.Earlier(1_700_000_100_000L, 4242), RestoredImages.earlier(dir, img).orElseThrow());
        // another dump of the same pid (a later time) or on another host is another image
        assertTrue(RestoredImages.earlier(dir, info("vm", 4242, 1_700_000_000_001L)).isEmpty());
        assertTrue(RestoredImages.earlier(dir, info("other", 4242, 1_700_000_000_000L)).isEmpty());
        // the latest restore is the one named
        RestoredImages.record(dir, img, 4242, 1_700_000_200_000L);
        assertEquals(1_700_000_200_000L, RestoredImages.earlier(dir, img).orElseThrow().epochMillis());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        try (var marks = Files.list(dir)) {
            List<Path> all = marks.toList();
            assertEquals(1, all.size(), all.toString());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(all.get(0))));
        }
        assertTrue(RestoredImages.earlier(dir, img).orElseThrow().warning().contains("root pid 4242"));
    }

    /**
     * A restore writes its mark and reads no other (a migration's restore read all 256 of a busy host's
     * marks before its tree was reported running); the marks are pruned apart, once they are SLACK
     * more than KEPT, down to KEPT.
     */
    @Test
    void onlyTheNewestMarksAreKept(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("restored");
        int above = RestoredImages.KEPT + RestoredImages.SLACK;
        for (int i = 0; i < RestoredImages.KEPT + 5; i++) { // restored in this order, the first twice
            RestoredImages.record(dir, info("vm", 100 + i, 1_700_000_000_000L), 100 + i, 1_700_000_100_000L + i);
        }
        try (var marks = Files.list(dir)) {
            assertEquals(RestoredImages.KEPT + 5, marks.count(), "a restore pruned the marks");
        }
        RestoredImages.prune(dir, RestoredImages.KEPT, above);
        try (var marks = Files.list(dir)) {
            assertEquals(RestoredImages.KEPT + 5, marks.count(), "pruned before SLACK more than KEPT");
        }
        for (int i = RestoredImages.KEPT + 5; i < above; i++) {
            RestoredImages.record(dir, info("vm", 100 + i, 1_700_000_000_000L), 100 + i, 1_700_000_100_000L + i);
        }
        RestoredImages.record(dir, info("vm", 100, 1_700_000_000_000L), 100, 1_700_000_200_000L);
        Files.writeString(dir.resolve(".mark123"), "left by a killed restore");
        Files.setLastModifiedTime(dir.resolve(".mark123"), java.nio.file.attribute.FileTime.fromMillis(0));
        RestoredImages.record(dir, info("vm", 9999, 1_700_000_000_000L), 9999, 1_700_000_300_000L);
        RestoredImages.prune(dir, RestoredImages.KEPT, above);
        try (var marks = Files.list(dir)) {
            assertEquals(RestoredImages.KEPT, marks.count(), "marks are not bounded");
        }
        assertTrue(RestoredImages.earlier(dir, info("vm", 100, 1_700_000_000_000L)).isPresent(), "restored again lately");
        assertTrue(RestoredImages.earlier(dir, info("vm", 9999, 1_700_000_000_000L)).isPresent());
        int gone = above + 1 - RestoredImages.KEPT; // the oldest: 101 on (100 was restored again lately)
        for (int pid = 101; pid < 101 + gone; pid++) {
            assertTrue(RestoredImages.earlier(dir, info("vm", pid, 1_700_000_000_000L)).isEmpty(), "oldest kept: " + pid);
        }
        assertTrue(RestoredImages.earlier(dir, info("vm", 101 + gone, 1_700_000_000_000L)).isPresent());
    }

    @Test
    void grownAppendedFilesAreNamedOnlyWhenAnotherTreeWentOnFromTheSameMemory() {
        List<String> grown = List.of("pid 7 fd 3: /var/log/x grew by 10 bytes");
        DumpInfo killed = info("vm", 7, 1), leftRunning = new DumpInfo("1", 1, "vm", "6.1", 7, List.of(7), 832, true);
        assertNull(RestoredImages.grownWarning(grown, false, killed), "a first restore of a killed tree's image: a log others append to");
        assertNull(RestoredImages.grownWarning(List.of(), true, killed));
        assertTrue(RestoredImages.grownWarning(grown, true, killed).contains("an earlier restore of this image made or by"
                + " others: pid 7 fd 3: /var/log/x grew by 10 bytes"));
        assertTrue(RestoredImages.grownWarning(grown, false, leftRunning).contains("the tree this dump left running"));
    }

    @Test
    void aHostNameCannotNameAPathOutsideTheDirectory(@TempDir Path tmp) {
        assertEquals("_.._etc_x-1-2", RestoredImages.key(info("/../etc/x", 1, 2)));
        assertTrue(RestoredImages.earlier(tmp, null).isEmpty());
    }
}
