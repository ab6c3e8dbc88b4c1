package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** `cryo dump` on real workloads, as a user runs it. */
class DumpTest {
    @TempDir
    Path tmp;

    private static void assertImage(Path dir) throws Exception {
        assertTrue(Files.isRegularFile(dir.resolve("image.cryo")), "image.cryo written");
        assertFalse(Files.exists(dir.resolve("image.cryo.partial")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("image.cryo"))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("stats.json"))));
    }

    @Test
    void dumpsACounterAndLeavesItRunningUnharmed() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Thread.sleep(100);
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--leave-running", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("Dumped 1 task (1 thread) of pid " + p.pid()), r.out());
            assertImage(img);
            assertTrue(p.alive());
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void dumpsAMultiThreadedProgram() throws Exception {
        try (DetachedProcess p = Workloads.threads(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("(5 threads)"), r.out());
            assertImage(img);
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void dumpsAThreeLevelTreeWithAPipe() throws Exception {
        try (DetachedProcess p = Workloads.tree(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("Dumped 3 tasks"), r.out());
            assertImage(img);
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void dumpsAPythonProgram() throws Exception {
        try (DetachedProcess p = Workloads.python(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertImage(img);
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void withoutLeaveRunningTheTreeIsKilledLikeCriuDump() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("the tree was killed"), r.out());
            assertImage(img);
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the dumped process to be gone");
        }
    }
}
