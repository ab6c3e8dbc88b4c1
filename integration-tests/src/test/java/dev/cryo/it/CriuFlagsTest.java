package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** CRIU's command-line options an operator's scripts use, on real processes. */
class CriuFlagsTest {
    @TempDir
    Path tmp;

    /**
     * A script that logs each action it is called for with CRIU's environment, and the state of
     * the root at that moment (t: held by cryo, frozen), failing at {@code failAt}.
     */
    private Path script(Path log, String failAt) throws Exception {
        Path s = tmp.resolve("action-" + failAt + ".sh");
        Files.writeString(s, "#!/bin/sh\n"
                + "state=$(sed -n 's/^State:\\t\\(.\\).*/\\1/p' /proc/${CRTOOLS_INIT_PID:-0}/status 2>/dev/null)\n"
                + "echo \"$CRTOOLS_SCRIPT_ACTION dir=$CRTOOLS_IMAGE_DIR pid=${CRTOOLS_INIT_PID:-none} state=$state\" >> "
                + log + "\n"
                + "[ \"$CRTOOLS_SCRIPT_ACTION\" = " + failAt + " ] && exit 3\nexit 0\n");
        s.toFile().setExecutable(true);
        return s;
    }

    private static List<String> actions(Path log) throws Exception {
        return Files.readAllLines(log).stream().map(l -> l.replaceAll(" .*", "")).toList();
    }

    @Test
    void actionScriptsRunAtCriusStagesWithCriusEnvironment() throws Exception {
        Path log = tmp.resolve("actions.log");
        String script = script(log, "none").toString();
        try (DetachedProcess p = Workloads.counter(tmp)) {
            int pid = p.pid().value();
            Path img = tmp.resolve("img");
            DumpRestore d = DumpRestore.dump(pid, img, "--action-script", script);
            assertEquals(List.of("pre-dump", "post-dump"), actions(log));
            List<String> lines = Files.readAllLines(log);
            assertTrue(lines.get(0).equals("pre-dump dir=" + img + " pid=" + pid + " state=" + lines.get(0)
                    .replaceAll(".*state=", "")) && !lines.get(0).endsWith("state=t"), lines.toString());
            assertEquals("post-dump dir=" + img + " pid=" + pid + " state=t", lines.get(1), "frozen, image complete");
            assertTrue(Files.exists(img.resolve("image.cryo")), "the image is complete at post-dump");
            Files.delete(log);
            DetachedProcess r = d.restoreDetached(p.output(), "--action-script", script);
            try {
                lines = Files.readAllLines(log);
                assertEquals(List.of("pre-restore dir=" + img + " pid=none state=",
                        "post-restore dir=" + img + " pid=" + pid + " state=t",
                        "pre-resume dir=" + img + " pid=" + pid + " state=t"), lines.subList(0, 3));
                assertEquals(4, lines.size(), lines.toString());
                assertTrue(lines.get(3).startsWith("post-resume dir=" + img + " pid=" + pid + " state=")
                        && !lines.get(3).endsWith("state=t"), "running by then: " + lines.get(3));
            } finally {
                assertTrue(RestoreTest.checkAndReap(r).contains("PASS"));
            }
        }
    }

    /** A tree in a net namespace of its own: CRIU's network-lock at the dump, network-unlock before the resume. */
    @Test
    void aTreeInItsOwnNetNamespaceGetsTheNetworkActions() throws Exception {
        Path log = tmp.resolve("actions.log");
        String script = script(log, "none").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("counter.out"), "/usr/bin/unshare",
                "-n", dev.cryo.kernel.testing.TestPrograms.compile("/c/counter.c").toString(),
                tmp.resolve("counter.txt").toString()))) {
            Cli running = Cli.run("dump", "-t", Integer.toString(p.pid().value()), "-D", tmp.resolve("img-R").toString(),
                    "-R", "--no-progress", "--action-script", script);
            assertEquals(0, running.code(), running.toString());
            assertEquals(List.of("pre-dump", "network-lock", "post-dump", "network-unlock"), actions(log));
            Files.delete(log);
            DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--action-script", script);
            assertEquals(List.of("pre-dump", "network-lock", "post-dump"), actions(log));
            assertTrue(Files.readAllLines(log).get(1).endsWith("state=t"), "frozen at network-lock");
            Files.delete(log);
            DetachedProcess r = d.restoreDetached(p.output(), "--action-script", script);
            try {
                assertEquals(List.of("pre-restore", "post-restore", "network-unlock", "pre-resume", "post-resume"),
                        actions(log));
            } finally {
                assertTrue(RestoreTest.checkAndReap(r).contains("PASS"));
            }
        }
    }

    /** The unified hierarchy's mount point. */
    /** Removes test cgroup {@code cg} once the tasks killed in it have left it (a removal fails while one is leaving). */
    static void removeWhenEmpty(Path cg) throws InterruptedException {
        DetachedProcess.awaitCondition(() -> {
            try {
                Files.deleteIfExists(cg);
                return true;
            } catch (java.io.IOException busy) {
                return false; // a killed task is still leaving it
            }
        }, Duration.ofSeconds(20), "cgroup " + cg + " to be removed");
    }

    static Path unified() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            int dash = java.util.Arrays.asList(f).indexOf("-");
            if (dash > 0 && f[dash + 1].equals("cgroup2") && f[3].equals("/")) {
                return Path.of(f[4]);
            }
        }
        throw new IllegalStateException("this host mounts no cgroup2 hierarchy");
    }

    /**
     * --freeze-cgroup: the tree's cgroup is frozen while it is seized (an observer of the frozen
     * tree sees it frozen) and thawed before anything is injected; the dump and restore are whole.
     */
    @Test
    void freezeCgroupFreezesTheTreeForTheSeizeAndThawsIt() throws Exception {
        Path cg = Files.createDirectory(unified().resolve("cryo-it-freeze-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime() % 100000));
        try (DetachedProcess p = Workloads.tree(tmp)) {
            int pid = p.pid().value();
            for (int t : StateComparator.tree(pid)) {
                Files.writeString(cg.resolve("cgroup.procs"), Integer.toString(t));
            }
            Cli v1 = Cli.run("dump", "-t", Integer.toString(pid), "-D", tmp.resolve("no").toString(), "--freeze-cgroup",
                    "/sys/fs/cgroup/freezer");
            assertEquals(2, v1.code(), v1.toString());
            assertTrue(v1.err().contains("no cgroup.freeze"), v1.err());
            List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
            DumpRestore d;
            try (AutoCloseable o = dev.cryo.api.TreeObservers.register(new dev.cryo.api.TreeObservers.Observer() {
                @Override
                public void frozenForDump(int root, List<Integer> pids) {
                    try {
                        seen.add(Files.readString(cg.resolve("cgroup.events")));
                    } catch (java.io.IOException e) {
                        seen.add(e.toString());
                    }
                }
            })) {
                d = DumpRestore.dump(pid, tmp.resolve("img"), "--freeze-cgroup", cg.toString());
            }
            assertEquals(1, seen.size(), seen.toString());
            assertTrue(seen.get(0).contains("frozen 1"), "frozen while seized: " + seen);
            assertTrue(Files.readString(cg.resolve("cgroup.events")).contains("frozen 0"), "thawed after the dump");
            DetachedProcess r = d.restoreDetached(p.output());
            assertTrue(RestoreTest.checkAndReap(r).contains("PASS"));
        } finally {
            removeWhenEmpty(cg);
        }
    }

    /** CRIU's semantics: a failed pre-dump dumps nothing; a failed post-dump lets the tree run on. */
    @Test
    void aFailingDumpScriptLeavesTheTreeRunning() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            String pid = Integer.toString(p.pid().value());
            Path img = tmp.resolve("img");
            Path log = tmp.resolve("actions.log");
            Cli pre = Cli.run("dump", "-t", pid, "-D", img.toString(), "--no-progress", "--action-script",
                    script(log, "pre-dump").toString());
            assertEquals(1, pre.code(), pre.toString());
            assertTrue(pre.err().contains("--action-script pre-dump") && pre.err().contains("exited with status 3")
                    && pre.err().contains("nothing was dumped"), pre.err());
            assertFalse(Files.exists(img.resolve("image.cryo")));
            Cli post = Cli.run("dump", "-t", pid, "-D", img.toString(), "--no-progress", "--action-script",
                    script(log, "post-dump").toString());
            assertEquals(1, post.code(), post.toString());
            assertTrue(post.err().contains("--action-script post-dump") && post.err().contains("exited with status 3"),
                    post.err());
            assertEquals(List.of("pre-dump", "pre-dump", "post-dump"), actions(log));
            assertTrue(p.alive() && p.state() != 't', "the tree runs on: state " + p.state());
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    /** A failed post-restore kills what was restored, as CRIU's; the image restores later. */
    @Test
    void aFailingPostRestoreScriptLeavesNothingBehind() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            int pid = p.pid().value();
            Path img = tmp.resolve("img");
            DumpRestore d = DumpRestore.dump(pid, img);
            Path log = tmp.resolve("actions.log");
            Cli failed = Cli.run("restore", "-D", img.toString(), "-d", "--no-progress", "--action-script",
                    script(log, "post-restore").toString());
            assertEquals(1, failed.code(), failed.toString());
            assertTrue(failed.err().contains("--action-script post-restore") && failed.err().contains("status 3"),
                    failed.err());
            assertEquals(List.of("pre-restore", "post-restore"), actions(log));
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(30),
                    "the restored tree to be gone");
            DetachedProcess r = d.restoreDetached(p.output());
            assertTrue(RestoreTest.checkAndReap(r).contains("PASS"));
        }
    }
}
