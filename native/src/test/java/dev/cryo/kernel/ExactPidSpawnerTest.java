package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The throw-away stub that forks a program with a chosen pid is forked with whatever pid the kernel
 * hands out next. When the host's next pid was just set back below the chosen one (another restore
 * writing ns_last_pid: cryo's inside a user namespace, CRIU's), that is the chosen pid itself, a
 * root's its dump just freed: the stub's clone3 then found its own pid taken (a restore failed with
 * "pid N kept being taken by other processes", nothing in /proc holding it between the tries).
 */
class ExactPidSpawnerTest {
    private static final Path NS_LAST_PID = Path.of("/proc/sys/kernel/ns_last_pid");

    @Test
    void aPidTheStubWouldGetItselfIsStillGivenToTheProgram() throws Exception {
        for (int attempt = 1; ; attempt++) {
            Pid freed = Spawner.spawn("/bin/true", List.of("true"), List.of(), false);
            Spawner.reap(freed);
            int pid = freed.value();
            // the next fork gets pid, unless the host forks in this instant
            Files.writeString(NS_LAST_PID, Integer.toString(pid - 1));
            Pid got;
            try {
                got = ExactPidSpawner.spawn(pid, pid, "/bin/sleep", List.of("sleep", "1000"), false);
            } catch (ExactPidSpawner.PidTakenException e) {
                // another process of the host holds it now: not the stub's own pid (which it gave back); try again
                if (attempt < 5 && Files.exists(Path.of("/proc/" + pid))) continue;
                throw e;
            }
            try {
                assertEquals(pid, got.value());
                return;
            } finally {
                Spawner.killAndReap(got);
            }
        }
    }
}
