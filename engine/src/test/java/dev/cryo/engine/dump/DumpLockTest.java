package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The dump lock files in /run/cryo: one a killed cryo left is removed by the next dump, a held one never. */
class DumpLockTest {
    private static final long NS = 4026531836L;

    private static void age(Path f) throws Exception {
        Files.setLastModifiedTime(f, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
    }

    @Test
    void aLockWhoseHolderDiedIsRemovedByTheNextDumpAndAHeldOneIsKept(@TempDir Path dir) throws Exception {
        Path stale = dir.resolve("dump-" + NS + "-4001.lock"), fresh = dir.resolve("dump-" + NS + "-4002.lock"),
                held = dir.resolve("dump-" + NS + "-4003.lock"), other = dir.resolve("agent.lock"),
                older = dir.resolve("dump-4006.lock");
        Files.writeString(stale, "999999\n"); // its cryo was killed: nobody holds it
        Files.writeString(older, "999997\n"); // the same, named as cryo named them before the pid namespace
        age(older);
        Files.writeString(fresh, "999998\n"); // another cryo just made it and is about to lock it
        Files.writeString(held, "");
        Files.writeString(other, "");
        age(stale);
        age(other);
        // another process holds a POSIX lock on its file (a live dump of another cryo)
        Process holder = new ProcessBuilder("/usr/bin/python3", "-c", "import fcntl,sys,time\n"
                + "f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(120)",
                held.toString()).redirectErrorStream(true).start();
        try {
            assertEquals("locked", new BufferedReader(new InputStreamReader(holder.getInputStream())).readLine());
            age(held);
            try (DumpLock mine = DumpLock.acquire(dir, NS, Pid.of(4004))) {
                assertFalse(Files.exists(stale), "the lock of a killed cryo is left behind");
                assertFalse(Files.exists(older), "the lock of a killed older cryo is left behind");
                assertTrue(Files.exists(fresh), "a lock file made just now was removed before its cryo could lock it");
                assertTrue(Files.exists(held), "a lock another cryo holds was removed");
                assertTrue(Files.exists(other), "a file that is no dump lock was removed");
                // this JVM's own lock is neither removed nor dropped by another dump's sweep
                age(dir.resolve("dump-" + NS + "-4004.lock"));
                try (DumpLock second = DumpLock.acquire(dir, NS, Pid.of(4005))) {
                    assertTrue(Files.exists(dir.resolve("dump-" + NS + "-4004.lock")));
                    DumpException again = assertThrows(DumpException.class, () -> DumpLock.acquire(dir, NS, Pid.of(4004)));
                    assertTrue(again.getMessage().contains("pid 4004 is already being dumped"), again.getMessage());
                }
            }
            DumpException refused = assertThrows(DumpException.class, () -> DumpLock.acquire(dir, NS, Pid.of(4003)));
            assertTrue(refused.getMessage().contains("pid 4003 is already being dumped"), refused.getMessage());
        } finally {
            holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        assertFalse(Files.exists(dir.resolve("dump-" + NS + "-4004.lock")), "a dump removes its own lock file at its end");
    }

    /**
     * Two cryos in two pid namespaces that share /run (zdtm.py's parallel runs, each test in a container of its own)
     * dump their own pid 71 at once: the second was refused, "pid 71 is already being dumped (by cryo process 77)".
     * A pid names a task in one namespace: the lock is of that namespace's pid, and the same pid of one namespace
     * is still one dump at a time.
     */
    @Test
    void theSamePidOfTwoPidNamespacesIsDumpedAtOnce(@TempDir Path dir) {
        try (DumpLock one = DumpLock.acquire(dir, NS, Pid.of(71));
             DumpLock other = DumpLock.acquire(dir, NS + 1, Pid.of(71))) {
            DumpException again = assertThrows(DumpException.class, () -> DumpLock.acquire(dir, NS + 1, Pid.of(71)));
            assertTrue(again.getMessage().contains("pid 71 is already being dumped"), again.getMessage());
        }
    }

    @Test
    void cryosOwnPidNamespaceIsTheOneItsProcShows() throws Exception {
        assertEquals("pid:[" + DumpLock.ownPidNamespace() + "]",
                Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString());
    }
}
