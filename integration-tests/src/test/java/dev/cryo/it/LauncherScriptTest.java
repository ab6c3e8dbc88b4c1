package dev.cryo.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The README's {@code ./cryo}, the launcher script a user runs: its output and errors reach the
 * user's terminal as the CLI writes them (an {@code exec} redirection once sent every error to
 * /dev/null, and the in-process tests could not see it).
 */
class LauncherScriptTest {
    private static final Path SCRIPT = Path.of("../cryo").toAbsolutePath().normalize();
    private static final Path JAR = Path.of("../actors/target/cryo.jar").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    @Test
    void errorsAndOutputReachTheUser() throws Exception {
        assumeTrue(Files.exists(JAR), "the packaged CLI " + JAR + " is built by `mvn verify` (package phase)");
        Process dump = new ProcessBuilder(SCRIPT.toString(), "dump", "-t", "4194304", "-D", tmp.resolve("img").toString(),
                "--no-progress").start();
        String out = new String(dump.getInputStream().readAllBytes());
        String err = new String(dump.getErrorStream().readAllBytes());
        assertTrue(dump.waitFor(120, TimeUnit.SECONDS));
        assertEquals(1, dump.exitValue(), out + err);
        assertTrue(err.contains("no process with pid 4194304"), "stderr: " + err + "\nstdout: " + out);

        Process version = new ProcessBuilder(SCRIPT.toString(), "--version").start();
        String v = new String(version.getInputStream().readAllBytes());
        version.getErrorStream().readAllBytes();
        assertTrue(version.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, version.exitValue());
        assertTrue(v.startsWith("cryo "), v);
    }
}
