package dev.cryo.kernel.proc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Walks the live /proc: a child holding a file is found by it, cryo's own fds never are. */
class HostFdsTest {
    @TempDir
    Path tmp;

    @Test
    void findsAnotherProcessesFdByItsTargetButNeverCryosOwn() throws Exception {
        Path file = Files.writeString(tmp.resolve("held"), "x");
        Process child = new ProcessBuilder("sh", "-c", "exec 7<\"$0\"; echo ready; exec sleep 30", file.toString())
                .redirectErrorStream(true).start();
        try (FileInputStream mine = new FileInputStream(file.toFile())) { // this JVM holds it too
            assertEquals("ready", new String(child.getInputStream().readNBytes(5)));
            List<Integer> seen = new ArrayList<>();
            int[] found = HostFds.first(pid -> false, (pid, fd, target) -> {
                seen.add(pid);
                return target.equals(file.toString()) ? new int[] {pid, fd} : null;
            });
            assertEquals((int) child.pid(), found[0]);
            assertEquals(7, found[1]);
            assertTrue(seen.stream().noneMatch(p -> p == ProcessHandle.current().pid()), "cryo's own fds are passed over");
            assertNull(HostFds.first(pid -> pid == child.pid(), (pid, fd, target) -> target.equals(file.toString()) ? pid : null),
                    "a skipped process is not looked at");
            assertTrue(ProcFs.pids().contains((int) child.pid()) && ProcFs.pids().contains((int) ProcessHandle.current().pid()));
        } finally {
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
