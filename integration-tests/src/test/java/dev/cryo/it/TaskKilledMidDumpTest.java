package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A task SIGKILLed by someone else while its tree is dumped (a supervisor killing a worker during a
 * checkpoint): the dump is tried again on the tree as it is after the death, and succeeds.
 */
class TaskKilledMidDumpTest {
    @TempDir
    Path tmp;

    /**
     * A shell waiting for six sleeping children; one of them is killed as soon as cryo has seized it, after
     * a pause that differs each time. Every dump succeeds, leaves the tree running without the dead child,
     * and its image restores (the child in it as a zombie its shell had not reaped yet, or not at all). The
     * dump failed before: "pid N exited while being dumped (open
     * /proc/N/pagemap: ESRCH (No such process))".
     */
    @Test
    void aChildKilledWhileItsTreeIsDumpedLeavesAnImageOfTheTreeAfterItsDeath() throws Exception {
        try (Cryo cryo = Cryo.create()) {
            for (int trial = 0; trial < 5; trial++) {
                Path dir = Files.createDirectories(tmp.resolve("try" + trial));
                try (DetachedProcess p = Workloads.ready(DetachedProcess.start(dir.resolve("out"), "sh", "-c",
                        "for i in 1 2 3 4 5 6; do sleep 1000 & done; echo ready; wait"))) {
                    int root = p.pid().value();
                    List<Integer> tree = StateComparator.tree(root);
                    try {
                        int victim = tree.stream().filter(t -> t != root).sorted().toList().get(2);
                        Thread killer = killOnceTraced(victim, trial * 15L);
                        DumpReport r = cryo.dump(DumpRequest.of(root, dir.resolve("img")).leavingRunning(true))
                                .toCompletableFuture().get(300, TimeUnit.SECONDS);
                        killer.join();
                        assertTrue(r.pids().contains(root), r.pids().toString());
                        DetachedProcess.awaitCondition(() -> gone(victim), Duration.ofSeconds(30), "the victim to be reaped");
                        char s = p.state();
                        assertTrue(s == 'S' || s == 'R', "the tree runs on: state " + s);
                        // the image restores, as the tree was when it was frozen
                        tree.forEach(Workloads::killQuietly);
                        DetachedProcess.awaitCondition(() -> r.pids().stream().allMatch(TaskKilledMidDumpTest::gone),
                                Duration.ofSeconds(30), "the dumped tree to be reaped");
                        Cli restored = Cli.run("restore", "-D", dir.resolve("img").toString(), "-d");
                        assertEquals(0, restored.code(), restored.toString());
                        for (int pid : r.pids()) { // the victim may be in it as a zombie its parent had not reaped yet
                            assertTrue(pid == victim || !gone(pid), "restored pid " + pid + " runs");
                        }
                    } finally {
                        tree.forEach(Workloads::killQuietly);
                    }
                }
            }
        }
    }

    /** Kills {@code pid} once a tracer (cryo) has seized it, {@code pauseMillis} later. */
    private static Thread killOnceTraced(int pid, long pauseMillis) {
        Thread t = new Thread(() -> {
            try {
                DetachedProcess.awaitCondition(() -> RestoreKillTrialTest.tracerPid(Pid.of(pid)) != 0, Duration.ofSeconds(120),
                        "pid " + pid + " to be seized");
                Thread.sleep(pauseMillis); // a different moment of the dump each time, not a wait for a state
                Sys.kill(Pid.of(pid), Signals.SIGKILL);
            } catch (Exception | AssertionError e) {
                // the dump ended before: nothing to kill then
            }
        }, "killer");
        t.start();
        return t;
    }

    private static boolean gone(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (java.io.IOException e) {
            return true;
        }
    }
}
