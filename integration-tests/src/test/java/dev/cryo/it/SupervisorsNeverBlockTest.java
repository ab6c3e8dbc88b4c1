package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoConfig;
import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Supervisors wait on the kernel without holding a thread. Restores whose root pid is held by a
 * zombie wait for it to be reaped (up to cryo.restore.pid-wait): as many of them as the
 * supervisors' dispatcher has threads, and a dump through the same {@link Cryo} still runs to
 * its end while they all wait. A supervisor that slept through the wait would hold every thread
 * and the dump would only start once the restores had given up.
 */
class SupervisorsNeverBlockTest {
    private static final int SUPERVISOR_THREADS = 4; // cryo-dispatchers.supervisor's fixed-pool-size

    @TempDir
    Path tmp;

    @Test
    void restoresWaitingForAPidHeldByAZombieDoNotHoldUpADump() throws Exception {
        Path img = tmp.resolve("img");
        int pid;
        try (Cryo cryo = Cryo.create(); DetachedProcess p = Workloads.counter(Files.createDirectories(tmp.resolve("a")))) {
            pid = p.pid().value();
            cryo.dump(DumpRequest.of(pid, img)).toCompletableFuture().join(); // ends the counter
        }
        DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(30),
                "pid " + pid + " to be free");
        // a child of ours that exits and is not reaped: a zombie holding the restore's pid
        Pid zombie = ExactPidSpawner.spawn(pid, pid, "/bin/true", List.of("true"), false);
        assertEquals(pid, zombie.value());
        DetachedProcess.awaitCondition(() -> ProcFs.stat(zombie).state() == 'Z', Duration.ofSeconds(30),
                "pid " + pid + " to be a zombie");
        List<CompletableFuture<RestoreReport>> restores = new ArrayList<>();
        boolean reaped = false;
        try (Cryo cryo = Cryo.create(CryoConfig.loadConfig(Optional.empty(),
                Map.of("cryo.restore.pid-wait", "600s")));
             DetachedProcess q = Workloads.counter(Files.createDirectories(tmp.resolve("b")))) {
            for (int i = 0; i < SUPERVISOR_THREADS + 1; i++) {
                restores.add(cryo.restore(new RestoreRequest(img)).toCompletableFuture());
            }
            DumpReport dumped = cryo.dump(DumpRequest.of(q.pid().value(), tmp.resolve("img-b")).leavingRunning(true))
                    .toCompletableFuture().join();
            long done = restores.stream().filter(CompletableFuture::isDone).count();
            assertEquals(0, done, "restores gave up before the dump could run: their supervisors held the threads");
            assertTrue(Files.exists(tmp.resolve("img-b/image.cryo")), dumped.toString());
            assertTrue(Workloads.check(q).contains("PASS"), q.outputText());
            Sys.wait4(pid, 0); // reaped: one restore gets the pid, the others find it taken
            reaped = true;
            for (CompletableFuture<RestoreReport> r : restores) {
                RestoreReport report = r.handle((ok, e) -> ok).join();
                if (report != null) {
                    Sys.kill(Pid.of(report.rootPid()), Signals.SIGKILL);
                    Cryo.waitFor(report.rootPid());
                }
            }
        } finally {
            if (!reaped) {
                Sys.wait4(pid, 0);
            }
        }
    }
}
