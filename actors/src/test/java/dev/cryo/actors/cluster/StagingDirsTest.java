package dev.cryo.actors.cluster;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * An agent killed mid-migration leaves a staging directory holding part of a tree's memory; the
 * next agent to start removes it, and never one that a live agent (another process) still uses.
 */
class StagingDirsTest {
    @TempDir
    Path staging;

    /** Another process holding {@code dir}'s owner lock, as a live agent does; ready once it holds it. */
    private static Process liveOwner(Path dir) throws Exception {
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", String.join("\n",
                "import fcntl, sys, time",
                "f = open(sys.argv[1], 'r+')",
                "fcntl.lockf(f, fcntl.LOCK_EX)",
                "print('held', flush=True)",
                "time.sleep(60)"), dir.resolve(".owner").toString()).redirectErrorStream(true).start();
        assertEquals("held", new String(p.getInputStream().readNBytes(4)));
        return p;
    }

    @Test
    void aKilledAgentsDirectoryIsRemovedAndALiveOnesIsKept() throws Exception {
        Path dead = StagingDirs.create(staging, "in-");
        Files.writeString(dead.resolve("image.cryo"), "part of a tree's memory");
        Path live = StagingDirs.create(staging, "in-");
        Path ours = StagingDirs.create(staging, "warm-");
        Path foreign = Files.createDirectory(staging.resolve("kept")); // not made by an agent
        assertEquals(0, StagingDirs.sweep(staging), "every directory is held by this process");

        // give two up as a killed agent would (the lock goes with its fds), one taken by a live agent
        for (Path d : new Path[] {dead, live}) {
            Path copy = Files.createDirectory(staging.resolve(d.getFileName() + "-copy"));
            try (var files = Files.list(d)) {
                for (Path f : files.toList()) {
                    Files.copy(f, copy.resolve(f.getFileName()));
                }
            }
            StagingDirs.delete(d);
            Files.move(copy, d);
        }
        Process agent = liveOwner(live);
        try {
            assertEquals(1, StagingDirs.sweep(staging));
            assertFalse(Files.exists(dead), "the killed agent's directory is left");
            assertTrue(Files.isDirectory(live), "a live agent's directory was removed");
            assertTrue(Files.isDirectory(ours) && Files.isDirectory(foreign));
        } finally {
            agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        assertEquals(1, StagingDirs.sweep(staging), "once its agent is gone, its directory goes too");
        assertFalse(Files.exists(live));
        StagingDirs.delete(ours);
    }
}
