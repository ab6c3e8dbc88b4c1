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
}
