package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The progress bar appears on a terminal once a dump has run for the progress delay (0 here,
 * so the test does not depend on how fast the machine is), and never with --no-progress. The
 * packaged CLI runs under script(1), which gives it a pseudo-terminal.
 */
class ProgressBarTest {
    private static final Path JAR = Path.of("../actors/target/cryo.jar").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    private String dumpOnATerminal(DetachedProcess p, String dir, String... extra) throws Exception {
        String cmd = "java -jar " + JAR + " -Dcryo.dump.progress-delay=0s dump -t " + p.pid() + " -D " + tmp.resolve(dir) + " -R "
                + String.join(" ", extra);
        Process script = new ProcessBuilder("script", "-qfec", cmd, "/dev/null").redirectErrorStream(true).start();
        String out = new String(script.getInputStream().readAllBytes());
        assertTrue(script.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, script.exitValue(), out);
        return out;
    }

    @Test
    void aLongDumpShowsProgressOnATerminal() throws Exception {
        assumeTrue(Files.exists(JAR), "the packaged CLI " + JAR + " is built by `mvn verify` (package phase)");
        try (DetachedProcess p = Workloads.bigmem(tmp, 256)) {
            String shown = dumpOnATerminal(p, "img1");
            assertTrue(shown.contains("dumping [") && shown.contains("%"), shown);
            String quiet = dumpOnATerminal(p, "img2", "--no-progress");
            assertFalse(quiet.contains("dumping ["), quiet);
            assertTrue(quiet.contains("Dumped 1 task"), quiet);
        }
    }

    @Test
    void aRestoreShowsProgressOnATerminalAndWritesItsStatsBesideTheImage() throws Exception {
        assumeTrue(Files.exists(JAR), "the packaged CLI " + JAR + " is built by `mvn verify` (package phase)");
        int pid;
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.bigmem(tmp, 256)) {
            pid = p.pid().value();
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
        }
        String cmd = "java -jar " + JAR + " -Dcryo.restore.progress-delay=0s restore -d -D " + img;
        Process script = new ProcessBuilder("script", "-qfec", cmd, "/dev/null").redirectErrorStream(true).start();
        String out = new String(script.getInputStream().readAllBytes());
        try {
            assertTrue(script.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, script.exitValue(), out);
            assertTrue(out.contains("restoring [") && out.contains("%"), out);
            Path stats = img.resolve("stats-restore.json");
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(stats)));
            String json = Files.readString(stats);
            assertTrue(json.contains("\"rootPid\" : " + pid) || json.contains("\"rootPid\": " + pid), json);
            assertTrue(json.matches("(?s).*\"pagesWritten\" ?: ?[1-9]\\d{4,}.*"), json); // 256 MiB: 65536 pages
        } finally {
            if (Files.exists(Path.of("/proc/" + pid))) {
                new ProcessBuilder("kill", "-9", Integer.toString(pid)).start().waitFor();
            }
        }
    }
}
