package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Zombies in the tree: dumped with their wait status and restored as zombies, so their parent
 * reaps them as it would have; children that exit or are reaped while the tree is being seized.
 */
class ZombieTest {
    @TempDir
    Path tmp;

    /**
     * Also through --pre-copy: the zombies, in the tree's walk but with nothing to track, were tracked
     * again after every round, and the dump never got to the next one (zdtm's sigpending hung the same
     * way until it was killed).
     */
    @Test
    void aParentReapsItsTwoZombiesWithTheirStatusesAfterTheRestore() throws Exception {
        for (String mode : List.of("plain", "--pre-copy")) {
            aParentReapsItsTwoZombies(mode);
        }
    }

    private void aParentReapsItsTwoZombies(String mode) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("zombies-" + mode + ".out"), "zombies")) {
            String[] ready = p.outputText().trim().split("\\s+");
            int a = Integer.parseInt(ready[1]), b = Integer.parseInt(ready[2]);
            Path img = tmp.resolve("img-" + mode);
            DetachedProcess r = mode.equals("plain") ? RestoreTest.dumpAndRestore(p, img)
                    : RestoreTest.dumpAndRestore(p, img, mode);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"wait\":\"exited 3\"") || show.contains("\"wait\" : \"exited 3\""), show);
            ProcStat za = ProcFs.stat(Pid.of(a)), zb = ProcFs.stat(Pid.of(b));
            assertEquals('Z', za.state());
            assertEquals(3 << 8, za.exitCode());
            assertEquals(a, za.pgrp(), "A leads its own group again");
            assertEquals('Z', zb.state());
            assertEquals(Signals.SIGTERM, zb.exitCode());
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS sigchld=2"), mode + ": " + out);
        }
    }

    /**
     * Zombies that died under seccomp filters (a container's) or in strict mode came back with
     * "Seccomp: 0": their status shows the mode and the filter count again.
     */
    @Test
    void zombiesKeepTheSeccompModeAndFilterCountTheyDiedWith() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("zombieseccomp.out"), "zombieseccomp")) {
            Path img = tmp.resolve("img");
            String out = RestoreTest.checkAndReap(RestoreTest.dumpAndRestore(p, img));
            assertTrue(out.contains("PASS"), out);
            String show = Cli.run("show", img.toString()).out().replace(" ", "");
            assertTrue(show.contains("\"seccomp\":\"2filters\"") && show.contains("\"seccomp\":\"strict\""), show);
        }
    }

    /**
     * netdata's plugins run niced in SCHED_BATCH; one that had exited and was not reaped yet came back from the
     * restore in SCHED_OTHER at nice 0 (its /proc/PID/stat: the state comparator caught it): a zombie keeps the
     * scheduling policy, priority and nice it died with.
     */
    @Test
    void aZombieKeepsTheNiceAndSchedulingPolicyItDiedWith() throws Exception {
        String parent = "import os, signal\nkids = []\nfor policy, nice in ((os.SCHED_BATCH, 19), (os.SCHED_IDLE, 7)):\n"
                + "    pid = os.fork()\n    if pid == 0:\n        os.nice(nice)\n"
                + "        os.sched_setscheduler(0, policy, os.sched_param(0))\n        os._exit(0)\n    kids.append(pid)\n"
                + "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n"
                + "print('ready', *kids, flush=True)\nsignal.sigwait([signal.SIGUSR1])\n";
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("parent.out"), "python3", "-c", parent)) {
            p.awaitOutput("ready", java.time.Duration.ofSeconds(30));
            String[] ready = p.outputText().trim().split("\\s+");
            int a = Integer.parseInt(ready[1]), b = Integer.parseInt(ready[2]);
            DetachedProcess.awaitCondition(() -> ProcFs.stat(Pid.of(a)).state() == 'Z' && ProcFs.stat(Pid.of(b)).state() == 'Z',
                    java.time.Duration.ofSeconds(30), "both children to exit");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img")); // the comparator holds both
            try {
                ProcStat za = ProcFs.stat(Pid.of(a)), zb = ProcFs.stat(Pid.of(b));
                assertEquals('Z', za.state());
                assertEquals(3, za.policy(), "SCHED_BATCH");
                assertEquals(19, za.nice());
                assertEquals(5, zb.policy(), "SCHED_IDLE");
                assertEquals(7, zb.nice());
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    /**
     * A child that ran under SCHED_DEADLINE and exited unreaped: the restore skipped that policy, so the zombie came
     * back in SCHED_OTHER (stat's policy 0 and priority 20 where 6 and -101). A dead task's deadline parameters read
     * 0/0/0 once the kernel clears them, shortly after its death; the zombie-to-be ends under the policy with
     * parameters it admits, and reads the same once they are cleared.
     */
    @Test
    void aZombieThatDiedUnderSchedDeadlineKeepsIt() throws Exception {
        String parent = "import os, signal\n"
                + "kid = os.spawnvp(os.P_NOWAIT, 'chrt', ['chrt', '-d', '--sched-runtime', '1000000', '--sched-deadline',"
                + " '10000000', '--sched-period', '10000000', '0', 'true'])\n"
                + "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n"
                + "print('ready', kid, flush=True)\nsignal.sigwait([signal.SIGUSR1])\n";
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("parent.out"), "python3", "-c", parent)) {
            p.awaitOutput("ready", java.time.Duration.ofSeconds(30));
            int kid = Integer.parseInt(p.outputText().trim().split("\\s+")[1]);
            DetachedProcess.awaitCondition(() -> ProcFs.stat(Pid.of(kid)).state() == 'Z', java.time.Duration.ofSeconds(30),
                    "the child to exit");
            assertEquals(6, ProcFs.stat(Pid.of(kid)).policy(), "chrt ran it under SCHED_DEADLINE");
            DetachedProcess.awaitCondition(() -> dev.cryo.kernel.Sched.getattr(kid).period() == 0,
                    java.time.Duration.ofSeconds(30), "the kernel to clear the dead task's deadline parameters");
            dev.cryo.kernel.Sched.Attr dumped = dev.cryo.kernel.Sched.getattr(kid);
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img")); // the comparator holds its stat
            try {
                ProcStat z = ProcFs.stat(Pid.of(kid));
                assertEquals('Z', z.state());
                assertEquals(6, z.policy(), "SCHED_DEADLINE");
                assertEquals(-101, z.priority());
                DetachedProcess.awaitCondition(() -> dev.cryo.kernel.Sched.getattr(kid).period() == 0,
                        java.time.Duration.ofSeconds(30), "the kernel to clear the restored zombie's deadline parameters");
                assertEquals(dumped, dev.cryo.kernel.Sched.getattr(kid));
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    @Test
    void aZombieUnderAProgramThatNeverReapsStaysAZombieWithItsStatus() throws Exception {
        // the shell's child exits 7 at once; the exec'd sleep never reaps it
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("zombie.out"), "sh", "-c",
                "/bin/sh -c 'exit 7' & echo ready; exec /bin/sleep 600")) {
            Workloads.ready(p);
            int child = zombieChildOf(p);
            Path img = tmp.resolve("img");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, img);
            try {
                ProcStat z = ProcFs.stat(Pid.of(child));
                assertEquals('Z', z.state());
                assertEquals(p.pid().value(), z.ppid());
                assertEquals(7 << 8, z.exitCode());
                // back in its sleep (on a loaded machine it may still be running its way there)
                DetachedProcess.awaitCondition(() -> ProcFs.stat(r.pid()).state() == 'S', java.time.Duration.ofSeconds(30),
                        "the restored sleep to sleep again");
            } finally {
                Sys.kill(r.pid(), Signals.SIGKILL);
                Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    @Test
    void aZombieThatDumpedCoreIsRefusedAndTheTreeRunsOn() throws Exception {
        // core_pattern may write a core file into the cwd: run in the test's own directory
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("core.out"), "sh", "-c",
                "cd " + tmp + " && ulimit -c unlimited && /bin/sh -c 'kill -SEGV $$' & echo ready; exec /bin/sleep 600")) {
            Workloads.ready(p);
            int child = zombieChildOf(p);
            int status = ProcFs.stat(Pid.of(child)).exitCode();
            org.junit.jupiter.api.Assumptions.assumeTrue((status & 0x80) != 0,
                    "this host wrote no core for the SIGSEGV (status 0x" + Integer.toHexString(status) + ")");
            Path img = tmp.resolve("img");
            Cli d = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(1, d.code(), d.toString());
            assertTrue(d.err().contains("pid " + child + " (sh) is a zombie killed by SIGSEGV that dumped core"), d.err());
            assertFalse(Files.exists(img.resolve("image.cryo")));
            p.awaitSleeping();
            assertEquals('Z', ProcFs.stat(Pid.of(child)).state());
        }
    }

    @Test
    void aShellLoopForkingShortLivedChildrenDumpsEveryTimeAndCarriesOnAfterTheRestore() throws Exception {
        Path numbers = tmp.resolve("numbers.txt");
        String loop = "echo ready; i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"
                + " | grep --line-buffered '[0-9]' > " + numbers;
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("loop.out"), "bash", "-c", loop))) {
            Thread.sleep(200);
            for (int i = 1; i < 30; i++) {
                Path img = tmp.resolve("img" + i);
                Cli d = Cli.run("dump", "-R", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
                assertEquals(0, d.code(), "dump " + i + " of 30: " + d);
                Thread.sleep(i % 3 == 0 ? 0 : 20 * (i % 5)); // dumps at every phase of the loop
            }
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img30"));
            try {
                long before = lines(numbers).length;
                DetachedProcess.awaitCondition(() -> lines(numbers).length >= before + 10, Duration.ofSeconds(10),
                        "the restored loop to write 10 more numbers");
                String[] all = lines(numbers);
                for (int i = 0; i < all.length; i++) {
                    assertEquals(Integer.toString(i + 1), all[i], "line " + (i + 1) + ": no gap, no repeat");
                }
            } finally {
                ProcessHandle.of(r.pid().value()).ifPresent(h -> h.descendants().forEach(ProcessHandle::destroyForcibly));
                Sys.kill(r.pid(), Signals.SIGKILL);
                Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    @Test
    void childrenExitingAndReapedWhileTheTreeIsSeizedAreZombiesOrGoneAndStatusesStayRight() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("churn.out"), "churn")) {
            int withZombies = 0;
            for (int i = 1; i < 10; i++) {
                Path img = tmp.resolve("img" + i);
                Cli d = Cli.run("dump", "-R", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
                assertEquals(0, d.code(), "dump " + i + " of 10: " + d);
                if (Cli.run("show", img.toString()).out().contains("\"zombies\"")) {
                    withZombies++;
                }
            }
            assertTrue(withZombies > 0, "no dump met a zombie: the workload does not exercise what it should");
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img10"));
            Thread.sleep(300); // it forks and reaps on after the restore
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS reaped="), out);
        }
    }

    /**
     * zdtm's pthread02: a process whose main thread has exited (pthread_exit in main) while two others
     * run on. Its /proc/PID shows no maps nor fds (the kernel let go of the leader's), so cryo reads it
     * through a live thread, and the restored process's main thread exits again at once: it comes back
     * with its zombie leader and both threads (mainexit.c checks), held by the state comparator, also
     * through --pre-copy. It was refused: 'pid N (mainexit): its main thread has exited while 2 other
     * threads run on; cryo cannot dump such a process'. With "fs" a thread has a cwd of its own (unshare(CLONE_FS)):
     * it came back with its process's, silently, where the leader had exited (the dump did not compare a thread's fs
     * with a zombie leader's: 'thread cwd: dumped '/usr', restored '/tmp/junit-..'' in the comparator), and keeps it now.
     */
    @Test
    void aProcessWhoseMainThreadExitedWhileOthersRunComesBack() throws Exception {
        for (String mode : List.of("plain", "--pre-copy", "fs")) {
            try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("mainexit-" + mode + ".out"),
                    TestPrograms.compile("/c/mainexit.c", "-pthread").toString(), mode))) {
                DetachedProcess r = !mode.startsWith("--") ? RestoreTest.dumpAndRestore(p, tmp.resolve("img-" + mode))
                        : RestoreTest.dumpAndRestore(p, tmp.resolve("img-" + mode), mode);
                String out = RestoreTest.checkAndReap(r);
                assertTrue(out.contains("PASS"), mode + ": " + out);
            }
        }
    }

    private static String[] lines(Path file) {
        try {
            String s = Files.readString(file);
            int end = s.lastIndexOf('\n'); // a line being written is not counted yet
            return end < 0 ? new String[0] : s.substring(0, end).split("\n");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A pid namespace's init with 16 threads (a container whose init is Redis, a JVM...) killed at the dump's
     * end: the last of its threads to exit waits in the kernel until every other thread's pid is freed, and a
     * traced thread's zombie is freed only when cryo reaps it. cryo reaped one thread after the other and waited
     * 30 s on that last one, then failed the dump ('the image is complete, but releasing the tree timed out';
     * 1 of 4 killing dumps of a containerized Redis by hand, 2 of 3 of its migrations); it now reaps whichever
     * has died, in turns.
     */
    @Test
    void aMultiThreadedPidNamespaceInitIsKilledAtTheDumpsEnd() throws Exception {
        String threads = "import threading,time\n"
                + "for i in range(16): threading.Thread(target=lambda: time.sleep(600), daemon=True).start()\n"
                + "print('ready', flush=True)\ntime.sleep(600)\n";
        try (DetachedProcess u = DetachedProcess.start(tmp.resolve("init.out"), "unshare", "--pid", "--fork",
                "python3", "-c", threads)) {
            DetachedProcess.awaitCondition(() -> NetNamespaceTest.count(tmp.resolve("init.out"), "ready") > 0,
                    Duration.ofSeconds(30), "the init's threads");
            int init = NamespaceTest.initUnder(u.pid().value());
            try (var tasks = Files.list(Path.of("/proc/" + init + "/task"))) {
                assertEquals(17, tasks.count());
            }
            DumpRestore.dump(init, tmp.resolve("img")); // the dump's exit 0, its pid gone
        }
    }

    /** Waits until the only child of {@code p} is a zombie and returns its pid. */
    private static int zombieChildOf(DetachedProcess p) throws Exception {
        int[] found = {0};
        DetachedProcess.awaitCondition(() -> {
            try {
                for (Pid c : ProcFs.children(p.pid())) {
                    if (ProcFs.stat(c).state() == 'Z' && p.state() == 'S') {
                        found[0] = c.value();
                        return true;
                    }
                }
            } catch (RuntimeException e) {
                // not there yet
            }
            return false;
        }, Duration.ofSeconds(10), "a zombie child under pid " + p.pid());
        return found[0];
    }
}
