package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code cryo dump} and {@code cryo restore -d} hand their job to a running local agent (its unix
 * socket, cryo.cluster.local-socket) and work in-process when there is none, or only a dead one's
 * socket. One agent, on loopback with a socket of this test's own, serves the cases; the dead socket is
 * one of its own agent's.
 */
class LocalAgentTest {
    /** The agent the cases share (its start is most of a case's time): its keys, socket and log. */
    @TempDir
    static Path agentDir;

    @TempDir
    Path tmp;

    private static Agent shared;
    private Path sock;
    private Path log;
    /** Where the shared agent's log ended when this case began: a case reads only its own lines. */
    private long mark;

    /** An agent on loopback serving the local socket {@code sock}, its output in {@code log}. */
    private record Agent(Process process, Path sock, Path log, int port, Path keys) {
        /** {@code settings}: cryo settings of its own, "key=value" each. */
        static Agent start(Path dir, String... settings) throws Exception {
            Path keys = dir.resolve("keys");
            assertEquals(0, Cli.run("keys", "init", keys.toString()).code());
            Path sock = dir.resolve("run/agent.sock");
            Path log = dir.resolve("agent.log");
            int port = ThreadLocalRandom.current().nextInt(40000, 50000);
            java.util.List<String> cmd = new java.util.ArrayList<>(List.of("java", "-XX:-UsePerfData", "-jar",
                    TwoHosts.JAR.toString(), "-Dcryo.cluster.local-socket=" + sock));
            for (String kv : settings) {
                cmd.add("-D" + kv);
            }
            cmd.addAll(List.of("agent", "--name", "local", "--bind", "127.0.0.1:" + port, "--data-port", "0", "--keys",
                    keys.toString()));
            Process agent = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Agent a = new Agent(agent, sock, log, port, keys);
            try {
                TwoHosts.awaitLog(log, "agent local running", Duration.ofSeconds(120));
                assertTrue(Files.exists(sock), "the agent listens on " + sock);
                assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
            } catch (Exception | Error e) {
                a.stop();
                throw e;
            }
            return a;
        }

        void stop() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @BeforeEach
    void agent() throws Exception {
        assumeTrue(Files.exists(TwoHosts.JAR), "the packaged CLI " + TwoHosts.JAR + " is built by `mvn verify` (package phase)");
        if (shared == null || !shared.process().isAlive()) {
            shared = Agent.start(Files.createTempDirectory(agentDir, "agent"));
        }
        sock = shared.sock();
        log = shared.log();
        mark = TwoHosts.mark(log);
    }

    @AfterAll
    static void stopAgent() throws Exception {
        if (shared != null) {
            shared.stop();
            shared = null;
        }
    }

    /** What the agent serving this case logged since the case began. */
    private String agentLog() throws Exception {
        return TwoHosts.since(log, mark);
    }

    private void awaitAgentLog(String text) throws Exception {
        TwoHosts.awaitLog(log, mark, text, Duration.ofSeconds(10));
    }

    private Cli cli(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "-Dcryo.cluster.local-socket=" + sock;
        System.arraycopy(args, 0, all, 1, args.length);
        return Cli.run(all);
    }

    @Test
    void dumpAndDetachedRestoreGoThroughTheRunningAgent() throws Exception {
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Thread.sleep(200);
            Cli d = cli("dump", "-t", p.pid().toString(), "-D", img.toString());
            assertEquals(0, d.code(), d.toString());
            assertTrue(d.out().contains("Dumped 1 task"), d.out());
            awaitAgentLog("local request: dump pid " + p.pid());
            assertTrue(Files.exists(img.resolve("stats.json")), "the CLI still writes stats.json");
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the dumped tree to be gone");

            Cli r = cli("restore", "-D", img.toString(), "-d");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("root pid " + p.pid()), r.out());
            awaitAgentLog("local request: restore " + img);
            try (DetachedProcess back = DetachedProcess.restored(Pid.of(p.pid().value()), p.output())) {
                Thread.sleep(300);
                String out = Workloads.check(back);
                assertTrue(out.contains("PASS"), out);
                assertEquals(1, out.split("ready", -1).length - 1, "it did not start over:\n" + out);
            }
        }
    }

    /**
     * {@code restore -d --lazy-pages} with an agent running: the agent restores and serves the pages (its JVM lives
     * on), the CLI returns once the tree runs, and the agent logs when the last page is in. Before, a lazy restore
     * always ran in the CLI's process, which stayed until then.
     */
    @Test
    void aLazyRestoreGoesThroughTheAgentWhichServesThePages() throws Exception {
        Path img = tmp.resolve("img");
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/lazyfork.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("lazyfork.out"), prog,
                tmp.resolve("never").toString(), "256", "stays"))) {
            Cli d = cli("dump", "-t", p.pid().toString(), "-D", img.toString());
            assertEquals(0, d.code(), d.toString());
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the dumped tree to be gone");

            Cli r = cli("restore", "-D", img.toString(), "-d", "--lazy-pages");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("root pid " + p.pid()), r.out());
            assertTrue(r.err().contains("cryo: lazy pages: the local agent serves them"), r.toString());
            assertFalse(r.err().contains("pages came lazily"), "the CLI served them itself: " + r);
            awaitAgentLog("local request: restore " + img + " (lazy pages)");
            TwoHosts.awaitLog(log, mark, "lazy restore of " + img + " (root pid " + p.pid() + "): every page is in: ",
                    Duration.ofSeconds(120));
            try (DetachedProcess back = DetachedProcess.restored(Pid.of(p.pid().value()), p.output())) {
                String out = Workloads.check(back);
                assertTrue(out.contains("PASS"), out + "\n" + agentLog());
            }
        }
    }

    /**
     * A lazy restore an agent serves is listed by {@code cryo agents} (its root pid, pages in of the total, since
     * when), and {@code dump --lazy-wait} waits for its last page, then dumps; the image restores PASS. The agent
     * copies ahead with a pause (cryo.restore.lazy-ahead-pause), so the pages surely still come meanwhile. Before,
     * {@code cryo agents} showed nothing of it, and a dump was refused until the restore had ended.
     */
    @Test
    void aLazyRestoreAnAgentServesIsListedAndADumpWaitsForItsLastPage() throws Exception {
        Agent slow = Agent.start(tmp, "cryo.restore.lazy-ahead-pause=250ms");
        try {
            sock = slow.sock();
            log = slow.log();
            mark = TwoHosts.mark(log);
            Path img = tmp.resolve("img");
            String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/lazyfork.c").toString();
            try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("lazyfork.out"), prog,
                    tmp.resolve("never").toString(), "256", "stays"))) {
                assertEquals(0, cli("dump", "-t", p.pid().toString(), "-D", img.toString()).code());
                DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the dumped tree to be gone");
                Cli r = cli("restore", "-D", img.toString(), "-d", "--lazy-pages");
                assertEquals(0, r.code(), r.toString());
                Cli agents = Cli.run("agents", "--agent", "127.0.0.1:" + slow.port(), "--keys", slow.keys().toString());
                assertEquals(0, agents.code(), agents.toString());
                Matcher m = Pattern.compile("local +" + p.pid() + " +(\\d+) / (\\d+) +\\d\\d:\\d\\d:\\d\\d \\(\\d+ s\\) +"
                        + Pattern.quote(img.toString())).matcher(agents.out());
                assertTrue(m.find(), agents.out() + "\n" + agentLog());
                assertTrue(Long.parseLong(m.group(1)) < Long.parseLong(m.group(2)), agents.out());
                assertTrue(Long.parseLong(m.group(2)) >= 256 * 256, agents.out()); // 256 MiB to come

                Path again = tmp.resolve("again");
                Cli d = cli("dump", "-t", p.pid().toString(), "-D", again.toString(), "--lazy-wait", "300");
                assertEquals(0, d.code(), d + "\n" + agentLog());
                assertTrue(d.err().contains("pid " + p.pid() + " is still being filled by a lazy restore: waiting up to 300 s"),
                        d.toString());
                TwoHosts.awaitLog(log, mark, "lazy restore of " + img + " (root pid " + p.pid() + "): every page is in",
                        Duration.ofSeconds(30));
                Cli listed = Cli.run("agents", "--agent", "127.0.0.1:" + slow.port(), "--keys", slow.keys().toString());
                assertFalse(listed.out().contains("Lazy restores"), listed.out());
                DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the dumped tree to be gone");
                assertEquals(0, cli("restore", "-D", again.toString(), "-d").code());
                try (DetachedProcess back = DetachedProcess.restored(Pid.of(p.pid().value()), p.output())) {
                    String out = Workloads.check(back);
                    assertTrue(out.contains("PASS"), out + "\n" + agentLog());
                }
            }
        } finally {
            slow.stop();
        }
    }

    @Test
    void aFailureInTheAgentReachesTheUserAsAnError() throws Exception {
        Cli d = cli("dump", "-t", "999999", "-D", tmp.resolve("none").toString());
        assertNotEquals(0, d.code(), d.toString());
        assertTrue(d.err().startsWith("cryo: "), d.toString());
        assertFalse(d.err().contains("Exception"), d.toString());
    }

    @Test
    void withADeadAgentsSocketLeftBehindTheCliWorksInProcess() throws Exception {
        Agent dead = Agent.start(tmp); // its own: the shared one serves the other cases
        sock = dead.sock();
        log = dead.log();
        mark = TwoHosts.mark(log);
        dead.stop(); // SIGKILL: the socket file stays
        assertTrue(Files.exists(sock));
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Cli d = cli("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R");
            assertEquals(0, d.code(), d.toString());
            assertFalse(agentLog().contains("local request"), agentLog());
            assertTrue(p.alive());
        }
    }

    @Test
    void noAgentKeepsTheDumpInProcess() throws Exception {
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Cli d = cli("dump", "--no-agent", "-t", p.pid().toString(), "-D", img.toString(), "-R");
            assertEquals(0, d.code(), d.toString());
            assertFalse(agentLog().contains("local request"), agentLog());
        }
    }

    /**
     * A plain {@code cryo dump} and {@code cryo restore -d} in a cold JVM go to the agent before the
     * command model is built (AgentShortcut): not one picocli class is loaded, and the outcome is
     * the same — stats.json, the summary, the pid file, the tree running on where it stopped.
     */
    @Test
    void aColdCliHandsPlainCommandsToTheAgentWithoutBuildingItsCommandModel() throws Exception {
        Path img = tmp.resolve("img");
        Path pidfile = tmp.resolve("restored.pid");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Thread.sleep(200);
            String d = coldCli("dump", "-t", p.pid().toString(), "-D", img.toString());
            assertTrue(d.contains("Dumped 1 task"), d);
            assertFalse(d.contains("picocli."), "picocli loaded:\n" + d);
            awaitAgentLog("local request: dump pid " + p.pid());
            assertTrue(Files.readString(img.resolve("stats.json")).contains("\"frozenMillis\" : "));
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the dumped tree to be gone");

            String r = coldCli("restore", "-D", img.toString(), "-d", "--pidfile", pidfile.toString());
            assertTrue(r.contains("root pid " + p.pid()), r);
            assertFalse(r.contains("picocli."), "picocli loaded:\n" + r);
            awaitAgentLog("local request: restore " + img);
            assertEquals(p.pid() + "\n", Files.readString(pidfile));
            try (DetachedProcess back = DetachedProcess.restored(Pid.of(p.pid().value()), p.output())) {
                Thread.sleep(300);
                String out = Workloads.check(back);
                assertTrue(out.contains("PASS"), out);
            }
        }
    }

    /**
     * Requests at once through one agent, each CLI answered with its own result: dumps of three
     * trees, then two restores beside a dump of the third tree and two requests that fail (no such
     * pid, a damaged image). The second of two restores at once used to replace the first's reply
     * address (one message adapter per class): the first CLI never heard back.
     */
    @Test
    void requestsAtOnceEachGetTheirOwnAnswer() throws Exception {
        DetachedProcess a = Workloads.tree(Files.createDirectories(tmp.resolve("a")));
        DetachedProcess b = Workloads.tree(Files.createDirectories(tmp.resolve("b")));
        DetachedProcess c = Workloads.tree(Files.createDirectories(tmp.resolve("c")));
        try {
            Path imgA = tmp.resolve("img-a"), imgB = tmp.resolve("img-b"), imgC = tmp.resolve("img-c");
            Map<String, String> dumps = atOnce(Map.of(
                    "dump a", new String[] {"dump", "-t", a.pid().toString(), "-D", imgA.toString()},
                    "dump b", new String[] {"dump", "-t", b.pid().toString(), "-D", imgB.toString()},
                    "dump c", new String[] {"dump", "-t", c.pid().toString(), "-D", imgC.toString(), "-R"}), 0);
            assertTrue(dumps.get("dump a").contains("of pid " + a.pid() + " into " + imgA), dumps.get("dump a"));
            assertTrue(dumps.get("dump b").contains("of pid " + b.pid() + " into " + imgB), dumps.get("dump b"));
            assertTrue(dumps.get("dump c").contains("of pid " + c.pid() + " into " + imgC), dumps.get("dump c"));
            DetachedProcess.awaitCondition(() -> !a.alive() && !b.alive(), Duration.ofSeconds(10), "the dumped trees to be gone");

            Path damaged = tmp.resolve("img-damaged");
            Files.createDirectories(damaged);
            byte[] image = Files.readAllBytes(imgA.resolve("image.cryo"));
            Files.write(damaged.resolve("image.cryo"), java.util.Arrays.copyOf(image, image.length / 2)); // no trailer
            Map<String, String> second = atOnce(Map.of(
                    "restore a", new String[] {"restore", "-D", imgA.toString(), "-d"},
                    "restore b", new String[] {"restore", "-D", imgB.toString(), "-d"},
                    "dump c", new String[] {"dump", "-t", c.pid().toString(), "-D", tmp.resolve("img-c2").toString(), "-R"},
                    "no such pid", new String[] {"dump", "-t", "4194000", "-D", tmp.resolve("none").toString()},
                    "damaged", new String[] {"restore", "-D", damaged.toString(), "-d"}), -1);
            assertTrue(second.get("restore a").startsWith("exit 0\n") && second.get("restore a").contains("root pid " + a.pid()),
                    second.get("restore a"));
            assertTrue(second.get("restore b").startsWith("exit 0\n") && second.get("restore b").contains("root pid " + b.pid()),
                    second.get("restore b"));
            assertTrue(second.get("dump c").startsWith("exit 0\n")
                    && second.get("dump c").contains("of pid " + c.pid() + " into " + tmp.resolve("img-c2")), second.get("dump c"));
            assertTrue(second.get("no such pid").startsWith("exit 1\ncryo: dump failed: ") && second.get("no such pid").contains("4194000")
                    && !second.get("no such pid").contains("Exception"), second.get("no such pid"));
            assertTrue(second.get("damaged").startsWith("exit 1\ncryo: restore failed: ")
                    && second.get("damaged").contains("image.cryo has no trailer"), second.get("damaged"));
            for (DetachedProcess p : List.of(a, b, c)) {
                String out = Workloads.check(DetachedProcess.restored(p.pid(), p.output()));
                assertTrue(out.contains("PASS"), p.pid() + ": " + out);
            }
        } finally {
            for (DetachedProcess p : List.of(a, b, c)) {
                p.close();
            }
        }
    }

    /**
     * Runs each command line in a cryo JVM of its own, all at once; each one's output, after it ended
     * with {@code code} (any code when -1, then prefixed "exit N"). A CLI that never hears back fails
     * the test rather than hanging it (the agent's own wait would take ten minutes).
     */
    private Map<String, String> atOnce(Map<String, String[]> commands, int code) throws Exception {
        Map<String, Process> running = new java.util.LinkedHashMap<>();
        Map<String, Path> logs = new java.util.HashMap<>();
        for (var e : commands.entrySet()) {
            String[] args = new String[e.getValue().length + 1];
            args[0] = "-Dcryo.cluster.local-socket=" + sock;
            System.arraycopy(e.getValue(), 0, args, 1, e.getValue().length);
            Path out = Files.createTempFile(tmp, e.getKey().replace(' ', '-'), ".log");
            logs.put(e.getKey(), out);
            running.put(e.getKey(), CryoProcess.start(out, args));
        }
        Map<String, String> outputs = new java.util.HashMap<>();
        for (var e : running.entrySet()) {
            Process p = e.getValue();
            boolean ended = p.waitFor(150, TimeUnit.SECONDS);
            if (!ended) {
                p.destroyForcibly();
            }
            String out = Files.readString(logs.get(e.getKey()));
            assertTrue(ended, e.getKey() + ": no answer (" + out + "); the agent's log:\n" + agentLog());
            outputs.put(e.getKey(), code == -1 ? "exit " + p.exitValue() + "\n" + out : out);
            if (code != -1) {
                assertEquals(code, p.exitValue(), e.getKey() + ":\n" + out);
            }
        }
        return outputs;
    }

    /** The packaged CLI in a JVM of its own, listing the classes it loads; its output, once it exited 0. */
    private String coldCli(String... args) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("java", "-XX:-UsePerfData",
                "-verbose:class", "-Dcryo.cluster.local-socket=" + sock, "-jar", TwoHosts.JAR.toString()));
        cmd.addAll(java.util.List.of(args));
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes());
        assertTrue(proc.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, proc.exitValue(), String.join(" ", args) + ":\n" + out);
        return out;
    }
}
