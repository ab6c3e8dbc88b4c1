package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * cryo killed by SIGKILL at a random moment of a dump harms nothing: a cryo JVM dumps a running
 * workload with --leave-running and is killed at a random instant between the first seize and its
 * last detach (seize, collect and copy stages alike); the workload must run on untraced, not
 * stopped, and pass its own check (memory, heap, fds, counters). The moment is drawn uniformly
 * over the traced window measured on an uncut dump of the same workload.
 *
 * <p>{@code -Dkilltrials=N} trials per workload (default 3, so 6 in the normal suite: each
 * trial starts a cryo JVM); {@code mvn -Pkilltrials} runs 50 per workload (100 in all);
 * {@code -Dkilltrials.verbose=true} shows cryo's last log lines for a workload that died.
 */
class DumpKillTrialTest {
    private static final int TRIALS = Integer.getInteger("killtrials", 3);
    private static final boolean VERBOSE = Boolean.getBoolean("killtrials.verbose");
    private static final long SEED = Long.getLong("killtrials.seed", System.nanoTime());

    @TempDir
    Path tmp;

    interface Start {
        DetachedProcess start(Path dir) throws Exception;
    }

    @Test
    void aCounterSurvivesCryoKilledAtRandomMomentsOfItsDump() throws Exception {
        trials("counter", Workloads::counter);
    }

    @Test
    void aMultiThreadedProcessSurvivesCryoKilledAtRandomMomentsOfItsDump() throws Exception {
        trials("threads", Workloads::threads);
    }

    /**
     * cryo killed while it holds a dump's TCP connection (--tcp-established, -R, at post-dump: the image complete,
     * the tree frozen, the connection read and the network lock held): the tree's client gets its echoes again
     * without an error, and the lock goes. Before, the tree ran on with the connection in repair mode (its recv
     * failed with EPERM) and the nft table stayed for good, holding off the peer.
     */
    @Test
    void aConnectionWorksAgainAfterCryoIsKilledHoldingIt() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.cryo.kernel.net.NetworkLock.available(), "no nf_tables");
        try (SocketRestoreTest.EchoServer echo = new SocketRestoreTest.EchoServer();
             // its echo awaited 60 s: the freeze up to the kill, the lock's end and TCP's next retransmission add up
             DetachedProcess p = Workloads.sockets(tmp, "tcpclient", Integer.toString(echo.port()), "60")) {
            echo.awaitEchoedMore(echo.echoed.get());
            killedAtPostDump(p, true, () -> assertEquals(1, DumpFailureTest.lockTables(p.pid()).size(),
                    "the lock holds the connection"), "--tcp-established");
            long killed = System.nanoTime();
            DetachedProcess.awaitCondition(() -> {
                try {
                    return DumpFailureTest.lockTables(p.pid()).isEmpty();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, Duration.ofSeconds(60), "the watchdog to lift the lock");
            System.out.println("the lock went " + (System.nanoTime() - killed) / 1_000_000 + " ms after cryo's SIGKILL");
            echo.awaitEchoedMore(echo.echoed.get());
            assertEquals(null, echo.ended.get(), "the peer saw the connection end");
            assertEquals(null, survival(p), "the client runs on untraced, its echoes all right"); // ends it
        }
    }

    /**
     * cryo killed while a -R dump's post-dump script runs (the image complete, the tree frozen) holding the bytes it
     * took out of the tree's pty pair: a half-typed line in the slave's queue and the child's output and echo unread in
     * the master's (ptyline.c). The tree runs on with them. Before, they went back only at the dump's release, and
     * cryo's death lost them: 'FAIL: the master's unread bytes: only '' within 10 s'.
     */
    @Test
    void bytesTakenFromAPtyAreBackAfterCryoIsKilledHoldingThem() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("line.out"), "ptyline")) {
            killedAtPostDump(p, true, () -> { });
            assertEquals(null, survival(p), "the pty's bytes are back, the program untraced"); // ends it
        }
    }

    /**
     * The same when cryo is killed inside the collect, after it took the pty's bytes and before every task is
     * collected: ptyline.c with a uring.c ("waiting") process in its tree, whose read request in flight holds
     * cryo's collect of that task for 5 s (then refused); cryo is SIGKILLed 2 s after it traced the tree. Before,
     * the bytes went back only once every task was collected: 'FAIL: the master's unread bytes: only '' within 10 s'.
     */
    @Test
    void bytesTakenFromAPtyAreBackAfterCryoIsKilledInsideTheCollect() throws Exception {
        String uring = dev.cryo.kernel.testing.TestPrograms.compile("/c/uring.c", "-luring").toString();
        String pty = dev.cryo.kernel.testing.TestPrograms.compile("/c/ptyline.c").toString();
        Path ring = tmp.resolve("uring.out"), ringPid = tmp.resolve("uring.pid");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("line.out"), "sh", "-c", uring + " "
                + tmp.resolve("uring.dat") + " waiting > " + ring + " & echo $! > " + ringPid + "; exec " + pty))) {
            DetachedProcess.awaitCondition(() -> {
                try {
                    return Files.exists(ring) && Files.readString(ring).contains("ready");
                } catch (java.io.IOException e) {
                    throw new IllegalStateException(e);
                }
            }, Duration.ofSeconds(60), "uring.c's ring with its read in flight");
            try {
                Process cryo = CryoProcess.start(tmp.resolve("cryo.log"), "dump", "-t", p.pid().toString(), "-D",
                        tmp.resolve("img").toString(), "-R", "--no-progress");
                try {
                    assertEquals(true, awaitTraced(p, cryo) >= 0, Files.readString(tmp.resolve("cryo.log")));
                    Thread.sleep(2000); // the pty taken; the ring's request holds the collect for 5 s
                    assertEquals(true, cryo.isAlive(), Files.readString(tmp.resolve("cryo.log")));
                } finally {
                    cryo.destroyForcibly(); // SIGKILL
                    cryo.waitFor(60, TimeUnit.SECONDS);
                }
                assertEquals(null, survival(p), "the pty's bytes are back, the program untraced"); // ends it
            } finally {
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(Integer.parseInt(Files.readString(ringPid).trim())),
                        dev.cryo.kernel.Signals.SIGKILL);
            }
        }
    }

    /**
     * A tun device of the host's that is not persistent (tunqueues.c), which a killing dump keeps for the restore by
     * making it persistent, before the kill takes its last file: made so during the collect, it stayed so when cryo died
     * before the kill, and the device outlived the program on the host ('FAIL: the device came back persistent' from
     * tunqueues.c's check). It is made persistent right before the kill now.
     */
    @Test
    void aTunDeviceIsNotLeftPersistentWhenCryoIsKilledBeforeTheKill() throws Exception {
        String device = "c55k" + Long.toHexString(System.nanoTime() & 0xfffffL);
        try {
            try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tun.out"),
                    dev.cryo.kernel.testing.TestPrograms.compile("/c/tunqueues.c").toString(), device, "plain"))) {
                killedAtPostDump(p, false, () -> { });
                assertEquals(null, survival(p), "the device as it was, the program untraced"); // ends it
            }
        } finally {
            new ProcessBuilder("ip", "link", "del", device).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        }
    }

    /**
     * The same with the errors the dump reads to carry them: tcpreset.c's connection reset by its peer, its ECONNRESET
     * unread, in a -R dump and in a killing one (its post-dump script runs before the kill). The dump took them
     * (SO_ERROR: reading it takes it) and gave them back at the dump's release, later for a -R dump's at the end of the
     * collect (6b6a6021), so cryo's death lost them: 'FAIL: the reset end polls 0x11' (no POLLERR), still so for the
     * killing dump. They are read now without being taken (sk_err, a BPF iterator), so nothing needs to go back.
     */
    @ParameterizedTest(name = "leave running {0}")
    @ValueSource(booleans = {true, false})
    void aResetErrorTheDumpReadIsStillThereAfterCryoIsKilled(boolean leaveRunning) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.cryo.kernel.net.NetworkLock.available(), "no nf_tables");
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpreset.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpreset.out"), prog))) {
            killedAtPostDump(p, leaveRunning, () -> { }, "--tcp-established");
            DetachedProcess.awaitCondition(() -> {
                try {
                    return DumpFailureTest.lockTables(p.pid()).isEmpty();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, Duration.ofSeconds(60), "the watchdog to lift the lock");
            assertEquals(null, survival(p), "the reset's error is back, the program untraced"); // ends it
        }
    }

    interface Check {
        void run() throws Exception;
    }

    /**
     * Dumps {@code p} with {@code options} (and -R if {@code leaveRunning}), holds the dump at its post-dump script,
     * runs {@code atPostDump}, then SIGKILLs cryo (and the script's sleep).
     */
    private void killedAtPostDump(DetachedProcess p, boolean leaveRunning, Check atPostDump, String... options)
            throws Exception {
        Path mark = tmp.resolve("post-dump");
        String script = "[ \"$CRTOOLS_SCRIPT_ACTION\" = post-dump ] || exit 0; echo $$ > " + mark + ".new; mv "
                + mark + ".new " + mark + "; exec sleep 600";
        List<String> args = new ArrayList<>(List.of("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(),
                "--no-progress", "--action-script", script));
        if (leaveRunning) {
            args.add("-R");
        }
        args.addAll(List.of(options));
        Process cryo = CryoProcess.start(tmp.resolve("cryo.log"), args.toArray(String[]::new));
        try {
            DetachedProcess.awaitCondition(() -> Files.exists(mark) || !cryo.isAlive(), Duration.ofSeconds(120),
                    "cryo's post-dump script");
            assertEquals(true, Files.exists(mark), Files.readString(tmp.resolve("cryo.log")));
            atPostDump.run();
        } finally {
            cryo.destroyForcibly(); // SIGKILL
            cryo.waitFor(60, TimeUnit.SECONDS);
            if (Files.exists(mark)) {
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(Integer.parseInt(Files.readString(mark).trim())),
                        dev.cryo.kernel.Signals.SIGKILL); // the script's sleep, left behind
            }
        }
    }

    /**
     * cryo killed while --freeze-cgroup holds the tree's cgroup frozen (for the seize, here stretched by a vfork child
     * its seize lets run toward its exec): the cgroup thaws and the tree runs on. Before, the tasks, let go by
     * their dead tracer, stayed frozen for good.
     */
    @Test
    void aCgroupFrozenForTheSeizeThawsWhenCryoIsKilled() throws Exception {
        Path cg = Files.createDirectory(CriuFlagsTest.unified().resolve("cryo-it-killfreeze-" + ProcessHandle.current().pid()
                + "-" + System.nanoTime() % 100000));
        try (DetachedProcess p = Workloads.vforkHeld(tmp)) {
            for (int t : StateComparator.tree(p.pid().value())) {
                Files.writeString(cg.resolve("cgroup.procs"), Integer.toString(t));
            }
            Process cryo = CryoProcess.start(tmp.resolve("cryo.log"), "dump", "-t", p.pid().toString(), "-D",
                    tmp.resolve("img").toString(), "--no-progress", "--freeze-cgroup", cg.toString());
            try {
                DetachedProcess.awaitCondition(() -> frozen(cg) || !cryo.isAlive(), Duration.ofSeconds(120),
                        "cryo to freeze " + cg);
                assertEquals(true, cryo.isAlive(), Files.readString(tmp.resolve("cryo.log")));
            } finally {
                cryo.destroyForcibly(); // SIGKILL
                cryo.waitFor(60, TimeUnit.SECONDS);
            }
            DetachedProcess.awaitCondition(() -> !frozen(cg), Duration.ofSeconds(30), "the watchdog to thaw " + cg);
            Files.writeString(tmp.resolve("go"), "x"); // the vfork child's exit lets the parent go on
            p.awaitOutput("resumed", Duration.ofSeconds(30));
        } finally {
            CriuFlagsTest.removeWhenEmpty(cg);
        }
    }

    private static boolean frozen(Path cg) {
        try {
            return Files.readString(cg.resolve("cgroup.events")).contains("frozen 1");
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void trials(String name, Start start) throws Exception {
        Random random = new Random(SEED);
        long window = calibrate(start);
        int survived = 0;
        List<String> deaths = new ArrayList<>();
        for (int i = 0; i < TRIALS; i++) {
            long delay = (long) (random.nextDouble() * window);
            String death = trial(start, i, delay);
            if (death == null) {
                survived++;
            } else {
                deaths.add("trial " + i + " (killed " + delay / 1000 + " µs into a " + window / 1000
                        + " µs window): " + death);
            }
        }
        String figures = name + ": " + survived + "/" + TRIALS + " survived cryo's SIGKILL mid-dump (seed " + SEED
                + ", traced window " + window / 1000 + " µs)";
        System.out.println(figures);
        deaths.forEach(System.out::println);
        assertEquals(TRIALS, survived, figures + "\n" + String.join("\n", deaths));
    }

    /** How many times a dump is started again when it ended before this JVM saw it trace the workload. */
    private static final int UNSEEN_TRIES = 3;

    /** The traced window of one whole dump: from the first seize to the last detach. */
    private long calibrate(Start start) throws Exception {
        for (int attempt = 1; ; attempt++) {
            Path dir = Files.createDirectories(tmp.resolve("calibrate-" + attempt));
            try (DetachedProcess p = start.start(dir)) {
                Process cryo = CryoProcess.start(dir.resolve("cryo.log"), "dump", "-t", p.pid().toString(), "-D",
                        dir.resolve("img").toString(), "--leave-running", "--no-progress");
                long t0 = awaitTraced(p, cryo);
                while (t0 >= 0 && tracerPid(p) != 0 && cryo.isAlive()) {
                    LockSupport.parkNanos(50_000);
                }
                long window = System.nanoTime() - t0;
                assertEquals(0, cryo.waitFor(), Files.readString(dir.resolve("cryo.log")));
                assertEquals(null, survival(p), "the uncut dump harmed the workload");
                if (t0 >= 0) {
                    return Math.max(window, 1_000_000);
                }
                if (attempt == UNSEEN_TRIES) {
                    throw new AssertionError(UNSEEN_TRIES + " dumps of pid " + p.pid() + " ended before this JVM saw"
                            + " cryo trace it");
                }
            }
        }
    }

    /** Null when the workload came through unharmed, else what went wrong. */
    private String trial(Start start, int i, long delayNanos) throws Exception {
        for (int attempt = 1; ; attempt++) {
            String death = attempt(start, i + "-" + attempt, delayNanos);
            if (!UNSEEN.equals(death) || attempt == UNSEEN_TRIES) {
                return UNSEEN.equals(death) ? UNSEEN_TRIES + " dumps ended before this JVM saw cryo trace the workload" : death;
            }
        }
    }

    /** What {@link #attempt} says of a dump that ended before this JVM saw it trace the workload: nothing was cut. */
    private static final String UNSEEN = "unseen";

    private String attempt(Start start, String i, long delayNanos) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("trial-" + i));
        try (DetachedProcess p = start.start(dir)) {
            Process cryo = CryoProcess.start(dir.resolve("cryo.log"), VERBOSE ? "-vv" : "-v", "dump", "-t",
                    p.pid().toString(), "-D", dir.resolve("img").toString(), "--leave-running", "--no-progress");
            try {
                long t0 = awaitTraced(p, cryo);
                if (t0 < 0) {
                    cryo.waitFor(60, TimeUnit.SECONDS);
                    String death = survival(p);
                    return death == null ? UNSEEN : death;
                }
                long until = t0 + delayNanos;
                while (System.nanoTime() < until) {
                    LockSupport.parkNanos(Math.min(until - System.nanoTime(), 20_000));
                }
                cryo.destroyForcibly(); // SIGKILL
            } finally {
                cryo.destroyForcibly();
                cryo.waitFor(60, TimeUnit.SECONDS);
            }
            String death = survival(p);
            if (death != null && VERBOSE) {
                List<String> log = Files.readAllLines(dir.resolve("cryo.log"));
                death += "\n  cryo's last words:\n    " + String.join("\n    ",
                        log.subList(Math.max(0, log.size() - 6), log.size()));
            }
            return death;
        }
    }

    /**
     * When cryo is first seen tracing the workload, or -1 when it ended before (its traced window fell between two
     * looks of this JVM's, which a load of 30 can hold off for longer). Not bounded by a minute: a cryo JVM at load
     * 25 took longer than that to reach its seize ("cryo never seized pid N (exit none)"); only a hung one fails.
     */
    private static long awaitTraced(DetachedProcess p, Process cryo) throws Exception {
        long hung = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        while (tracerPid(p) == 0) {
            if (!cryo.isAlive()) {
                return -1;
            }
            if (System.nanoTime() > hung) {
                throw new AssertionError("cryo never seized pid " + p.pid() + " in 10 minutes (exit none)");
            }
            LockSupport.parkNanos(20_000);
        }
        return System.nanoTime();
    }

    /** The workload runs untraced, not stopped, keeps counting and passes its own check. */
    private static String survival(DetachedProcess p) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (p.alive() && (tracerPid(p) != 0 || "tT".indexOf(p.state()) >= 0) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        if (!p.alive()) {
            return "the workload died: " + p.outputText();
        }
        if (tracerPid(p) != 0) {
            return "the workload is still traced by " + tracerPid(p);
        }
        if ("tT".indexOf(p.state()) >= 0) {
            return "the workload is left stopped (state " + p.state() + ")";
        }
        Path counted = p.output().resolveSibling("counter.txt");
        if (Files.exists(counted)) {
            // it counts every 10 ms; under load it may take a while to be scheduled again
            long before = Files.size(counted);
            long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (Files.size(counted) == before && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            if (Files.size(counted) == before) {
                return "the counter stopped counting";
            }
        }
        String verdict;
        try {
            verdict = Workloads.check(p);
        } catch (AssertionError e) {
            return e.getMessage() + " (state " + p.state() + ")";
        }
        if (!verdict.contains("PASS")) {
            return "the workload failed its check: " + verdict;
        }
        return null;
    }

    private static int tracerPid(DetachedProcess p) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
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
