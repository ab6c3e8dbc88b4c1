package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A local agent as an operator meets it going wrong: the CLI killed while the agent dumps for it,
 * the agent killed mid-dump, its socket left behind, a second agent started on the same socket.
 * The agents copy pages through two buffers, so a 1 GiB dump is long enough to be cut.
 */
class LocalAgentFailuresTest {
    @TempDir
    Path tmp;

    private final List<Process> agents = new ArrayList<>();
    private Path keys;
    private Path sock;

    @BeforeEach
    void keys() {
        assumeTrue(Files.exists(TwoHosts.JAR), "the packaged CLI " + TwoHosts.JAR + " is built by `mvn verify` (package phase)");
        keys = tmp.resolve("keys");
        assertEquals(0, Cli.run("keys", "init", keys.toString()).code());
        sock = tmp.resolve("run/agent.sock");
    }

    @AfterEach
    void stopAgents() throws Exception {
        for (Process a : agents) {
            a.destroyForcibly();
            a.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private Process agent(Path log) throws Exception {
        int port = ThreadLocalRandom.current().nextInt(40000, 50000);
        Process a = new ProcessBuilder("java", "-XX:-UsePerfData", "-jar", TwoHosts.JAR.toString(),
                "-Dcryo.cluster.local-socket=" + sock, "-Dcryo.buffers.in-flight=2", "agent", "--name", "local",
                "--bind", "127.0.0.1:" + port, "--data-port", "0", "--keys", keys.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        agents.add(a);
        return a;
    }

    private Process startedAgent(Path log) throws Exception {
        Process a = agent(log);
        TwoHosts.awaitLog(log, "agent local running", Duration.ofSeconds(120));
        return a;
    }

    private Process cli(Path log, String... args) throws Exception {
        String[] all = new String[args.length + 1];
        all[0] = "-Dcryo.cluster.local-socket=" + sock;
        System.arraycopy(args, 0, all, 1, args.length);
        return CryoProcess.start(log, all);
    }

    /** Waits until the agent copies the tree's pages into img (the commit is a whole 1 GiB copy away). */
    private static void awaitCopying(DetachedProcess p, Path img) throws Exception {
        Path partial = img.resolve("image.cryo.partial");
        DetachedProcess.awaitCondition(() -> p.state() == 't' && size(partial) > (1 << 20), Duration.ofSeconds(90),
                "pid " + p.pid() + " to be seized and its pages copied");
    }

    private static long size(Path f) {
        try {
            return Files.size(f);
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    /** The tree let go (it is released in the moments after the dump gave up) and unharmed; it ends after its check. */
    private static void assertRunsUntraced(DetachedProcess p) throws Exception {
        DetachedProcess.awaitCondition(() -> (p.state() == 'R' || p.state() == 'S') && untraced(p), Duration.ofSeconds(30),
                "pid " + p.pid() + " to run untraced (state " + p.state() + ")");
        assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
    }

    private static boolean untraced(DetachedProcess p) {
        try {
            return Files.readString(Path.of("/proc/" + p.pid() + "/status")).contains("TracerPid:\t0\n");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** A dump -R of a fresh tree through the agent now on the socket: answered, by that agent. */
    private void assertServes(Path agentLog) throws Exception {
        try (DetachedProcess q = Workloads.counter(Files.createDirectories(tmp.resolve("next")))) {
            Path out = tmp.resolve("next.log");
            Process next = cli(out, "dump", "-t", q.pid().toString(), "-D", tmp.resolve("img-next").toString(), "-R");
            assertTrue(next.waitFor(150, TimeUnit.SECONDS), Files.readString(agentLog));
            assertEquals(0, next.exitValue(), Files.readString(out));
            assertTrue(Files.readString(agentLog).contains("local request: dump pid " + q.pid()), Files.readString(agentLog));
        }
    }

    /**
     * SIGKILL to the CLI while the agent dumps for it: the agent gives the dump up and takes the next
     * request; SIGINT: the same, and the CLI says so once the agent has let the tree go.
     */
    @Test
    void aCliKilledMidDumpHasItsDumpGivenUpAndTheAgentServesTheNext() throws Exception {
        Path log = tmp.resolve("agent.log");
        startedAgent(log);
        try (DetachedProcess p = Workloads.bigmem(tmp, 1024)) {
            Path img = tmp.resolve("img");
            Process cli = cli(tmp.resolve("cli.log"), "dump", "-t", p.pid().toString(), "-D", img.toString(), "-R");
            awaitCopying(p, img);
            Sys.kill(Pid.of((int) cli.pid()), Signals.SIGKILL);
            TwoHosts.awaitLog(log, "local request: the cryo that asked for the dump of pid " + p.pid()
                    + " went away; the dump is given up", Duration.ofSeconds(30));
            assertRunsUntraced(p);
            DetachedProcess.awaitCondition(() -> !Files.exists(img.resolve("image.cryo.partial")), Duration.ofSeconds(30),
                    "the partial image to be removed");
            assertFalse(Files.exists(img.resolve("image.cryo")), "no image is committed");
        }
        assertServes(log);
        // SIGINT instead: the CLI has the agent give the dump up and waits for its answer to say how it ended
        try (DetachedProcess p = Workloads.bigmem(tmp, 1024)) {
            Path img = tmp.resolve("img-int");
            Path cliLog = tmp.resolve("cli-int.log");
            Process cli = cli(cliLog, "dump", "-t", p.pid().toString(), "-D", img.toString(), "-R");
            awaitCopying(p, img);
            Sys.kill(Pid.of((int) cli.pid()), Signals.SIGINT);
            assertTrue(cli.waitFor(60, TimeUnit.SECONDS), "the CLI did not end");
            String out = Files.readString(cliLog);
            assertEquals(128 + Signals.SIGINT, cli.exitValue(), out);
            assertTrue(out.contains("cryo: dump interrupted by SIGINT: the local agent gave it up; pid " + p.pid()
                    + " runs on and no image was committed"), out);
            assertFalse(out.contains("Exception"), out);
            assertRunsUntraced(p);
            assertFalse(Files.exists(img.resolve("image.cryo")), "no image is committed");
        }
    }

    /**
     * SIGKILL to the agent mid-dump: the tree runs on, untraced; the CLI says the agent ended and
     * what became of the tree. The socket it left is replaced by the next agent, and a third one
     * on that socket is refused, naming the agent that serves it.
     */
    @Test
    void anAgentKilledMidDumpLeavesTheTreeRunningAndTheNextAgentTakesItsSocket() throws Exception {
        Process first = startedAgent(tmp.resolve("agent1.log"));
        try (DetachedProcess p = Workloads.bigmem(tmp, 1024)) {
            Path img = tmp.resolve("img");
            Path cliLog = tmp.resolve("cli.log");
            Process cli = cli(cliLog, "dump", "-t", p.pid().toString(), "-D", img.toString());
            awaitCopying(p, img);
            Sys.kill(Pid.of((int) first.pid()), Signals.SIGKILL);
            assertTrue(cli.waitFor(60, TimeUnit.SECONDS), "the CLI did not end");
            String out = Files.readString(cliLog);
            assertEquals(1, cli.exitValue(), out);
            assertTrue(out.contains("cryo: dump failed: the local agent ended before it answered (killed, or it crashed): "
                    + "the dump of pid " + p.pid() + " did not finish; pid " + p.pid()), out);
            assertTrue(out.contains("; no image was committed"), out);
            assertFalse(out.contains("Exception"), out);
            assertRunsUntraced(p);
            assertTrue(Files.exists(sock), "the killed agent left its socket");

            Path log2 = tmp.resolve("agent2.log");
            Process second = startedAgent(log2);
            Path log3 = tmp.resolve("agent3.log");
            Process third = agent(log3);
            assertTrue(third.waitFor(120, TimeUnit.SECONDS), "a second agent on the socket did not stop");
            String refused = Files.readString(log3);
            assertEquals(1, third.exitValue(), refused);
            assertTrue(refused.contains("cryo: agent: another cryo agent (pid " + second.pid() + ") serves the local socket "
                    + sock + ": one agent per socket"), refused);
            assertServes(log2);
        }
    }
}
