package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * cryo killed by SIGKILL at a random moment of a restore leaves no half-restored task alive: the
 * tasks it creates are traced with PTRACE_O_EXITKILL until they are resumed, so the kernel kills
 * them with their tracer. A restore killed after the resume has left a whole tree, running untraced
 * (the uncut restore's tree passes its own check). {@code -Dkilltrials=N} trials (default 5).
 */
class RestoreKillTrialTest {
    private static final int TRIALS = Integer.getInteger("killtrials", 5);
    private static final long SEED = Long.getLong("killtrials.seed", System.nanoTime());

    @TempDir
    Path tmp;

    @Test
    void noHalfRestoredTaskOutlivesCryoKilledMidRestore() throws Exception {
        Path img = tmp.resolve("img");
        Pid pid;
        try (DetachedProcess p = Workloads.threads(tmp)) {
            pid = p.pid();
            Cli r = Cli.run("dump", "-t", pid.toString(), "-D", img.toString(), "--no-progress");
            assertEquals(0, r.code(), r.toString());
        }
        awaitGone(pid);
        long window = restore(img, pid, -1, tmp.resolve("calibrate.log"));
        assertTrue(window > 0, "the uncut restore did not bring pid " + pid + " back");
        Random random = new Random(SEED);
        List<String> bad = new ArrayList<>();
        int whole = 0, none = 0;
        for (int i = 0; i < TRIALS; i++) {
            long delay = (long) (random.nextDouble() * window);
            Path log = tmp.resolve("trial-" + i + ".log");
            restore(img, pid, delay, log);
            String verdict = aftermath(pid, log);
            if (verdict.equals("none")) {
                none++;
            } else if (verdict.equals("whole")) {
                whole++;
                RestoreTest.killAndReap(DetachedProcess.restored(pid, log));
            } else {
                bad.add("trial " + i + " (killed " + delay / 1000 + " µs in): " + verdict);
            }
            awaitGone(pid);
        }
        String figures = "restore killed " + TRIALS + " times (seed " + SEED + ", window " + window / 1000 + " µs): "
                + none + " left nothing, " + whole + " left the whole tree running, " + bad.size() + " harmed";
        System.out.println(figures);
        assertTrue(bad.isEmpty(), figures + "\n" + String.join("\n", bad));
    }

    /**
     * Runs {@code cryo restore -d} in its own JVM; kills it {@code delayNanos} after the root's pid
     * appears, or lets it finish when negative and returns how long cryo ran after that.
     */
    private static long restore(Path img, Pid pid, long delayNanos, Path log) throws Exception {
        Process cryo = CryoProcess.start(log, "restore", "-D", img.toString(), "-d", "--no-progress");
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!Files.exists(Path.of("/proc/" + pid)) && cryo.isAlive() && System.nanoTime() < deadline) {
                LockSupport.parkNanos(20_000);
            }
            long t0 = System.nanoTime();
            if (delayNanos < 0) {
                while (cryo.isAlive()) { // -d: cryo returns once the tree runs
                    LockSupport.parkNanos(50_000);
                }
                long window = System.nanoTime() - t0;
                assertTrue(cryo.waitFor(60, TimeUnit.SECONDS));
                assertEquals(0, cryo.exitValue(), Files.readString(log));
                DetachedProcess restored = DetachedProcess.restored(pid, tmpOutput(pid));
                String verdict = Workloads.check(restored);
                assertTrue(verdict.contains("PASS"), verdict);
                return window;
            }
            long until = t0 + delayNanos;
            while (System.nanoTime() < until) {
                LockSupport.parkNanos(Math.min(until - System.nanoTime(), 20_000));
            }
        } finally {
            cryo.destroyForcibly();
            cryo.waitFor(60, TimeUnit.SECONDS);
        }
        return 0;
    }

    /** "none" (nothing of the tree is left), "whole" (it runs and passes its check), or what is wrong. */
    private static String aftermath(Pid pid, Path log) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        DetachedProcess p = DetachedProcess.restored(pid, log);
        while (p.alive() && (tracerPid(pid) != 0 || "tT".indexOf(p.state()) >= 0) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        if (!p.alive()) {
            return "none";
        }
        if (tracerPid(pid) != 0 || "tT".indexOf(p.state()) >= 0) {
            return "pid " + pid + " is left " + (tracerPid(pid) != 0 ? "traced by " + tracerPid(pid) : "stopped")
                    + " (state " + p.state() + "): " + Files.readString(log);
        }
        return "whole";
    }

    private static Path tmpOutput(Pid pid) {
        try {
            return Path.of(Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/1")).toString());
        } catch (java.io.IOException e) {
            return Path.of("/nonexistent");
        }
    }

    private static void awaitGone(Pid pid) throws InterruptedException {
        DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(30),
                "pid " + pid + " to be gone");
    }

    /** The TracerPid of {@code pid} (0: none, or gone). */
    static int tracerPid(Pid pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("TracerPid:")) {
                    return Integer.parseInt(l.substring(10).trim());
                }
            }
        } catch (java.io.IOException e) {
            return 0;
        }
        return 0;
    }
}
