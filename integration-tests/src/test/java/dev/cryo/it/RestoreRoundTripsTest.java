package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ptrace round trips of a restore's steps, and of a dump's frozen window, from their debug logs
 * (counts, so they hold at any load: in a migration's downtime each one waits for a CPU on a busy
 * host). A class of its own: the in-process CLI's debug logging stays in this JVM.
 */
class RestoreRoundTripsTest {
    @TempDir
    Path tmp;

    /**
     * A one-thread task (the counter, its stderr its stdout's open file, as 2>&1 makes it): its cwd and
     * umask in the batch of its signal handlers and rlimits, its stderr one dup3 of its stdout. They took
     * 11 and 10 round trips. The memory's mapping (the vDSO block's six moves with the rest) and its thread's own calls (rseq, robust
     * list, clear-child-tid, name) in a batch each: they took 14 and 8. The exe's open, PR_SET_MM_MAP and
     * close queued in one batch (7 round trips before, the signal handlers' batch included, now 2); the
     * dump's brk a batch of one (the frozen window's collect made 6 round trips, then 5), and the main
     * thread's reads in its own thread's batch (4). Its files' two passes share one batch (mig42).
     */
    @Test
    void aOneThreadTasksStateAndSharedStderrTakeFewRoundTrips() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Path log = tmp.resolve("restore.log");
            Path dumpLog = tmp.resolve("dump.log");
            DumpRestore d = DumpRestore.dump(List.of("-vv", "--log-file", dumpLog.toString()), p.pid().value(),
                    tmp.resolve("img"));
            String dumped = Files.readString(dumpLog);
            // the scratch area goes with the killed task: nothing injected after the state was read
            assertEquals(tripsAt(dumped, "state collected in"), tripsAt(dumped, "killed after"), dumped);
            // the scratch area's mmap (2), brk (a batch of one), the thread's batch with the main thread's reads in it
            assertEquals(4, tripsAt(dumped, "state collected in"), dumped);
            DetachedProcess r = d.restoreDetached(List.of("-vv", "--log-file", log.toString()), p.output());
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            String debug = Files.readString(log);
            // from its files to its registers: its files' batch, its stderr's dup3 queued to the end of its
            // pass, its process's state (cwd, umask, signal handlers, rlimits, the exe and PR_SET_MM_MAP), its
            // thread's and its credentials in the batch of the flags a credential change resets, and the
            // bootstrap's munmap (2): 4 round trips; they were 10 (files SHARED 2, ProcessState 2, ThreadState
            // 1, Credentials 1, CredentialResetFlags 1: the queue ran at every step, for its debug line), then 5
            // (the files' passes a batch each). Not counted: the re-armed sleep's call (TimerArming, 2) when the
            // counter was dumped in its nanosleep
            assertEquals(4, tripsAt(debug, "files to state done in") - tripsAt(debug, "memory done in")
                    - tripsIfAny(debug, "TimerArming"), debug);
            assertTrue(!debug.contains(": ProcessState: ") && !debug.contains(": ThreadState: ")
                    && !debug.contains(": Credentials: "), debug);
            assertEquals(1, trips(debug, "CredentialResetFlags"), debug);
            // its files opened by path (stdin /dev/null, stdout and counter.txt) with their close_range, positions
            // and fd flags, and its stderr's dup3, in one syscall batch: 20 round trips before, two per call, then
            // one per pass (OWN, SHARED); a lone task's first pass leaves its calls to the second's batch
            assertEquals(1, trips(debug, "files SHARED"), debug);
            assertTrue(!debug.contains(": files OWN: "), debug);
            // the memory's calls in one batch: the stub's unmaps, the vDSO block's moves and the areas' mmaps, queued
            // before a file mapping's open, no longer run first to learn its fd (they open and close none): 2 before
            assertEquals(1, trips(debug, "MemoryMapping"), debug);
            // no zombie child, no SIGCHLD of one to take back: seen by a peek, not a call (2 round trips before)
            assertTrue(!debug.contains(": ZombieNotices: "), debug);
            // a lone task forks nothing: no fork stage, no message to its thread and back for it; and its
            // memory, files to state and resume follow its adoption without a message from the supervisor in between
            assertTrue(debug.contains("adopt done") && !debug.contains("fork done"), debug);
            assertTrue(debug.contains("adopt to resume in one message"), debug);
        }
    }

    /**
     * cryo's scratch area stays mapped in a task the dump kills (a migration's source, once the tree
     * runs elsewhere; checked above): unmapping it took two round trips, and in a migration 1-20 ms
     * of the frozen window. A task left running loses it at the end of its state read, beside the
     * final pre-copy scan (its munmap waits for that walk anyway), not at its release after the
     * supervisor's round trip (2-16 ms of a --pre-copy -R freeze of 1 GiB at load 14-18): no round trip
     * after the state line, plain or pre-copy, and it runs on without the area. Unless a frozen smaps walk
     * confirms its VmFlags: the area is unmapped once that walk is over, at the release.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aTaskLeftRunningLosesTheScratchAreaWithItsStateRead(boolean preCopy) throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            int pid = p.pid().value();
            String debug = preCopy ? dumpLeftRunning(pid, "--pre-copy") : dumpLeftRunning(pid);
            // a pre-copied task that made a call which may change VmFlags after the smaps read before the
            // freeze (the counter's 200 KiB chunks are mmapped and unmapped every 160 ms) has them confirmed
            // by a smaps walk while frozen: the area stays mapped through that walk and goes at the release,
            // its munmap's two round trips after the state line (CI once: 17 at the state line, 19 let go)
            int atRelease = preCopy && debug.contains("VmFlags confirmed by a frozen smaps read") ? 2 : 0;
            assertEquals(tripsAt(debug, "state collected in") + atRelease, tripsAt(debug, "let go after"), debug);
            assertScratchAreaGone(pid);
            Path counted = tmp.resolve("counter.txt");
            long size = Files.size(counted);
            DetachedProcess.awaitCondition(() -> {
                try {
                    return Files.size(counted) > size;
                } catch (java.io.IOException e) {
                    return false;
                }
            }, java.time.Duration.ofSeconds(10), "the counter to go on");
        }
    }

    /**
     * The other way a pre-copied task left running loses the scratch area: its VmFlags are confirmed by a
     * smaps walk while frozen (it called mprotect after the smaps read before the freeze), the
     * area stays mapped through that walk and is unmapped at its release, two round trips after the state
     * line; it runs on without the area.
     */
    @Test
    void aTaskLeftRunningWhoseVmFlagsAreReadFrozenLosesTheScratchAreaAtItsRelease() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("reprotect.out"), "reprotect")) {
            int pid = p.pid().value();
            String debug = dumpLeftRunning(pid, "--pre-copy");
            assertTrue(debug.contains("VmFlags confirmed by a frozen smaps read"), debug);
            assertEquals(tripsAt(debug, "state collected in") + 2, tripsAt(debug, "let go after"), debug);
            assertRunsOnWithoutTheScratchArea(p);
        }
    }

    /**
     * Go's runtime catches every signal, so no thread of a Go program could end a syscall batch with a
     * signal it ignores: each of its reads was a round trip of its own, some 40 per thread (280 for a
     * 7-thread caddy). Go takes a spurious SIGURG as a preemption request with nothing to do, so the
     * batch ends with SIGURG there: a thread's reads are one round trip again. The exporter, left
     * running, serves on.
     */
    @Test
    void aGoProgramsThreadsAreReadInABatchEach() throws Exception {
        Path exporter = Path.of("/usr/bin/prometheus-node-exporter");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(exporter), "Debian package prometheus-node-exporter");
        int port = RealServersTest.freePort();
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("exporter.out"), exporter.toString(),
                "--web.listen-address=127.0.0.1:" + port, "--collector.disable-defaults", "--collector.cpu")) {
            RealServersTest.connect(port).close(); // it listens: its runtime has started its threads
            Path log = tmp.resolve("dump.log");
            Cli run = Cli.run("-vv", "--log-file", log.toString(), "dump", "-t", Integer.toString(p.pid().value()), "-D",
                    tmp.resolve("img").toString(), "--no-progress", "--leave-running");
            assertEquals(0, run.code(), run.toString());
            Matcher threads = Pattern.compile("\\((\\d+) threads\\)").matcher(run.out());
            assertTrue(threads.find(), run.out());
            int n = Integer.parseInt(threads.group(1));
            assertTrue(n >= 2, run.out());
            String debug = Files.readString(log);
            // the scratch area's mmap (2), the brk (1), a batch per thread: a few more at most, not 40 a thread
            int trips = tripsAt(debug, "state collected in");
            assertTrue(trips <= 4 + 2 * n, trips + " round trips for " + n + " threads:\n" + debug);
            try (java.net.Socket s = RealServersTest.connect(port)) {
                s.getOutputStream().write("GET /metrics HTTP/1.0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                String answer = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(answer.startsWith("HTTP/1.0 200") && answer.contains("node_cpu_seconds_total"),
                        answer.substring(0, Math.min(200, answer.length())));
            }
        }
    }

    /**
     * A thread under a seccomp filter read each of its calls in a round trip of its own (some 40 a thread):
     * a filter could refuse the batch's final tgkill and the thread would run on. The filters are now run
     * on the batch's ending calls first (SeccompVerdict): where they allow them, a batch per thread
     * ("allow"); where one refuses tgkill, the calls one by one as before, and the dump still ends
     * ("notgkill"). Either way the program, left running, finds its filter as it was.
     */
    @ParameterizedTest
    @ValueSource(strings = {"allow", "notgkill"})
    void aFilteredThreadIsReadInABatchWhereItsFilterLetsTheBatchEnd(String mode) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("seccompbatch.out"), "seccompbatch", mode)) {
            Path log = tmp.resolve("dump.log");
            Cli run = Cli.run("-vv", "--log-file", log.toString(), "dump", "-t", Integer.toString(p.pid().value()), "-D",
                    tmp.resolve("img").toString(), "--no-progress", "--leave-running");
            assertEquals(0, run.code(), run.toString());
            String debug = Files.readString(log);
            int trips = tripsAt(debug, "state collected in");
            if (mode.equals("allow")) { // 3 threads: the area (2), the brk (1), a batch each (3)
                assertTrue(trips <= 10, trips + " round trips:\n" + debug);
            } else {
                assertTrue(trips > 30, trips + " round trips, yet no batch can end:\n" + debug);
            }
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }

    /**
     * A pre-copied task gets cryo's scratch area while it still runs, right before the freeze (the
     * task stopped for it as for a round's new mappings): its mmap, two round trips that take the mm's
     * lock for writing (1-77 ms of a migration's frozen window under load), is no longer frozen, nor
     * is its brk read (the VmFlags watch would have seen a brk call since). The frozen collect makes
     * 3 round trips where it made 6 (the mmap 2, the brk's batch 1). Left running, the task loses the
     * area with its state read.
     */
    @Test
    void aPreCopiedTaskIsFrozenWithItsScratchAreaMappedAlready() throws Exception {
        try (DetachedProcess p = Workloads.bigmem(tmp, 16)) {
            int pid = p.pid().value();
            String debug = dumpLeftRunning(pid, "--pre-copy");
            assertTrue(debug.contains("scratch area mapped before the freeze in"), debug);
            Matcher seized = Pattern.compile(" threads seized in [^\n]*?(\\d+) ptrace round trips").matcher(debug);
            assertTrue(seized.find(), debug);
            assertEquals(3, tripsAt(debug, "state collected in") - Integer.parseInt(seized.group(1)), debug);
            assertEquals(tripsAt(debug, "state collected in"), tripsAt(debug, "let go after"), debug);
            assertRunsOnWithoutTheScratchArea(p);
        }
    }

    /**
     * A task takes its unix sockets or pipe ends up to 253 at a time, in one message and one injected recvmsg,
     * and its files in its batches: 1000 of each (manyfds.c: every third close-on-exec, every fourth
     * non-blocking, every seventh moved up above the others, each checked by the program), or a pipe and 38
     * files, or 1000 unix sockets that an epoll watches (its watches' epoll_ctl queued, their event structs
     * beside the queue: each was a round trip). The files' passes of 1000 sockets or pipe ends took 1010 and
     * 1006 round trips when each came alone (fds43; 3022 and 3016 before that): now the moves to their
     * numbers and the flags that differ ride batches of 128 calls. The unix pairs made in the task for their peer credentials are made
     * ahead, 1, 2, 4... up to 64 in one message to the task's thread and one round trip (a pair took a
     * message and four round trips). The files' opens stay queued after a pipe, whose ends the fd table's
     * model follows.
     */
    @ParameterizedTest
    @ValueSource(strings = {"unix", "pipe", "mixed", "epoll"})
    void aTaskTakesItsSocketsOrPipeEndsManyAtATimeAndItsFilesInItsBatches(String kind) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("files"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("manyfds.out"), "manyfds", kind,
                kind.equals("mixed") ? "40" : "1000", dir.toString())) {
            Path log = tmp.resolve("restore.log");
            DetachedProcess r = DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                    .restoreDetached(List.of("-vv", "--log-file", log.toString()), p.output());
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            String debug = Files.readString(log);
            int files = tripsIfAny(debug, "files OWN") + trips(debug, "files SHARED");
            int expected = switch (kind) {
                case "unix" -> FDS_UNIX;
                case "pipe" -> FDS_PIPE;
                case "epoll" -> FDS_EPOLL;
                default -> FDS_MIXED;
            };
            assertEquals(expected, files, debug);
            if (kind.equals("unix")) { // its 500 pairs made in it before its memory, 1, 2, 4... 64 at a time, and the memory's own
                assertEquals(FDS_PAIRS, tripsAt(debug, "memory done in") - tripsAt(debug, "adopt done in"), debug);
            }
        }
    }

    private static final int FDS_UNIX = 14, FDS_PIPE = 14, FDS_MIXED = 5, FDS_PAIRS = 16, FDS_EPOLL = 23;

    /**
     * 1000 loopback TCP connections (manyfds.c "tcp": 500 connected and accepted, a byte queued each way,
     * the accepted ends with TCP_NODELAY and SO_KEEPALIVE as redis sets them, live again after: a byte
     * more each way) are rebuilt by cryo with only the calls that change something, counted as its debug
     * lines give them. Each connection: repair mode on, both queues' sequence numbers (4), the segment
     * size around the connect (2), the negotiated options, the timestamp, the window, IP_OPTIONS (IPv4
     * sizes its segments again) and its window clamp, 12, and the accepted ends' own two options: 13000
     * setsockopt, none read back. They were 17000 setsockopt and 5000 getsockopt: SO_REUSEADDR read
     * twice, the buffer locks, the send buffer and the family read each time, the queue selection set
     * again around the fills and at the end. Resumed: one setsockopt each (repair mode off), and the
     * network lock's few. The task takes them in its batches
     * (the files' passes' round trips).
     */
    @Test
    void aThousandTcpConnectionsAreRebuiltWithOnlyTheCallsThatChangeSomething() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("files"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("manyfds.out"), "manyfds", "tcp", "1000", dir.toString())) {
            Path log = tmp.resolve("restore.log");
            Path dumpLog = tmp.resolve("dump.log");
            DetachedProcess r = DumpRestore.dump(List.of("-vv", "--log-file", dumpLog.toString()), p.pid().value(),
                            tmp.resolve("img"), "--tcp-established")
                    .restoreDetached(List.of("-vv", "--log-file", log.toString()), p.output());
            String out = RestoreTest.checkAndReap(r);
            assertTrue(out.contains("PASS"), out);
            String dumped = Files.readString(dumpLog);
            // the dump reads each socket's SOL_SOCKET options in one io_uring_enter where io_uring serves: 59
            // getsockopt a socket are left (its other options, its kind, its repair state), where it made 95
            // (a fresh socket's options, read once a kind in this JVM, add a few: per thousand). Session 56 added 4:
            // TCP_RTO_MAX_MS, TCP_RTO_MIN_US and TCP_DELACK_MAX_US (carried since), and SO_TIMESTAMPING read
            // again by SocketProbe for OPT_ID (io_uring reads SOL_SOCKET options only: the TCP ones cannot go there).
            // Session 57 took 1 off: the socket's filter (SO_GET_FILTER), read by the probe, was read again with
            // the options. And one copy of the socket (pidfd_getfd) serves its probe and its signal owner (2 before)
            if (dev.cryo.kernel.net.SocketOptionReads.available()) {
                assertEquals(58, calls(dumped, "fds read", "getsockopt") / 1000, dumped);
                assertEquals(1, calls(dumped, "fds read", "io_uring_enter") / 1000, dumped);
            } else {
                assertEquals(94, calls(dumped, "fds read", "getsockopt") / 1000, dumped);
            }
            assertEquals(1000, calls(dumped, "fds read", "pidfd_getfd"), dumped);
            String debug = Files.readString(log);
            assertEquals(13000, calls(debug, "sockets rebuilt", "setsockopt"), debug);
            assertEquals(0, calls(debug, "sockets rebuilt", "getsockopt"), debug);
            assertEquals(1000, calls(debug, "sockets rebuilt", "socket"), debug);
            long resumed = calls(debug, "connections resumed", "setsockopt");
            assertTrue(resumed >= 1000 && resumed < 1010, resumed + " setsockopt to resume 1000 connections\n" + debug);
            assertEquals(0, calls(debug, "connections resumed", "getsockopt"), debug);
            assertEquals(FDS_TCP, tripsIfAny(debug, "files OWN") + trips(debug, "files SHARED"), debug);
        }
    }

    private static final int FDS_TCP = 18;

    /**
     * A dump of 200 loopback UDP sockets (manyfds.c "udp": 100 pairs connected to each other, a datagram queued
     * each way) left running reads each socket's protocol name once (the socket handlers' {@code handles} read
     * it each, a UDP socket's 5 times) and the multicast groups of its net namespace once (each socket's options
     * read them on a thread of their own that joined the socket's namespace: a setns a socket; 2,000 sockets were
     * frozen 3.3 s, then 1.0 s); and it takes one copy of each socket (pidfd_getfd), which serves its signal owner
     * too (2 before). The tree runs on with its datagrams.
     */
    @Test
    void manyUdpSocketsAreReadWithTheirNamespacesGroupsAndProtocolNamesOnce() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("files"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("manyfds.out"), "manyfds", "udp", "200", dir.toString())) {
            String dumped = dumpLeftRunning(p.pid().value());
            assertEquals(200, calls(dumped, "fds read", "getxattr"), dumped);
            assertTrue(calls(dumped, "fds read", "setns") <= 1, dumped); // the host's groups, read once
            assertEquals(200, calls(dumped, "fds read", "pidfd_getfd"), dumped); // the probe's copy, its signal owner's too
            assertTrue(Workloads.check(p).contains("PASS"), p.outputText());
        }
    }

    /** How many calls of {@code syscall} cryo made, as the debug line of {@code what} counts them (0: none). */
    private static long calls(String log, String what, String syscall) {
        Matcher line = Pattern.compile(": " + Pattern.quote(what) + ": [^\n]*").matcher(log);
        assertTrue(line.find(), "no '" + what + "' line in the debug log");
        Matcher m = Pattern.compile("[:,] (\\d+) " + Pattern.quote(syscall) + "(,|$)").matcher(line.group());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** {@code dump --leave-running} of {@code pid} with {@code extra} options: its debug log. */
    private String dumpLeftRunning(int pid, String... extra) throws Exception {
        Path log = tmp.resolve("left.log");
        List<String> args = new java.util.ArrayList<>(List.of("-vv", "--log-file", log.toString(), "dump", "-t",
                Integer.toString(pid), "-D", tmp.resolve("left").toString(), "--no-progress", "--leave-running"));
        args.addAll(List.of(extra));
        Cli run = Cli.run(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.toString());
        return Files.readString(log);
    }

    private static void assertScratchAreaGone(int pid) throws Exception {
        String maps = Files.readString(Path.of("/proc/" + pid + "/maps"));
        assertTrue(maps.lines().noneMatch(l -> l.contains(" rwxp 00000000 00:00 0")),
                "cryo's area (rwx, anonymous) is gone:\n" + maps);
    }

    /** cryo's area is gone from a task left running, and the task's own check passes. */
    private static void assertRunsOnWithoutTheScratchArea(DetachedProcess p) throws Exception {
        assertScratchAreaGone(p.pid().value());
        String out = Workloads.check(p);
        assertTrue(out.contains("PASS"), out);
    }

    /** The round trips the task's tracer had made when the line of {@code what} was logged. */
    private static int tripsAt(String log, String what) {
        Matcher m = Pattern.compile(": " + Pattern.quote(what) + "[^\n]*?(\\d+) ptrace round trips").matcher(log);
        assertTrue(m.find(), "no '" + what + "' line in the debug log");
        return Integer.parseInt(m.group(1));
    }

    private static int tripsIfAny(String log, String step) {
        return log.contains(": " + step + ": ") ? trips(log, step) : 0;
    }

    private static int trips(String log, String step) {
        Matcher m = Pattern.compile(": " + step + ": (\\d+) ptrace round trips").matcher(log);
        assertTrue(m.find(), "no '" + step + "' step in the debug log");
        return Integer.parseInt(m.group(1));
    }
}
