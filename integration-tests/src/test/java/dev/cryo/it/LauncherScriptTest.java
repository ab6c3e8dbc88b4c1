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

        // a refusal met while the tasks are collected: one line; a failed dump cancelled its deleted-file sink at its
        // abort and again as its supervisor stopped, whose overflowing semaphore logged a stack trace after the error
        try (var p = Workloads.program(tmp.resolve("sysv.out"), "sysvshm")) {
            Process refused = new ProcessBuilder(SCRIPT.toString(), "dump", "-t", p.pid().toString(), "-D",
                    tmp.resolve("img2").toString(), "--no-progress").start();
            String rOut = new String(refused.getInputStream().readAllBytes());
            String rErr = new String(refused.getErrorStream().readAllBytes());
            assertTrue(refused.waitFor(120, TimeUnit.SECONDS));
            assertEquals(1, refused.exitValue(), rOut + rErr);
            assertTrue(rErr.startsWith("cryo: dump failed: pid " + p.pid() + " maps the SysV shared memory segment"), rErr);
            assertEquals(1, rErr.strip().lines().count(), "one line, no stack trace:\n" + rErr);
        }

        Process version = new ProcessBuilder(SCRIPT.toString(), "--version").start();
        String v = new String(version.getInputStream().readAllBytes());
        version.getErrorStream().readAllBytes();
        assertTrue(version.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, version.exitValue());
        assertTrue(v.startsWith("cryo "), v);
    }
    /**
     * A JVM that cannot unpack JNA's native library (zdtm's h sweep met it with the disk full for a moment) printed
     * the UnsatisfiedLinkError's stack trace and then ran on for ever: the actor system was up before the warm-up
     * loaded the library, and its threads kept the JVM alive (zdtm.py waited 300 s, then gave its whole run up). It
     * says so in one line and ends now. JNA's directory made a file here, so it fails to unpack the same way.
     */
    @Test
    void aCliWhoseNativeLibraryCannotLoadSaysSoInOneLineAndEnds() throws Exception {
        assumeTrue(Files.exists(JAR), "the packaged CLI " + JAR + " is built by `mvn verify` (package phase)");
        Path notADirectory = Files.createFile(tmp.resolve("jna"));
        Process target = new ProcessBuilder("sleep", "120").start(); // what a dump that did run would take
        Process dump = null;
        try {
            ProcessBuilder b = new ProcessBuilder(SCRIPT.toString(), "dump", "-t", Long.toString(target.pid()), "-D",
                    tmp.resolve("img").toString(), "--no-progress");
            b.environment().put("CRYO_JAVA_OPTS", "-Djna.tmpdir=" + notADirectory);
            dump = b.start();
            assertTrue(dump.waitFor(60, TimeUnit.SECONDS), "the CLI still runs 60 s after its error");
            String out = new String(dump.getInputStream().readAllBytes());
            String err = new String(dump.getErrorStream().readAllBytes());
            assertEquals(1, dump.exitValue(), out + err);
            assertTrue(err.startsWith("cryo: java.lang.UnsatisfiedLinkError: ") && err.contains("libjnidispatch"), err);
            assertEquals(1, err.strip().lines().count(), "one line, no stack trace:\n" + err);
        } finally {
            if (dump != null) {
                dump.destroyForcibly(); // the old CLI's JVM, still running (its launcher execs it)
            }
            target.destroyForcibly();
        }
    }

    /**
     * An agent gets a young generation of its own (a migration's page traffic through an ~8 MiB eden
     * was a collection every few MiB, delaying pre-copy receipts); a command keeps the small heap.
     * The JVM's flags as it read them, from the launcher itself.
     */
    @Test
    void anAgentGetsItsOwnYoungGenerationAndACommandDoesNot() throws Exception {
        assumeTrue(Files.exists(JAR), "the packaged CLI " + JAR + " is built by `mvn verify` (package phase)");
        String agent = flags("agent", "--no-such-option");
        assertTrue(agent.contains("-XX:MaxNewSize=67108864") && agent.contains("-XX:InitialHeapSize=201326592")
                && !agent.contains("TieredStopAtLevel"), agent);
        String command = flags("--version");
        assertTrue(!command.contains("NewSize") && command.contains("-XX:InitialHeapSize=33554432")
                && command.contains("-XX:TieredStopAtLevel=1"), command);
    }

    /** The flags the launcher's JVM says it runs with when run with {@code args}. */
    private static String flags(String... args) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(SCRIPT.toString()));
        cmd.addAll(java.util.List.of(args));
        ProcessBuilder b = new ProcessBuilder(cmd).redirectErrorStream(true);
        b.environment().put("CRYO_JAVA_OPTS", "-XX:+PrintCommandLineFlags");
        Process p = b.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertTrue(!out.contains("warning"), out); // a young generation larger than the first heap is ignored with a warning
        return out.lines().filter(l -> l.contains("-XX:")).findFirst().orElseThrow(() -> new AssertionError(out));
    }
}
