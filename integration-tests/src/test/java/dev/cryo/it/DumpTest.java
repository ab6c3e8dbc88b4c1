package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** `cryo dump` on real workloads, as a user runs it. */
class DumpTest {
    @TempDir
    Path tmp;

    private static void assertImage(Path dir) throws Exception {
        assertTrue(Files.isRegularFile(dir.resolve("image.cryo")), "image.cryo written");
        assertFalse(Files.exists(dir.resolve("image.cryo.partial")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("image.cryo"))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("stats.json"))));
    }

    /** `cryo show` decodes the image: the tasks and their thread counts are the ones dumped. */
    private static JsonNode show(Path dir, int tasks, int threadsOfRoot) throws Exception {
        Cli r = Cli.run("show", dir.toString());
        assertEquals(0, r.code(), r.toString());
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertEquals(tasks, doc.get("tasks").size(), r.out());
        assertEquals(threadsOfRoot, doc.get("tasks").get(0).get("threads").size());
        assertTrue(doc.get("tasks").get(0).get("vmas").size() > 5);
        return doc;
    }

    @Test
    void dumpsACounterAndLeavesItRunningUnharmed() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Thread.sleep(100);
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--leave-running", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("Dumped 1 task (1 thread) of pid " + p.pid()), r.out());
            assertImage(img);
            JsonNode task = show(img, 1, 1).get("tasks").get(0);
            assertEquals(p.pid().value(), task.get("pid").asInt());
            assertTrue(task.get("fds").findValuesAsText("path").stream().anyMatch(x -> x.endsWith("counter.txt")),
                    task.get("fds").toString());
            assertTrue(p.alive());
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    /**
     * A service that keeps spawning helpers by vfork + exec (vforkloop.c: each child works 300 ms in
     * its parent's memory before its exec), dumped again and again: a freeze that falls between a
     * vfork and the exec lets the child run to its exec first, where the dump refused the tree
     * ("waits for its vfork child to exec or exit"): plain, pre-copied, and killed then restored.
     */
    @Test
    void aServiceSpawningHelpersByVforkIsDumpedWhereverTheFreezeFalls() throws Exception {
        Path out = tmp.resolve("vforkloop.out");
        try (DetachedProcess p = Workloads.program(out, "vforkloop", "300")) {
            DetachedProcess.awaitCondition(() -> Workloads.lines(out) >= 4, Duration.ofSeconds(60), "the spawns");
            for (int i = 1; i <= 3; i++) {
                Path img = tmp.resolve("img" + i);
                Cli r = i == 3
                        ? Cli.run("dump", "-R", "--pre-copy", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress")
                        : Cli.run("dump", "-R", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
                assertEquals(0, r.code(), "dump " + i + " of 3: " + r);
            }
            int at = Workloads.lines(out);
            DetachedProcess r = RestoreTest.dumpAndRestore(p, tmp.resolve("img"));
            try {
                DetachedProcess.awaitCondition(() -> Workloads.lines(out) >= at + 3, Duration.ofSeconds(60),
                        "the restored service to spawn on (at " + at + ")");
                assertFalse(Files.readString(out).contains("FAIL"), Files.readString(out));
            } finally {
                RestoreTest.killAndReap(r);
            }
        }
    }

    @Test
    void verboseLoggingGoesToTheLogFileLikeCriusMinusO() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path log = tmp.resolve("dump.log");
            Cli r = Cli.run("-vv", "-o", log.toString(), "dump", "-t", p.pid().toString(), "-D",
                    tmp.resolve("img").toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            String text = Files.readString(log);
            assertTrue(text.contains("DEBUG") && text.contains("threads seized in"), text);
            assertTrue(text.contains("committed the image"), text);
            assertTrue(text.contains("cryo's CPU time from the freeze to the thaw"), text);
            assertFalse(r.err().contains("DEBUG"), "with -o nothing is logged to stderr: " + r.err());
        }
    }

    @Test
    void theLogFileNamesThePidOfEachLineAndHoldsAFailureWithItsCause() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path log = tmp.resolve("dump.log");
            Cli ok = Cli.run("-vv", "-o", log.toString(), "dump", "-t", p.pid().toString(), "-D",
                    tmp.resolve("img").toString(), "-R", "--no-progress");
            assertEquals(0, ok.code(), ok.toString());
            String text = Files.readString(log);
            assertTrue(text.lines().anyMatch(l -> l.contains("threads seized in") && l.contains(" pid " + p.pid() + " ")),
                    "the task's lines carry its pid: " + text);
            // the same image directory again: the dump fails, and the file says why, not only stderr
            Cli failed = Cli.run("-o", log.toString(), "dump", "-t", p.pid().toString(), "-D",
                    tmp.resolve("img").toString(), "-R", "--no-progress");
            assertEquals(1, failed.code(), failed.toString());
            assertTrue(failed.err().contains("already holds an image"), failed.toString());
            String after = Files.readString(log);
            assertTrue(after.lines().anyMatch(l -> l.contains("ERROR") && l.contains("dump failed")
                    && l.contains("already holds an image")), after);
            assertTrue(p.alive());
        }
    }

    @Test
    void dumpsAMultiThreadedProgram() throws Exception {
        try (DetachedProcess p = Workloads.threads(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("(5 threads)"), r.out());
            assertImage(img);
            show(img, 1, 5);
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void dumpsAThreeLevelTreeWithAPipe() throws Exception {
        try (DetachedProcess p = Workloads.tree(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("Dumped 3 tasks"), r.out());
            assertImage(img);
            JsonNode doc = show(img, 3, 1);
            // both ends of the parent-child pipe are in the image, joined by the pipe id
            assertTrue(doc.findValues("pipeId").size() >= 2, doc.toString());
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void dumpsAPythonProgram() throws Exception {
        try (DetachedProcess p = Workloads.python(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertImage(img);
            assertEquals("python3", show(img, 1, 1).get("tasks").get(0).get("comm").asText());
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    @Test
    void childrenForkedWhileSeizingAreCaughtToo() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("forker.out"), "forker");
             dev.cryo.api.Cryo cryo = dev.cryo.api.Cryo.create()) {
            int group = p.pid().value(); // setsid made the forker a group leader; its children share the group
            // start the forking and dump at once: children keep appearing while the tree is seized
            dev.cryo.kernel.Sys.kill(p.pid(), dev.cryo.kernel.Signals.SIGUSR1);
            Thread.sleep(3);
            var report = cryo.dump(dev.cryo.api.DumpRequest.of(group, tmp.resolve("img"))).toCompletableFuture().join();
            System.out.println("forker dump: " + report.stats().tasks() + " tasks");
            // every process of the group was in the image, and so was killed with the tree
            DetachedProcess.awaitCondition(() -> membersOf(group).isEmpty(), Duration.ofSeconds(10),
                    "no process of the dumped tree to outlive the dump (left: " + membersOf(group) + ")");
            assertTrue(report.stats().tasks() >= 2, "tasks " + report.stats().tasks());
        }
    }

    /** Live (non-zombie) processes of a process group. */
    private static java.util.List<Integer> membersOf(int pgid) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        try (var dirs = Files.list(Path.of("/proc"))) {
            for (Path d : dirs.toList()) {
                String name = d.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String stat = Files.readString(d.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    if (!f[0].equals("Z") && Integer.parseInt(f[2]) == pgid) {
                        out.add(Integer.parseInt(name));
                    }
                } catch (Exception e) {
                    // gone meanwhile
                }
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        return out;
    }

    @Test
    void withoutLeaveRunningTheTreeIsKilledLikeCriuDump() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("the tree was killed"), r.out());
            assertImage(img);
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the dumped process to be gone");
        }
    }

    /**
     * A plain dump's freeze goes first, as a pre-copy's does (cryo.dump.freeze-nice, -10): while the
     * tree is frozen cryo's threads and the tree's autogroup run raised, and both are set back once
     * the tree is let go. Before, a plain dump left both at 0 and its frozen window waited for a CPU
     * (a cold command's sleep frozen 0.6-1.7 s at load 21, 0.33-0.42 s raised).
     */
    @Test
    void aPlainDumpRaisesCryoAndTheTreesAutogroupOnlyWhileTheTreeIsFrozen() throws Exception {
        Path autogroupOf = Path.of("/proc/self/autogroup");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path group = Path.of("/proc/" + p.pid() + "/autogroup");
            java.util.List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
            try (AutoCloseable o = dev.cryo.api.TreeObservers.register(new dev.cryo.api.TreeObservers.Observer() {
                @Override
                public void frozenForDump(int root, java.util.List<Integer> pids) {
                    try {
                        seen.add("cryo " + dev.cryo.kernel.Sched.getNice(selfTid())
                                + (Files.exists(autogroupOf) ? ", tree " + Files.readString(group).strip().replaceAll("^\\S+ ", "") : ""));
                    } catch (java.io.IOException e) {
                        seen.add(e.toString());
                    }
                }
            })) {
                Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "-R", "--no-progress");
                assertEquals(0, r.code(), r.toString());
                assertEquals(java.util.List.of("cryo -10" + (Files.exists(autogroupOf) ? ", tree nice -10" : "")), seen);
                assertEquals(0, dev.cryo.kernel.Sched.getNice(selfTid()), "cryo's threads set back");
                if (Files.exists(autogroupOf)) {
                    assertEquals("nice 0", Files.readString(group).strip().replaceAll("^\\S+ ", ""), "the tree's group set back");
                }
            }
            assertTrue(p.alive());
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    static int selfTid() throws java.io.IOException {
        return Integer.parseInt(Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString());
    }

    /** criu dump --leave-stopped: every thread of every task stopped, nothing lost, SIGCONT resumes it. */
    @Test
    void leaveStoppedLeavesEveryThreadStoppedAndSigcontResumesIt() throws Exception {
        try (DetachedProcess p = Workloads.threads(tmp)) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-s", "--no-progress");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("left stopped"), r.out());
            assertImage(img);
            Workloads.awaitStopped(p.pid(), 5);
            dev.cryo.kernel.Sys.kill(p.pid(), dev.cryo.kernel.Signals.SIGCONT);
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }
}
