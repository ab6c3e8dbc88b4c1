package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A plain {@code java -cp . Main} with default JVM flags (perf data on, so it maps
 * /tmp/hsperfdata_USER/PID) and 20 threads is dumped, restored and carries on. cryo's own JVM runs
 * with -XX:-UsePerfData: a JVM with perf data deletes, at start-up, the hsperfdata files of the
 * JVMs of its user it believes dead — a dumped JVM's among them —, and the restore would miss it.
 *
 * <p>The workload runs as nobody, so that only this test deletes its file when it means to: a
 * JVM cleans only its own user's directory, and root's JVMs come and go on this host all the time.
 */
class JavaWorkloadTest {
    @TempDir
    Path tmp;

    @Test
    void cryosOwnJvmKeepsNoPerfData() {
        // the CLI runs in this JVM, as it runs in ./cryo's and the package's (all pass -XX:-UsePerfData)
        assertTrue(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
                .contains("-XX:-UsePerfData"), "the test JVM runs cryo: it needs -XX:-UsePerfData (surefire argLine)");
        assertFalse(Files.exists(Path.of("/tmp/hsperfdata_root/" + ProcessHandle.current().pid())));
    }

    /** Compiles the workload and starts it as nobody with default JVM flags; returns it once ready. */
    private DetachedProcess startJvm(Path app) throws Exception {
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(app);
        try (InputStream in = getClass().getResourceAsStream("/jvm/Main.java")) {
            Files.write(app.resolve("Main.java"), in.readAllBytes());
        }
        Path bin = Path.of(System.getProperty("java.home"), "bin");
        Process javac = new ProcessBuilder(bin.resolve("javac").toString(), "-d", app.toString(),
                app.resolve("Main.java").toString()).redirectErrorStream(true).start();
        String javacOut = new String(javac.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, javac.waitFor(), javacOut);
        return Workloads.ready(DetachedProcess.start(app.resolve("java.out"), "setpriv",
                "--reuid=65534", "--regid=65534", "--clear-groups", bin.resolve("java").toString(), "-cp", ".", "Main"));
    }

    /** Asks the restored JVM to check its threads (SIGUSR2 belongs to the JVM: a file asks) and reads PASS. */
    private static void assertCarriesOn(DetachedProcess r, Path app) throws Exception {
        Thread.sleep(500);
        Files.createFile(app.resolve("check"));
        DetachedProcess.awaitCondition(() -> {
            try {
                String o = r.outputText();
                return o.contains("PASS") || o.contains("FAIL");
            } catch (java.io.IOException e) {
                return false;
            }
        }, Duration.ofSeconds(60), "the restored JVM to print PASS or FAIL");
        String out = r.outputText();
        assertTrue(out.contains("PASS threads=20"), out);
        assertEquals(1, out.split("ready", -1).length - 1, "the restored JVM started over:\n" + out);
    }

    @Test
    void aDefaultFlagsJvmWithTwentyThreadsDumpsRestoresAndCarriesOn() throws Exception {
        Path app = tmp.resolve("app");
        try (DetachedProcess p = startJvm(app)) {
            int pid = p.pid().value();
            Path perfData = Path.of("/tmp/hsperfdata_nobody/" + pid);
            assertTrue(Files.exists(perfData), "a default-flags JVM maps " + perfData);
            assertTrue(Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
                    .anyMatch(l -> l.matches("Threads:\\s+(\\d{2,})") && Integer.parseInt(l.split("\\s+")[1]) > 20));
            Thread.sleep(300);
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertTrue(Files.exists(perfData), "cryo left the restored JVM's " + perfData + " in place");
                assertCarriesOn(r, app);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * Any JVM that starts deletes the perf-data files of its user's dead JVMs: once a dumped JVM's
     * tree is gone, its file goes with the next Java program. The image holds its counters and the
     * restore makes the file again, with its owner, where jps looks for it.
     */
    @Test
    void aJvmWhosePerfDataFileAnotherJvmDeletedIsRestored() throws Exception {
        Path app = tmp.resolve("app");
        try (DetachedProcess p = startJvm(app)) {
            int pid = p.pid().value();
            Path perfData = Path.of("/tmp/hsperfdata_nobody/" + pid);
            DumpRestore d = DumpRestore.dump(pid, tmp.resolve("img"));
            Files.delete(perfData); // what the next JVM of user nobody would do
            DetachedProcess r = d.restoreDetached(p.output());
            try {
                assertTrue(Files.isRegularFile(perfData), "the restored JVM's " + perfData);
                assertEquals(65534, Files.getAttribute(perfData, "unix:uid"));
                assertCarriesOn(r, app);
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }
}
