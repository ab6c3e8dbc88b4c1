package dev.cryo.it;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import dev.cryo.kernel.testing.TestPrograms;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code cryo migrate} between two agents acting as two hosts ({@link TwoHosts}): the tree arrives
 * with its pid in b's pid namespace and carries on; when anything fails the source goes on running.
 *
 * <p>The cases share one pair of hosts (starting two agents is most of a case's time): each begins with
 * both agents running (b started again when a case before killed it, everything again when a's died),
 * looks for its own lines in the agents' logs only after its start ({@link #logA}, {@link #logB}), and
 * leaves b with nothing but its agent. The cases that kill b's agent run last. A case that needs other
 * agent settings (the cut link's short I/O timeout) or no agents at all makes its own hosts.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MigrationTest {
    @TempDir
    Path tmp;

    private static Path sharedDir;
    private static TwoHosts shared;
    /** The shared agents' ghost limit (MiB): above the 20 MiB of data the big deleted file case moves. */
    private static final int SHARED_GHOST_LIMIT_MIB = 21;
    /** Hosts whose agents log at debug level (-vv), for the cases that read what only that shows. */
    private static TwoHosts verbose;
    private long markA, markB;

    @BeforeEach
    void jar() {
        assumeTrue(Files.exists(TwoHosts.JAR), "the packaged CLI " + TwoHosts.JAR + " is built by `mvn verify` (package phase)");
    }

    /** The shared hosts, both agents running: started on first use, b again if its agent is gone, all again if a's is. */
    private TwoHosts hosts() throws Exception {
        if (shared != null && !shared.agentsRunning()) {
            if (shared.agentARunning()) {
                shared.restartB();
            } else {
                shared.close();
                shared = null;
            }
        }
        if (shared == null) {
            if (sharedDir == null) {
                sharedDir = Files.createTempDirectory("cryo-migration-");
            }
            // b's pid namespace outlives its agent, so a case can see what b's agent alone leaves behind
            // a's ghost limit: aDeletedFileOfMoreThanAChunkMovesInPieces carries 20 MiB of data, and
            // aTaskWithItsOwnSchedulingState...'s 24 MiB ghost is still refused
            shared = new TwoHosts(Files.createDirectories(sharedDir.resolve("hosts-" + System.nanoTime()))).initOutlivesAgentB()
                    .start("-Dcryo.dump.ghost-limit=" + SHARED_GHOST_LIMIT_MIB + "M");
        }
        markA = TwoHosts.mark(shared.logA);
        markB = TwoHosts.mark(shared.logB);
        return shared;
    }

    /**
     * The verbose hosts, started on first use and again if an agent is gone: two cases share them instead of
     * starting two agents each (~11 s apiece in CI).
     */
    private static TwoHosts verboseHosts() throws Exception {
        if (verbose != null && !verbose.agentsRunning()) {
            verbose.close();
            verbose = null;
        }
        if (verbose == null) {
            if (sharedDir == null) {
                sharedDir = Files.createTempDirectory("cryo-migration-");
            }
            verbose = new TwoHosts(Files.createDirectories(sharedDir.resolve("verbose-" + System.nanoTime()))).start("-vv");
        }
        return verbose;
    }

    /** What agent a logged since this case began. */
    private String logA() throws Exception {
        return TwoHosts.since(shared.logA, markA);
    }

    /** What agent b logged since this case began. */
    private String logB() throws Exception {
        return TwoHosts.since(shared.logB, markB);
    }

    /**
     * Each agent migrates a sleep of its own at start (WarmUp), so that the first migration runs warm
     * code. On b, in its own mount namespace made by ip netns exec (a fresh sysfs: no cgroup mounts),
     * the warm-up's dump refused the sleep ('pid 34 is in cgroup memory:/..., which no mount of this
     * host shows'), so every first migration into b ran cold (restore 337 ms where the second took 79).
     */
    @Test
    void bothAgentsWarmUpTheirMigrationPath() throws Exception {
        TwoHosts h = hosts();
        for (Path log : java.util.List.of(h.logA, h.logB)) {
            long until = System.nanoTime() + Duration.ofSeconds(300).toNanos();
            String text = Files.readString(log);
            while (!text.contains("warmed up the migration path") && !text.contains("warming up the migration path failed")
                    && System.nanoTime() < until) {
                Thread.sleep(200);
                text = Files.readString(log);
            }
            String failed = text.lines().filter(l -> l.contains("warming up the migration path failed")).findFirst().orElse(null);
            assertNull(failed, log.getFileName() + ": " + failed);
            assertTrue(text.contains("warmed up the migration path"), log.getFileName() + ": no warm-up within 300 s");
        }
    }

    @AfterEach
    void leaveBEmpty() throws Exception {
        if (shared != null && shared.agentsRunning()) {
            shared.clearB();
        }
        if (verbose != null && verbose.agentsRunning()) {
            verbose.clearB();
        }
    }

    @AfterAll
    static void stopHosts() throws Exception {
        if (shared != null) {
            shared.close();
            shared = null;
        }
        if (verbose != null) {
            verbose.close();
            verbose = null;
        }
        if (sharedDir != null) {
            try (var files = Files.walk(sharedDir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
            sharedDir = null;
        }
    }

    /** The migrated process, seen from here: its host pid, the same output file. */
    private static DetachedProcess arrived(TwoHosts hosts, DetachedProcess source) throws Exception {
        int[] host = {-1};
        DetachedProcess.awaitCondition(() -> {
            try {
                host[0] = hosts.hostPidInB(source.pid().value());
            } catch (Exception e) {
                host[0] = -1;
            }
            return host[0] > 0;
        }, Duration.ofSeconds(30), "pid " + source.pid() + " to run in b's pid namespace");
        return DetachedProcess.restored(Pid.of(host[0]), source.output());
    }

    @Test
    void aCounterMovesToTheOtherHostWithItsPidAndContinuesWithNoGapNoRepeat() throws Exception {
        TwoHosts hosts = hosts();
        try (
             DetachedProcess p = hosts.counterOnA(tmp)) {
            Thread.sleep(200);
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--no-pre-copy");
            assertEquals(0, m.code(), m.toString());
            assertTrue(m.out().contains("pids there: [" + p.pid() + "]"), m.out());
            assertTrue(m.out().contains("downtime"), m.out());
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the source to be gone");
            DetachedProcess moved = arrived(hosts, p);
            Thread.sleep(300);
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out);
            assertEquals(1, out.split("ready", -1).length - 1, "it did not start over:\n" + out);
        }
    }

    /**
     * zerowrites.c keeps zeroing 1024 pages (4 MiB) while the rounds run: each round's figure is what
     * was sent, the zero pages apart. Before, the frozen round read "4.4 MiB" for some 100 KiB of data
     * pages sent (a MariaDB migration reported its zeroed buffers as a frozen round of their size).
     */
    @Test
    void aMigrationReportsTheZeroPagesApartFromTheBytesSent() throws Exception {
        TwoHosts hosts = hosts();
        byte[] bytes = new byte[1088 * 4096];
        java.util.Arrays.fill(bytes, (byte) 'f');
        Path file = Files.write(tmp.resolve("file"), bytes);
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("zerowrites.out"), TestPrograms.compile("/c/zerowrites.c").toString(),
                file.toString(), "keep")) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString());
            assertEquals(0, m.code(), m.toString());
            Matcher frozen = Pattern.compile("round \\d+ \\(frozen\\): ([0-9.]+) (B|KiB|MiB)").matcher(m.out());
            assertTrue(frozen.find(), m.out());
            double sent = Double.parseDouble(frozen.group(1)) * switch (frozen.group(2)) {
                case "KiB" -> 1024;
                case "MiB" -> 1 << 20;
                default -> 1;
            };
            // 64 data pages rewritten, 64 of the file's, and the rest of a small program: well under 1024 pages
            assertTrue(sent < 528 * 4096, "the frozen round counts the zero pages as sent: " + m.out());
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the source to be gone");
            String out = Workloads.check(arrived(hosts, p));
            assertTrue(out.contains("PASS"), out + "\n" + m.out());
        }
    }

    /**
     * sched.c (a SCHED_BATCH main thread at nice 7 with its own timer slack, a SCHED_IDLE one, a SCHED_FIFO
     * one, a deadline one) moves to b after pre-copy rounds: its fair threads ran at SCHED_FIFO for cryo's
     * injections in the freeze, and b has each thread as it was (the program checks its own state there).
     * Refused (a deleted file above the ghost limit, read after the lift), it runs on at a as it was.
     */
    @Test
    void aTaskWithItsOwnSchedulingStateMovesWithItAndARefusedOneKeepsIt() throws Exception {
        TwoHosts hosts = hosts();
        String sched = TestPrograms.compile("/c/sched.c", "-pthread").toString();
        Path dir = Files.createDirectories(tmp.resolve("data"));
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("refused.out"), sched, "ghost", dir.toString(),
                Integer.toString(SHARED_GHOST_LIMIT_MIB + 3))) {
            String before = TimingRestoreTest.policies(p.pid().value());
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString());
            assertNotEquals(0, m.code(), m.toString());
            assertTrue(m.toString().contains("ghost limit"), m.toString());
            assertTrue(p.alive(), "the source is still there");
            assertEquals(before, TimingRestoreTest.policies(p.pid().value()), "each thread after the refusal");
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("sched.out"), sched)) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString());
            assertEquals(0, m.code(), m.toString());
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the source to be gone");
            DetachedProcess moved = arrived(hosts, p);
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out + "\n" + m.out() + "\n" + logA());
        }
    }

    /**
     * A tree holding unix sockets moves to b: peercred.c (a root and its child: a stream pair, a listener
     * with a connection accepted and one not accepted yet, a datagram pair of a child that exited; each
     * socket's SO_PEERCRED names the task or the ids it named) and scmqueue.c (files in flight in unread
     * messages of a datagram, a seqpacket and a stream pair, a datagram queue whose sender closed, sender
     * credentials). Each checks everything itself on b. Untried before: no migration held a unix socket.
     */
    @ParameterizedTest
    @ValueSource(strings = {"peercred", "scmqueue"})
    void aTreeHoldingUnixSocketsMovesWithThem(String workload) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("files"));
        TwoHosts hosts = hosts();
        try (DetachedProcess p = workload.equals("scmqueue")
                     ? hosts.startOnA(tmp.resolve(workload + ".out"), TestPrograms.compile("/c/scmqueue.c").toString(), dir.toString())
                     : hosts.startOnA(tmp.resolve(workload + ".out"), TestPrograms.compile("/c/" + workload + ".c").toString())) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--no-pre-copy");
            assertEquals(0, m.code(), m + "\nagent a:\n" + logA() + "\nagent b:\n" + logB());
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the source to be gone");
            DetachedProcess moved = arrived(hosts, p);
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out);
            assertEquals(1, out.split("ready", -1).length - 1, "it did not start over:\n" + out);
        }
    }

    /**
     * locks.c (an flock, a POSIX and an OFD lock on files both agents see, as two agents on one host or two hosts
     * sharing storage do) moves to b, which checks each lock is held there. Before, b's restore found each taken by
     * the frozen source itself ("flock(...): EAGAIN") and the migration failed (real59: tarantool's lock on its data
     * directory); the held source now lets go of them once its image is sent. Then, with a process outside waiting for
     * the flock, the source keeps that one (letting it go would hand it to the waiter): b cannot take it and the
     * migration fails by name; the source, resumed, holds all three again (the POSIX and OFD ones taken back).
     */
    @Test
    void aTreeHoldingFileLocksOnFilesBothHostsShareMovesWithThemAndKeepsThemWhenTheMoveFails() throws Exception {
        TwoHosts hosts = hosts();
        String locks = TestPrograms.compile("/c/locks.c").toString();
        Path dir = Files.createDirectories(tmp.resolve("locked"));
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("locks.out"), locks, dir.toString())) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString());
            assertEquals(0, m.code(), m + "\nagent b:\n" + logB());
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the source to be gone");
            String out = Workloads.check(arrived(hosts, p));
            assertTrue(out.contains("PASS"), out);
        }
        Path other = Files.createDirectories(tmp.resolve("waited"));
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("kept.out"), locks, other.toString());
             DetachedProcess waiter = DetachedProcess.start(tmp.resolve("waiter.out"), "flock",
                     other.resolve("flock").toString(), "true")) {
            DetachedProcess.awaitProbe(() -> Files.readString(Path.of("/proc/locks")).contains("-> FLOCK"),
                    Duration.ofSeconds(30), "the waiter to wait for the flock");
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--no-pre-copy");
            assertNotEquals(0, m.code(), m.toString());
            assertTrue(m.toString().contains("another process holds a lock on that file"), m.toString());
            assertTrue(p.alive() && waiter.alive(), "the source runs on at a, the waiter still waits");
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out + "\n" + m);
        }
    }

    /**
     * A unix listener bound to a path, in a process that also holds an flock another process waits for: b binds the
     * listener's path, then cannot take the lock, and the migration fails by name. The resumed source must still be
     * reached by its path: b's restore removed the source's socket file to bind its own, and once b's copy was killed
     * the source listened by no file (ECONNREFUSED). The old file is now moved aside and put back. So for a listener
     * whose file was renamed after its bind: b renamed its own file over the source's.
     */
    @ParameterizedTest
    @ValueSource(strings = {"bound", "renamed"})
    void aFailedMigrationLeavesTheSourcesUnixListenerReachableByItsPath(String how) throws Exception {
        TwoHosts hosts = hosts();
        Path dir = Files.createDirectories(tmp.resolve("ux"));
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("ux.out"), "python3",
                Workloads.script(tmp, "uxlistener.py").toString(), dir.toString(), how);
             DetachedProcess waiter = DetachedProcess.start(tmp.resolve("waiter.out"), "flock",
                     dir.resolve("lock").toString(), "true")) {
            DetachedProcess.awaitProbe(() -> Files.readString(Path.of("/proc/locks")).contains("-> FLOCK"),
                    Duration.ofSeconds(30), "the waiter to wait for the flock");
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--no-pre-copy");
            assertNotEquals(0, m.code(), m.toString());
            assertTrue(m.toString().contains("another process holds a lock on that file"), m.toString());
            assertTrue(p.alive(), "the source runs on at a");
            try (java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(
                    java.net.UnixDomainSocketAddress.of(dir.resolve("sock")))) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16);
                c.read(b);
                assertEquals("hello\n", new String(b.array(), 0, b.position()));
            }
            assertEquals(List.of("lock", "sock"), Files.list(dir).map(f -> f.getFileName().toString()).sorted().toList(),
                    "nothing left beside");
        }
    }

    /**
     * Agents are long-running: migrations of a tree holding many kinds of files (sockets of each family, one
     * holding an unread error, pipes with bytes, an epoll set, an eventfd, a deleted file, a memfd) leave neither
     * agent holding an fd more than before. Each agent's fds are compared (number and target) after a first
     * migration, which opens what an agent keeps for good, and after two more.
     */
    @Test
    void migrationsLeaveNoFdOpenInEitherAgent() throws Exception {
        TwoHosts hosts = hosts();
        String program = """
                import socket, os, select, tempfile, time
                closed = socket.socket(); closed.bind(('127.0.0.1', 0)); port = closed.getsockname()[1]; closed.close()
                refused = socket.socket(); refused.setblocking(False); refused.connect_ex(('127.0.0.1', port))
                u1, u2 = socket.socketpair(); u1.send(b'x' * 100)
                d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); d1.send(b'y')
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(('127.0.0.1', 0))
                ls = socket.socket(); ls.bind(('127.0.0.1', 0)); ls.listen(5)
                nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); nl.bind((0, 0))
                r, w = os.pipe(); os.write(w, b'p' * 10)
                ep = select.epoll(); ep.register(r, select.EPOLLIN)
                ev = os.eventfd(3)
                f = tempfile.TemporaryFile(dir='/tmp'); f.write(b'q' * 5000); f.flush()
                m = os.memfd_create('m'); os.write(m, b'm' * 3000)
                time.sleep(0.2)
                print('ready', flush=True)
                time.sleep(600)
                """;
        java.util.function.Supplier<java.util.Map<String, java.util.TreeMap<Integer, String>>> fds = () -> {
            java.util.Map<String, java.util.TreeMap<Integer, String>> out = new java.util.TreeMap<>();
            try {
                for (String ns : java.util.List.of(hosts.nsA, hosts.nsB)) {
                    int agent = hosts.agentPidIn(ns);
                    out.put(ns, new java.util.TreeMap<>(dev.cryo.kernel.proc.ProcFs.fdTargets(dev.cryo.kernel.Pid.of(agent))));
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return out;
        };
        java.util.Map<String, java.util.TreeMap<Integer, String>> before = null;
        for (int round = 0; round < 3; round++) {
            try (DetachedProcess p = hosts.startOnA(tmp.resolve("kinds" + round + ".out"), "/usr/bin/python3", "-c", program)) {
                TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                        hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString());
                assertEquals(0, m.code(), m + "\nagent a:\n" + logA() + "\nagent b:\n" + logB());
                DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the source to be gone");
                arrived(hosts, p);
                hosts.clearB();
            }
            if (round == 0) {
                before = fds.get();
            }
        }
        java.util.Map<String, java.util.TreeMap<Integer, String>> after = fds.get();
        for (long deadline = System.nanoTime() + 10_000_000_000L; System.nanoTime() < deadline; Thread.sleep(200)) {
            after = fds.get();
            final var b = before;
            after.forEach((ns, open) -> open.entrySet().removeAll(b.get(ns).entrySet()));
            if (after.values().stream().allMatch(java.util.Map::isEmpty)) {
                break;
            }
        }
        assertEquals(java.util.Map.of(hosts.nsA, new java.util.TreeMap<>(), hosts.nsB, new java.util.TreeMap<>()), after,
                "fds the agents opened in two migrations and still hold");
    }

    /**
     * A tree holding a deleted sparse file of 64 MiB with 20 MiB of data moves to b: its contents travel on the
     * page channel in pieces of 4 MiB beside its task's record (apart from it: a record is one chunk), and come
     * back whole there, holes as holes. Before, a dump carried at most 16 MiB of such a file. With pre-copy, the
     * default: rounds of pages while it runs, the file read at the freeze.
     */
    @Test
    void aDeletedFileOfMoreThanAChunkMovesInPieces() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("files"));
        TwoHosts hosts = hosts();
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("ghostsparse.out"),
                TestPrograms.compile("/c/ghostsparse.c").toString(), dir.toString(), Integer.toString(20 << 20))) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy");
            assertEquals(0, m.code(), m + "\nagent a:\n" + logA() + "\nagent b:\n" + logB());
            DetachedProcess.awaitCondition(() -> !p.alive(), Duration.ofSeconds(10), "the source to be gone");
            String out = Workloads.check(arrived(hosts, p));
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void aWorkloadThatKeepsWritingArrivesIntactAfterSeveralPreCopyRounds() throws Exception {
        TwoHosts hosts = hosts();
        try (
             DetachedProcess p = hosts.dirtierOnA(tmp, 64, 10)) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy");
            assertEquals(0, m.code(), m.toString());
            assertTrue(m.out().contains("round 2"), "more than one round: " + m.out());
            Matcher d = Pattern.compile("downtime (\\d+) ms").matcher(m.out());
            assertTrue(d.find(), m.out());
            // b placed the pre-copied pages in the root's stub while they arrived: the restore after
            // the freeze wrote only the rest (and the checksum below says the result is right)
            Matcher placed = Pattern.compile("restoring \\((\\d+) pages of ").matcher(logB());
            assertTrue(placed.find() && Long.parseLong(placed.group(1)) > 0, logB());
            DetachedProcess moved = arrived(hosts, p);
            Thread.sleep(300);
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out + "\n" + m.out());
        }
    }

    /**
     * The agents run in net namespaces, where the process events connector (cn_proc) speaks to no socket: the
     * source's pre-copy could not hear the host's forks, and sent shared memory whole in the frozen round (a
     * PostgreSQL's 6.9 MiB, against 102 pages on the host's own namespace), saying so at debug level only. Its
     * socket is now made in the initial net namespace. The source agent logs at debug level here (-vv).
     */
    @Test
    void anAgentInANetNamespaceHearsTheHostsForksDuringPreCopy() throws Exception {
        TwoHosts hosts = verboseHosts();
        long mark = TwoHosts.mark(hosts.logA);
        try (DetachedProcess p = hosts.counterOnA(tmp)) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy");
            String a = TwoHosts.since(hosts.logA, mark);
            assertEquals(0, m.code(), m + "\nagent a:\n" + a);
            assertTrue(a.contains("pre-copy round"), "the pre-copy ran on a at debug level: " + a);
            assertFalse(a.contains("the process events connector is not available here"), a);
            DetachedProcess moved = arrived(hosts, p);
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out + "\n" + m.out());
        }
    }

    /**
     * A tree that writes faster than the link carries (a 16 MiB dirtier writing 40 MiB/s over a link
     * shaped to 40 Mbit/s): its rounds stop shrinking after the first, each the whole area again, and
     * the pre-copy used to freeze it at round 3 with all of it left. Now the rounds after go on with
     * the tree stopped a growing share of the time (auto-converge), a bounded number of them, and the
     * output says so and what the frozen round was estimated at; the memory arrives intact.
     */
    @Test
    void aTreeWritingFasterThanTheLinkCarriesIsThrottledInBoundedRoundsAndArrivesIntact() throws Exception {
        TwoHosts hosts = verboseHosts();
        String shaped = "ip netns exec " + hosts.nsA + " tc qdisc %s dev " + hosts.linkA() + " root";
        try (DetachedProcess p = hosts.dirtierOnA(tmp, 16, 40)) {
            TwoHosts.sh(shaped.formatted("replace") + " tbf rate 40mbit burst 64kb latency 100ms");
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy", "--max-downtime", "50");
            String a = Files.readString(hosts.logA);
            assertEquals(0, m.code(), m + "\nagent a:\n" + a);
            System.out.println(m.out());
            assertTrue(m.out().contains("note: pre-copy: the rounds stopped shrinking with the frozen round estimated over 50 ms,"
                    + " so the tree was throttled"), m.out());
            assertTrue(m.out().contains("the frozen round was estimated "), m.out());
            Matcher rounds = Pattern.compile("round (\\d+) \\(frozen\\)").matcher(m.out());
            assertTrue(rounds.find(), m.out());
            int n = Integer.parseInt(rounds.group(1));
            // 2 rounds, then at most 4 throttled (30, 50, 70, 90 %) while they do not shrink, and the frozen one
            assertTrue(n >= 4 && n <= 31, m.out());
            // the tree was stopped indeed (the source's dumper of the root, at debug level)
            Matcher stops = Pattern.compile("pid " + p.pid() + ": round \\d+ throttled: (\\d+) stops").matcher(a);
            assertTrue(stops.find() && Integer.parseInt(stops.group(1)) > 0, a);
            DetachedProcess moved = arrived(hosts, p);
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out + "\n" + m.out());
        } finally {
            TwoHosts.sh(shaped.formatted("del") + " 2>/dev/null; true"); // the other verbose case runs on the whole link
        }
    }

    /**
     * b maps the restore's bootstrap area in the root's stub while the pre-copy arrives, and its
     * adoption after the freeze injects nothing: the mmap of that area was its one injected call
     * (2 ptrace round trips, each waiting for a CPU on a loaded host, in the downtime). Nor does it
     * seize the stub: the thread that kept it warm since the source froze holds it and runs the
     * restore's steps for it (the let-go, the seize and the wait for its stop took 1-59 ms of the
     * downtime at load 7-28). Its own agents, logging at debug level.
     */
    @Test
    void theRootsStubIsAdoptedWithNoInjectedCallAfterTheFreeze() throws Exception {
        TwoHosts hosts = verboseHosts();
        try (DetachedProcess p = hosts.dirtierOnA(tmp, 16, 10)) {
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy");
            String b = Files.readString(hosts.logB);
            assertEquals(0, m.code(), m + "\nagent b:\n" + b);
            Matcher adopt = Pattern.compile("pid " + p.pid() + ": adopt done in [^\n]*?(\\d+) ptrace round trips").matcher(b);
            assertTrue(adopt.find(), b);
            assertEquals(0, Integer.parseInt(adopt.group(1)), b);
            // nor any seize: the thread that kept the stub warm since the freeze holds it still, and runs the restore's steps
            assertTrue(b.contains("pid " + p.pid() + ": its stub taken as the thread that kept it warm holds it"), b);
            DetachedProcess moved = arrived(hosts, p);
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out + "\n" + m.out());
        }
    }

    /**
     * heapgrow.c (a program that re-exec'd itself without address randomization, growing its brk
     * heap) migrated with pre-copy: b's stub, made from the pre-copy's layout hint and exec'd with
     * randomization, came back with PF_RANDOMIZE set (stat flags 0x400000) where the task had none,
     * silently. Now such a root is restored from a stub exec'd under ADDR_NO_RANDOMIZE.
     */
    @Test
    void aProgramWithoutAddressRandomizationMovesWithoutIt() throws Exception {
        TwoHosts hosts = hosts();
        try (DetachedProcess p = hosts.startOnA(tmp.resolve("heapgrow.out"),
                TestPrograms.compile("/c/heapgrow.c").toString())) {
            assertEquals(0, ProcFs.stat(p.pid()).flags() & ProcStat.PF_RANDOMIZE, "no randomization on a");
            TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                    hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy");
            assertEquals(0, m.code(), m.toString());
            DetachedProcess moved = arrived(hosts, p);
            assertEquals(0, ProcFs.stat(moved.pid()).flags() & ProcStat.PF_RANDOMIZE,
                    "no randomization on b either: " + m.out());
            String out = Workloads.check(moved);
            assertTrue(out.contains("PASS"), out + "\n" + m.out());
        }
    }

    @Test
    @Order(Integer.MAX_VALUE - 1) // it kills b: a case after it waits for b to start again
    void whenTheDestinationAgentDiesMidTransferTheSourceRunsOnUntouched() throws Exception {
        TwoHosts hosts = hosts();
        try (DetachedProcess p = hosts.dirtierOnA(tmp, 256, 10)) {
            CompletableFuture<TwoHosts.CliRun> m = CompletableFuture.supplyAsync(() -> {
                try {
                    return hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                            hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString());
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            TwoHosts.awaitLog(hosts.logB, markB, "receiving into", Duration.ofSeconds(120));
            hosts.killB();
            TwoHosts.CliRun r = m.get();
            assertNotEquals(0, r.code(), r.toString());
            assertTrue(p.alive(), "the source is still there");
            Thread.sleep(300);
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * The destination's agent alone dies (its host goes on) after it prepared the root's stub for
     * the pre-copied pages: the source runs on, and nothing of the migration is left on b — the
     * stub dies with the agent (it was reparented to b's init and slept on forever before).
     */
    @Test
    @Order(Integer.MAX_VALUE) // it kills b's agent
    void whenTheDestinationAgentAloneDiesAfterPreparingTheStubNothingIsLeftThereAndTheSourceRunsOn() throws Exception {
        TwoHosts hosts = hosts(); // b's namespaces outlive its agent there
        try (DetachedProcess p = hosts.dirtierOnA(tmp, 256, 10)) {
            CompletableFuture<TwoHosts.CliRun> m = CompletableFuture.supplyAsync(() -> {
                try {
                    return hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                            hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            int ns = p.pid().value();
            // the stub holds the root's pid in b's pid namespace while the pre-copied pages arrive
            DetachedProcess.awaitCondition(() -> {
                try {
                    return hosts.hostPidInB(ns) > 0;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(120), "b to prepare the stub of pid " + ns);
            // past the first layout (the stub is traced for a moment then): pages are being placed in it
            DetachedProcess.awaitCondition(() -> {
                try {
                    return rssKiB(hosts.hostPidInB(ns)) > 16 * 1024;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(120), "b to place pages in the stub of pid " + ns);
            int agent = hosts.agentPidInB();
            assertTrue(agent > 0, "b's agent");
            TwoHosts.sh("kill -9 " + agent);
            // at once, while b's namespaces live on (their init outlives the agent by minutes)
            DetachedProcess.awaitCondition(() -> {
                try {
                    return hosts.hostPidInB(ns) < 0;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofSeconds(20), "the stub of pid " + ns + " on b to be gone with b's agent");
            TwoHosts.CliRun r = m.get();
            assertNotEquals(0, r.code(), r.toString());
            assertTrue(p.alive(), "the source is still there");
            Thread.sleep(300);
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out + "\n" + r);
        }
    }

    private static long rssKiB(int pid) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.substring(6).trim().split("\\s+")[0]);
            }
        }
        return 0;
    }

    /**
     * A container on host a (its own net namespace, 10.85.0.2 behind a veth to a, its default route
     * through it) with a TCP connection from a peer on a that reaches it by its address, from a's own
     * (a client streaming both ways, queues full). Without --tcp-established the migration is refused by
     * name and the container runs on. With it the container moves to b with its veth and connection: b
     * takes the connection's network lock over before the namespace is made, a lifts its own once the
     * tree runs on b and the old veth is gone; a's standing fallback route then sends the container's
     * network to b, which forwards. The stream goes on both ways, every byte checked, no reset, and
     * neither host keeps a lock.
     */
    @Test
    void aContainerMovesWithItsConnectionFromAPeerWhichGoesOnBothWays() throws Exception {
        Path script = Workloads.script(tmp, "sockets.py");
        Path serverLog = tmp.resolve("server.out"), clientLog = tmp.resolve("client.out");
        String container = Workloads.vethStreamServer(script, "cryo-mc", "10.85.0", true);
        int moved = -1;
        TwoHosts hosts = hosts();
        try (DetachedProcess c = DetachedProcess.start(serverLog, "sh", "-c", "exec nsenter --net=/run/netns/" + hosts.nsA
                     // no mount namespace of its own: b's agent sees another /sys (ip netns exec's), where a
                     // container's copy of a's mounts would not be found
                     + " unshare -n --pid --fork sh -c '" + container + "' 2>/dev/null")) {
            try {
                DetachedProcess.awaitCondition(() -> NetNamespaceTest.hasChild(c.pid().value()), Duration.ofSeconds(20),
                        "unshare's child");
                int init = NamespaceTest.initUnder(c.pid().value());
                TwoHosts.sh("ip -n " + hosts.nsA + " link add cryo-mh type veth peer name cryo-mc netns " + init
                        + " && ip -n " + hosts.nsA + " addr add 10.85.0.1/24 dev cryo-mh && ip -n " + hosts.nsA
                        + " link set cryo-mh up"
                        // once the container's veth is gone from a, its network is b's way; b forwards
                        + " && ip -n " + hosts.nsA + " route replace 10.85.0.0/24 via " + hosts.ipB + " metric 100"
                        + " && ip netns exec " + hosts.nsB + " sysctl -qw net.ipv4.ip_forward=1");
                try (DetachedProcess peer = DetachedProcess.start(clientLog, "nsenter", "--net=/run/netns/" + hosts.nsA,
                        "python3", script.toString(), "streamclient", "10.85.0.2", "8001", hosts.ipA)) {
                    NetNamespaceTest.awaitStreaming(serverLog, clientLog, 2, 2, "the first bytes both ways");
                    TwoHosts.CliRun plain = hosts.cliOnA("migrate", "-t", Integer.toString(init), "--to", "b", "--agent",
                            hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--no-pre-copy");
                    assertNotEquals(0, plain.code(), plain.toString());
                    assertTrue(plain.err().contains("10.85.0.2:8001 -> " + hosts.ipA + ":") && plain.err().contains(
                            "its peer is outside it (through its veth): carrying it needs --tcp-established"), plain.toString());
                    NetNamespaceTest.awaitStreaming(serverLog, clientLog, NetNamespaceTest.count(serverLog, "server got") + 2,
                            NetNamespaceTest.count(clientLog, "client got") + 2, "bytes both ways at a after the refusal");

                    TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", Integer.toString(init), "--to", "b", "--agent",
                            hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--no-pre-copy",
                            "--tcp-established");
                    assertEquals(0, m.code(), m + "\nagent a:\n" + logA() + "\nagent b:\n" + logB());
                    DetachedProcess.awaitCondition(() -> {
                        try {
                            return TwoHosts.containerInB(init) > 0;
                        } catch (Exception e) {
                            return false;
                        }
                    }, Duration.ofSeconds(30),
                            "the container's init to run in b's pid namespace");
                    moved = TwoHosts.containerInB(init);
                    assertFalse(Files.readString(Path.of("/proc/" + moved + "/status")).isEmpty());
                    NetNamespaceTest.awaitStreaming(serverLog, clientLog, NetNamespaceTest.count(serverLog, "server got") + 8,
                            NetNamespaceTest.count(clientLog, "client got") + 8, "bytes both ways with the container on b");
                    assertFalse(TwoHosts.nftTables(hosts.nsA).contains("cryo_"), TwoHosts.nftTables(hosts.nsA));
                    assertFalse(TwoHosts.nftTables(hosts.nsB).contains("cryo_"), TwoHosts.nftTables(hosts.nsB));
                    assertFalse(c.alive(), "the container is still on a");
                }
            } finally {
                if (moved > 0) {
                    TwoHosts.sh("kill -9 " + moved + " 2>/dev/null; true");
                }
            }
        }
    }

    /**
     * A killing `dump --tcp-established` on host a of a server there with a client on b leaves the
     * connection under a's network lock. A plain restore on b (another host: no such lock) is refused,
     * naming the lock and the way out, and leaves nothing there; the image then restores on a, where the
     * connection goes on both ways and the lock goes.
     */
    @Test
    void aRestoreOnAHostWithoutTheImagesNetworkLockIsRefusedByName() throws Exception {
        Path script = Workloads.script(tmp, "sockets.py");
        Path serverLog = tmp.resolve("server.out"), clientLog = tmp.resolve("client.out"), img = tmp.resolve("img");
        try (TwoHosts hosts = new TwoHosts(tmp);
             DetachedProcess server = DetachedProcess.start(serverLog, "nsenter", "--net=/run/netns/" + hosts.nsA,
                     "python3", script.toString(), "streamserver", hosts.ipA, "8001");
             DetachedProcess client = DetachedProcess.start(clientLog, "nsenter", "--net=/run/netns/" + hosts.nsB,
                     "python3", script.toString(), "streamclient", hosts.ipA, "8001")) {
            NetNamespaceTest.awaitStreaming(serverLog, clientLog, 2, 2, "the first bytes both ways");
            TwoHosts.CliRun dump = hosts.cliIn(hosts.nsA, "dump", "-t", server.pid().toString(), "-D", img.toString(),
                    "--tcp-established", "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            assertTrue(TwoHosts.nftTables(hosts.nsA).contains("cryo_" + server.pid() + "_"), TwoHosts.nftTables(hosts.nsA));

            TwoHosts.CliRun there = hosts.cliIn(hosts.nsB, "restore", "-D", img.toString(), "-d", "--no-progress");
            assertNotEquals(0, there.code(), there.toString());
            assertTrue(there.err().matches("(?s).*TCP connection " + Pattern.quote(hosts.ipA) + ":8001 -> "
                    + Pattern.quote(hosts.ipB) + ":\\d+ \\(pid " + server.pid() + " fd \\d+\\) was left held by network lock cryo_"
                    + server.pid() + "_\\w+ by the dump on host .*, and this host's network has no such lock.*"
                    + "--tcp-lock-elsewhere.*"), there.toString());
            assertFalse(there.err().contains("\tat "), "a stack trace:\n" + there);
            assertFalse(server.alive(), "the refused restore left pid " + server.pid());
            assertFalse(TwoHosts.nftTables(hosts.nsB).contains("cryo_"), TwoHosts.nftTables(hosts.nsB));

            TwoHosts.CliRun here = hosts.cliIn(hosts.nsA, "restore", "-D", img.toString(), "-d", "--no-progress");
            assertEquals(0, here.code(), here.toString());
            try (DetachedProcess restored = DetachedProcess.restored(server.pid(), serverLog)) {
                NetNamespaceTest.awaitStreaming(serverLog, clientLog, NetNamespaceTest.count(serverLog, "server got") + 8,
                        NetNamespaceTest.count(clientLog, "client got") + 8, "bytes both ways after the restore on a");
                assertFalse(TwoHosts.nftTables(hosts.nsA).contains("cryo_"), TwoHosts.nftTables(hosts.nsA));
                assertTrue(restored.alive());
            }
        }
    }

    /**
     * `restore --tcp-lock-elsewhere`'s way (net14 tested only its refusal): a server on a with a client on b,
     * dumped on a by a killing `dump --tcp-established`; the operator moves the server's address to b (off
     * a's veth, onto b's lo, behind a hold of their own that drops the client's packets to it until the
     * restore is done, as an address takeover would), lifts a's lock, and restores on b with the flag: the
     * restore installs the image's lock there before it makes anything and lifts it once the connection is
     * back, and the connection goes on both ways between the two ends, now both on b.
     */
    @Test
    void aRestoreWithTcpLockElsewhereTakesTheConnectionOverWhereItsAddressMoved() throws Exception {
        Path script = Workloads.script(tmp, "sockets.py");
        Path serverLog = tmp.resolve("server.out"), clientLog = tmp.resolve("client.out"), img = tmp.resolve("img");
        try (TwoHosts hosts = new TwoHosts(tmp);
             DetachedProcess server = DetachedProcess.start(serverLog, "nsenter", "--net=/run/netns/" + hosts.nsA,
                     "python3", script.toString(), "streamserver", hosts.ipA, "8001");
             DetachedProcess client = DetachedProcess.start(clientLog, "nsenter", "--net=/run/netns/" + hosts.nsB,
                     "python3", script.toString(), "streamclient", hosts.ipA, "8001")) {
            NetNamespaceTest.awaitStreaming(serverLog, clientLog, 2, 2, "the first bytes both ways");
            TwoHosts.CliRun dump = hosts.cliIn(hosts.nsA, "dump", "-t", server.pid().toString(), "-D", img.toString(),
                    "--tcp-established", "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            Matcher lock = Pattern.compile("cryo_" + server.pid() + "_\\w+").matcher(TwoHosts.nftTables(hosts.nsA));
            assertTrue(lock.find(), TwoHosts.nftTables(hosts.nsA));
            TwoHosts.sh("ip netns exec " + hosts.nsB + " nft -f - <<'EOF'\ntable inet movehold {\n"
                    + "  chain in { type filter hook input priority -200; policy accept; ip daddr " + hosts.ipA
                    + " tcp dport 8001 drop; }\n}\nEOF");
            TwoHosts.sh("ip -n " + hosts.nsA + " addr del " + hosts.ipA + "/24 dev " + hosts.linkA()
                    + " && ip netns exec " + hosts.nsA + " nft delete table inet " + lock.group()
                    + " && ip -n " + hosts.nsB + " addr add " + hosts.ipA + "/32 dev lo");

            TwoHosts.CliRun there = hosts.cliIn(hosts.nsB, "restore", "-D", img.toString(), "-d", "--no-progress",
                    "--tcp-lock-elsewhere");
            assertEquals(0, there.code(), there.toString());
            try (DetachedProcess restored = DetachedProcess.restored(server.pid(), serverLog)) {
                assertFalse(TwoHosts.nftTables(hosts.nsB).contains("cryo_"), TwoHosts.nftTables(hosts.nsB));
                TwoHosts.sh("ip netns exec " + hosts.nsB + " nft delete table inet movehold");
                NetNamespaceTest.awaitStreaming(serverLog, clientLog, NetNamespaceTest.count(serverLog, "server got") + 8,
                        NetNamespaceTest.count(clientLog, "client got") + 8, "bytes both ways after the restore on b");
                assertTrue(restored.alive());
                assertFalse(TwoHosts.nftTables(hosts.nsA).contains("cryo_"), TwoHosts.nftTables(hosts.nsA));
            }
        }
    }

    @Test
    void whenTheLinkIsCutTheSourceRunsOnUntouched() throws Exception {
        try (TwoHosts hosts = new TwoHosts(tmp).start("-Dcryo.cluster.io-timeout=5s");
             DetachedProcess p = hosts.dirtierOnA(tmp, 256, 10)) {
            CompletableFuture<TwoHosts.CliRun> m = CompletableFuture.supplyAsync(() -> {
                try {
                    return hosts.cliOnA("-Dcryo.cluster.migrate-timeout=60s", "migrate", "-t", p.pid().toString(),
                            "--to", "b", "--agent", hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString());
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            // the migration may end first (its CLI dead at its start, at load 40 once): then its word says why
            DetachedProcess.awaitProbe(() -> m.isDone() || TwoHosts.count(hosts.logB, "receiving into") > 0,
                    Duration.ofSeconds(120), "b to receive the image, or the migration to end");
            assertTrue(TwoHosts.count(hosts.logB, "receiving into") > 0,
                    () -> "the migration ended before b received anything:\n" + m.join());
            TwoHosts.sh("ip -n " + hosts.nsA + " link set " + hosts.linkA() + " down");
            TwoHosts.CliRun r = m.get();
            assertNotEquals(0, r.code(), r.toString());
            assertTrue(p.alive(), "the source is still there");
            Thread.sleep(300);
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out + "\n" + r);
        }
    }

    @Test
    void aNodeWithOtherKeysCannotJoinNorBeMigratedTo() throws Exception {
        TwoHosts hosts = hosts();
        try (
             DetachedProcess p = hosts.counterOnA(tmp)) {
            Path otherKeys = tmp.resolve("other-keys");
            assertEquals(0, Cli.run("keys", "init", otherKeys.toString()).code());
            Path log = tmp.resolve("agent-x.log");
            Process x = new ProcessBuilder("/bin/bash", "-c", "exec ip netns exec " + hosts.nsA + " java " + TwoHosts.LAUNCHER_AGENT_JVM + " -jar " + TwoHosts.JAR
                    + " -Dcryo.cluster.local-socket=" + tmp.resolve("sock-x/agent.sock") + " agent --name x --bind " + hosts.ipA + ":25521 --data-port 25531 --seed " + hosts.ipA + ":"
                    + TwoHosts.PORT + " --keys " + otherKeys).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                TwoHosts.awaitLog(log, "agent x running", Duration.ofSeconds(120));
                // x has tried its seed and been refused (TLS): were joining allowed, it would have joined by then
                TwoHosts.awaitLog(log, "Couldn't join seed nodes", Duration.ofSeconds(120));
                assertFalse(logA().contains(":25521 join"), logA());
                TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "x", "--agent",
                        hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--no-pre-copy");
                assertNotEquals(0, m.code(), m.toString());
                assertTrue(m.err().contains("no agent named x"), m.toString());
                TwoHosts.CliRun a = hosts.cliOnA("agents", "--agent", hosts.ipA + ":" + TwoHosts.PORT, "--keys",
                        otherKeys.toString());
                assertNotEquals(0, a.code(), "a client with other keys gets no answer: " + a);
                assertTrue(a.err().contains("refused TLS with these keys"), "refused at the handshake, not timed out: " + a);
                assertTrue(p.alive());
            } finally {
                x.descendants().forEach(ProcessHandle::destroyForcibly);
                x.destroyForcibly();
            }
        }
    }
}
