package dev.cryo.engine.restore;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Spawner;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The pid check on real processes: a live owner is named, a zombie is waited for, saying so. */
class RestoreValidatorTest {
    /** A child of this JVM that has exited and that nobody has reaped yet. */
    private static Pid zombie() throws Exception {
        Pid pid = Spawner.spawn("/bin/true", List.of("true"), List.of(), false);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            if (stat.charAt(stat.lastIndexOf(')') + 2) == 'Z') {
                return pid;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("no zombie");
    }

    /**
     * A root pid taken between the validation and the spawn: tried again after a pause (the
     * supervisor waits for it on a timer) while a zombie or nobody holds it, then refused naming
     * what held it; a live holder is named at once. Before, five tries within milliseconds failed
     * naming no one ('pid N kept being taken by other processes while restoring').
     */
    @Test
    void aRootPidTakenForAMomentIsTriedAgainAndItsHoldersNamed() throws Exception {
        Pid z = zombie();
        try {
            RootPidRetry waiting = new RootPidRetry(z.value(), Duration.ofSeconds(30));
            Duration first = waiting.next().orElseThrow();
            assertTrue(waiting.next().orElseThrow().compareTo(first) > 0, "the pauses grow");
            RootPidRetry over = new RootPidRetry(z.value(), Duration.ZERO);
            Thread.sleep(1);
            assertTrue(over.next().isEmpty(), "tried again past restore.pid-wait");
            String m = over.gaveUp().getMessage();
            assertTrue(m.startsWith("pid " + z + " kept being taken by other processes while restoring (1 tries in "), m);
            assertTrue(m.contains("held by a zombie of 'true' (parent " + ProcessHandle.current().pid() + ")"), m);
            assertTrue(m.contains("raise cryo.restore.pid-wait (0 ms)"), m);
        } finally {
            Spawner.reap(z);
        }
        int self = (int) ProcessHandle.current().pid();
        RestoreException live = assertThrows(RestoreException.class, () -> new RootPidRetry(self, Duration.ofSeconds(30)).next());
        assertTrue(live.getMessage().startsWith("pid " + self + " is in use by '"), live.getMessage());
    }

    @Test
    void aPidHeldByAZombieIsWaitedForAndFreedWhenReaped() throws Exception {
        Pid z = zombie();
        List<String> notices = new ArrayList<>();
        Thread reaper = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException ignored) {
                // reap now
            }
            Spawner.reap(z);
        });
        reaper.start();
        RestoreValidator.checkPidFree(z.value(), Duration.ofSeconds(10), notices::add);
        reaper.join();
        assertEquals(1, notices.size(), notices.toString());
        assertTrue(notices.get(0).contains("pid " + z + " is held by a zombie of 'true'"), notices.get(0));
    }

    @Test
    void aZombieThatStaysIsReportedAfterTheWait() throws Exception {
        Pid z = zombie();
        try {
            RestoreException e = assertThrows(RestoreException.class,
                    () -> RestoreValidator.checkPidFree(z.value(), Duration.ofMillis(100), n -> { }));
            assertEquals("pid " + z + " is in use by 'true' (a zombie its parent has not reaped)", e.getMessage());
        } finally {
            Spawner.reap(z);
        }
    }

    @Test
    void aLiveOwnerIsNamed() {
        int self = (int) ProcessHandle.current().pid();
        RestoreException e = assertThrows(RestoreException.class,
                () -> RestoreValidator.checkPidFree(self, Duration.ofSeconds(1), n -> { }));
        assertTrue(e.getMessage().startsWith("pid " + self + " is in use by 'java'"), e.getMessage());
    }

    // ---- files: what must still hold depends on how the task used the file ----

    @org.junit.jupiter.api.io.TempDir
    Path tmp;

    private static dev.cryo.engine.model.FileRef ref(Path p) throws Exception {
        return dev.cryo.engine.files.FileIdentity.of(p.toString(), p);
    }

    private static String refusal(Runnable check) {
        return assertThrows(RestoreException.class, check::run).getMessage();
    }

    @Test
    void aDirectoryOnlyHasToExistAndBeADirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        var dumped = ref(dir);
        Files.writeString(dir.resolve("new-file"), "x"); // the directory's mtime and size change
        RestoreValidator.checkFile("pid 1 fd 3", dumped, dev.cryo.engine.files.FileIdentity.Use.OPEN);
        RestoreValidator.checkDirectory("pid 1 cwd", dir.toString());
        Files.delete(dir.resolve("new-file"));
        Files.delete(dir);
        assertEquals("pid 1 cwd: directory " + dir + " is missing",
                refusal(() -> RestoreValidator.checkDirectory("pid 1 cwd", dir.toString())));
        Files.writeString(dir, "now a file");
        assertEquals("pid 1 fd 3: " + dir + " is no longer a directory", refusal(() -> RestoreValidator.checkFile(
                "pid 1 fd 3", dumped, dev.cryo.engine.files.FileIdentity.Use.OPEN)));
    }

    /** A file gone is missing; one that cannot be reached says why (it said "is missing (PATH)" for both). */
    @Test
    void aMissingFileIsToldFromOneThatCannotBeRead() throws Exception {
        Path f = Files.writeString(tmp.resolve("f"), "x");
        var dumped = ref(f);
        Files.delete(f);
        assertEquals("pid 1 fd 3: " + f + " is missing", refusal(() -> RestoreValidator.checkFile("pid 1 fd 3", dumped,
                dev.cryo.engine.files.FileIdentity.Use.OPEN)));
        Path dir = Files.createDirectory(tmp.resolve("d"));
        Path g = Files.writeString(dir.resolve("g"), "x");
        var dumpedG = ref(g);
        Files.delete(g);
        Files.delete(dir);
        Files.writeString(dir, "a file where the directory was");
        assertEquals("pid 1 fd 4: " + g + " cannot be read: Not a directory", refusal(() -> RestoreValidator.checkFile(
                "pid 1 fd 4", dumpedG, dev.cryo.engine.files.FileIdentity.Use.OPEN)));
    }

    @Test
    void aFileOpenForAppendingMayGrowButNotShrink() throws Exception {
        Path log = Files.writeString(tmp.resolve("log"), "one\n");
        var dumped = ref(log);
        Files.writeString(log, "two\n", java.nio.file.StandardOpenOption.APPEND);
        RestoreValidator.checkFile("pid 1 fd 4", dumped, dev.cryo.engine.files.FileIdentity.Use.APPENDING);
        assertTrue(refusal(() -> RestoreValidator.checkFile("pid 1 fd 4", dumped,
                dev.cryo.engine.files.FileIdentity.Use.OPEN)).contains("its size changed (4 → 8 bytes)"));
        Files.writeString(log, "");
        assertEquals("pid 1 fd 4: " + log + " changed since the dump: it was truncated (4 → 0 bytes); a file open for "
                + "appending may only grow", refusal(() -> RestoreValidator.checkFile("pid 1 fd 4", dumped,
                dev.cryo.engine.files.FileIdentity.Use.APPENDING)));
    }

    @Test
    void aMappedFileMustBeUnchangedAndTheSameFile() throws Exception {
        Path lib = Files.writeString(tmp.resolve("lib.so"), "code");
        var dumped = ref(lib);
        RestoreValidator.checkFile("pid 1 mapping at 0x1000", dumped, dev.cryo.engine.files.FileIdentity.Use.MAPPED);
        Files.setLastModifiedTime(lib, java.nio.file.attribute.FileTime.fromMillis(0));
        assertTrue(refusal(() -> RestoreValidator.checkFile("pid 1 mapping at 0x1000", dumped,
                dev.cryo.engine.files.FileIdentity.Use.MAPPED)).endsWith("it was modified after the dump"));
        Path other = Files.writeString(tmp.resolve("lib.so.new"), "code"); // same content, another inode
        Files.move(other, lib, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertTrue(refusal(() -> RestoreValidator.checkFile("pid 1 mapping at 0x1000", dumped,
                dev.cryo.engine.files.FileIdentity.Use.APPENDING)).contains("it is another file now"));
    }
}
