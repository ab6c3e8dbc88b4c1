package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The lock watchdog of a dump that may lock (a pre-copy's, --tcp-established) is spawned before the freeze
 * ({@link SocketDumpState#armAhead}), not at the first lock inside it: it waits with no task listed (cryo's death then
 * undoes nothing), learns the tree's tasks at the first lock, and a dump that never locked ends it. A tree holding no
 * socket gets none.
 */
class LockWatchdogAheadTest {
    @TempDir
    Path tmp;

    private static final Pid SELF = Pid.of((int) ProcessHandle.current().pid());

    @Test
    void aWatchdogSpawnedBeforeTheFreezeLearnsTheTreeAtTheFirstLockAndEndsWithTheDump() throws Exception {
        try (Fd held = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0)) { // this JVM holds a socket
            SocketDumpState st = new SocketDumpState(new SocketDumpState.Options(true, false, false, false), SELF, List.of(SELF));
            st.armAhead(List.of(SELF));
            LockWatchdog w = st.armed();
            assertNotNull(w, "spawned for a tree holding a socket");
            Path file = w.file();
            assertEquals("cryo-lock-watch 1\n", Files.readString(file), "no task listed before the first lock");
            assertTrue(watcherAlive(file), "the watcher waits on cryo's pipe");
            assertSame(w, st.watchdog(), "the first lock takes the watchdog spawned ahead");
            assertEquals("cryo-lock-watch 1\ntask " + SELF + " " + ProcFs.stat(SELF).starttime() + "\n", Files.readString(file));
            st.abandon();
            assertFalse(Files.exists(file), "the watch file goes with the dump");
            awaitGone(file);
        }
    }

    @Test
    void anUnusedOneEndsWithTheDumpAndATreeWithoutSocketsGetsNone() throws Exception {
        try (Fd held = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0)) {
            SocketDumpState st = new SocketDumpState(new SocketDumpState.Options(true, false, false, false), SELF, List.of(SELF));
            st.armAhead(List.of(SELF));
            Path file = st.armed().file();
            st.release(false, true);
            awaitGone(file);
            assertFalse(Files.exists(file));
        }
        try (DetachedProcess sleeper = DetachedProcess.start(tmp.resolve("sleep"), "sh", "-c", "echo ready && exec sleep 600")) {
            sleeper.awaitOutput("ready", Duration.ofSeconds(60));
            SocketDumpState st = new SocketDumpState(new SocketDumpState.Options(true, false, false, false), sleeper.pid(),
                    List.of(sleeper.pid()));
            st.armAhead(List.of(sleeper.pid()));
            assertNull(st.armed(), "no socket in the tree: no watchdog");
            st.abandon();
        }
    }

    /** Whether a process with {@code file} among its arguments (the watcher shell) lives. */
    private static boolean watcherAlive(Path file) {
        try (var procs = Files.list(Path.of("/proc"))) {
            return procs.filter(d -> d.getFileName().toString().matches("\\d+")).anyMatch(d -> {
                try {
                    return new String(Files.readAllBytes(d.resolve("cmdline"))).contains(file.toString())
                            && ProcFs.stat(Pid.of(Integer.parseInt(d.getFileName().toString()))).state() != 'Z';
                } catch (Exception gone) {
                    return false;
                }
            });
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void awaitGone(Path file) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (watcherAlive(file)) {
            assertTrue(System.nanoTime() < deadline, "the watcher of " + file + " did not end with the dump");
            Thread.sleep(20);
        }
    }
}
