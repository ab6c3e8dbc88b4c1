package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** A restore that cannot be done is refused with a clear cause, leaves no process, and never touches the image. */
class RestoreFailureTest {
    @TempDir
    Path tmp;

    private static byte[] imageBytes(Path img) throws Exception {
        return Files.readAllBytes(img.resolve("image.cryo"));
    }

    private static void assertNothingLeft(int pid) {
        assertFalse(Files.exists(Path.of("/proc/" + pid)) && !zombieOfOther(pid), "pid " + pid + " must not exist");
    }

    private static boolean zombieOfOther(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void aBusyPidIsRefusedNamingItsOwner() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path img = tmp.resolve("img");
            assertEquals(0, Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress").code());
            byte[] before = imageBytes(img);
            Cli r = Cli.run("-Dcryo.restore.pid-wait=0s", "restore", "-D", img.toString(), "-d");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("pid " + p.pid() + " is in use by 'counter'"), r.err());
            assertArrayEquals(before, imageBytes(img));
            assertTrue(Workloads.check(p).contains("PASS"), "the process holding the pid is unharmed");
        }
    }

    @Test
    void aChangedFileIsRefused() throws Exception {
        Path bin = tmp.resolve("counter-copy");
        Files.copy(TestPrograms.compile("/c/counter.c"), bin, StandardCopyOption.COPY_ATTRIBUTES);
        int pid;
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("c.out"), bin.toString(),
                tmp.resolve("c.txt").toString()))) {
            pid = p.pid().value();
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        Files.write(bin, new byte[]{1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
        byte[] before = imageBytes(img);
        Cli r = Cli.run("restore", "-D", img.toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains(bin + " changed since the dump"), r.err());
        assertArrayEquals(before, imageBytes(img));
        assertNothingLeft(pid);
    }

    @Test
    void aCorruptImageIsRefusedAndNothingIsCreated() throws Exception {
        int pid;
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            pid = p.pid().value();
            assertEquals(0, Cli.run("dump", "-t", Integer.toString(pid), "-D", img.toString(), "--no-progress").code());
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(10), "reaped");
        }
        try (RandomAccessFile f = new RandomAccessFile(img.resolve("image.cryo").toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 1);
        }
        byte[] before = imageBytes(img);
        Cli r = Cli.run("restore", "-D", img.toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("image.cryo chunk"), r.err());
        assertArrayEquals(before, imageBytes(img));
        assertNothingLeft(pid);
    }

    @Test
    void aMissingImageIsNamed() {
        Cli r = Cli.run("restore", "-D", tmp.resolve("nothing-here").toString(), "-d");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("nothing-here"), r.err());
    }
}
