package dev.cryo.it;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.NetworkLock;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Sockets through dump → restore with real programs (sockets.py, Python's http.server): unix
 * pairs and servers, a datagram socket to an outside path, UDP, established TCP (repair and the
 * network lock) with the peer outside the tree or inside it; and what is refused.
 */
@org.junit.jupiter.api.extension.ExtendWith(NetworkLocksLeft.class)
class SocketRestoreTest {
    @TempDir
    Path tmp;

    private static void assertPass(String out) {
        assertTrue(out.contains("PASS"), out);
        assertFalse(out.contains("FAIL"), out);
        assertEquals(1, out.split("ready", -1).length - 1, "the restored process did not start over:\n" + out);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void aUnixSocketpairBetweenParentAndChildKeepsUnreadBytesAndDatagramsBothWays() throws Exception {
        try (DetachedProcess p = Workloads.sockets(tmp, "pair")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            String show = Cli.run("show", img.toString()).out();
            assertTrue(show.contains("\"unix socket\"") && show.contains("\"queuedBytes\" : 10254"), show);
            String out = RestoreTest.checkAndReap(r);
            assertPass(out);
        }
    }

    /**
     * A task whose state takes more than one chunk of the image (1500 socket pairs with 50 kB queued in each: 75 MB of
     * queues in its fds' records; stress-ng's sockpair stressor holds ~20,000) was refused ("its state is too large
     * for one record of the image"): its record is now written in parts and read whole, and every queue comes back.
     */
    @Test
    void aTaskWhoseStateTakesSeveralChunksOfTheImageComesBack() throws Exception {
        String script = String.join("\n",
                "import hashlib, os, signal, socket",
                "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])",
                "pairs = [socket.socketpair() for i in range(1500)]",
                "sent = []",
                "for a, b in pairs:",
                "    data = os.urandom(50000)",
                "    a.sendall(data)",
                "    sent.append(hashlib.sha256(data).digest())",
                "print('ready', flush=True)",
                "signal.sigwait([signal.SIGUSR2])",
                "for (a, b), digest in zip(pairs, sent):",
                "    got = b''",
                "    while len(got) < 50000:",
                "        got += b.recv(65536)",
                "    assert hashlib.sha256(got).digest() == digest",
                "print('PASS', flush=True)", "");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("pairs.out"), "/usr/bin/python3", "-c",
                script))) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img);
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    @Test
    void aUnixStreamServerOnAPathKeepsItsTwoClientsAndAConnectionWaitingToBeAccepted() throws Exception {
        Path sock = tmp.resolve("server.sock");
        try (DetachedProcess p = Workloads.sockets(tmp, "unixserver", sock.toString())) {
            Thread.sleep(200);
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            Thread.sleep(300);
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    @Test
    void aDatagramSocketToADevLogLikePathReconnectsWithExtUnixSk() throws Exception {
        Path log = tmp.resolve("log.sock");
        AtomicLong last = new AtomicLong(-1);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        try (Fd receiver = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0)) {
            Sockets.bind(receiver, SockAddr.unixPath(log.toString()));
            Thread reader = new Thread(() -> { // the outside receiver, like syslog on /dev/log
                while (!stop.get()) {
                    byte[] m = Sockets.recv(receiver, 256, Sockets.MSG_DONTWAIT);
                    if (m == null) {
                        try {
                            Thread.sleep(5);
                        } catch (InterruptedException e) {
                            return;
                        }
                    } else {
                        last.set(Long.parseLong(new String(m, StandardCharsets.UTF_8).substring(4)));
                    }
                }
            }, "log-receiver");
            reader.start();
            try (DetachedProcess p = Workloads.sockets(tmp, "dgramlog", log.toString())) {
                Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("no").toString(), "--no-progress");
                assertEquals(1, refused.code(), refused.toString());
                assertTrue(refused.err().contains("connected to " + log) && refused.err().contains("--ext-unix-sk"),
                        refused.err());
                assertFalse(Files.exists(tmp.resolve("no").resolve("image.cryo")));
                DetachedProcess.awaitCondition(() -> last.get() >= 0, Duration.ofSeconds(30), "log lines");
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--ext-unix-sk");
                long atRestore = last.get();
                DetachedProcess.awaitCondition(() -> last.get() > atRestore, Duration.ofSeconds(30),
                        "log lines after the restore (last before: " + atRestore + ")");
                assertPass(RestoreTest.checkAndReap(r));
            } finally {
                stop.set(true);
                reader.join(10_000);
            }
        }
    }

    /**
     * zdtm's sockets_dgram found it: the kernel marks a datagram socket established when another one
     * connects to it, and the restore took that server for a pair whose peer had gone (never bound
     * again), so its clients' connect got ECONNREFUSED after the dump had killed the tree.
     */
    @Test
    void datagramSocketsConnectedToAPathBoundOneOfTheTreeStillReachItAndAreAnswered() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("dg"));
        try (DetachedProcess p = Workloads.sockets(tmp, "dgrampath", dir.toString())) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    @Test
    void aUdpServerStillAnswers() throws Exception {
        int port = freePort();
        try (DetachedProcess p = Workloads.sockets(tmp, "udp", Integer.toString(port));
             DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            client.setSoTimeout(10_000);
            assertEquals("echo:before", udpAsk(client, port, "before"));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            assertEquals("echo:after", udpAsk(client, port, "after"));
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    private static String udpAsk(DatagramSocket s, int port, String what) throws IOException {
        byte[] b = what.getBytes(StandardCharsets.UTF_8);
        s.send(new DatagramPacket(b, b.length, InetAddress.getLoopbackAddress(), port));
        DatagramPacket in = new DatagramPacket(new byte[256], 256);
        s.receive(in);
        return new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
    }

    @Test
    void pythonsHttpServerAnswersBeforeTheDumpAndAfterTheRestore() throws Exception {
        Path www = Files.createDirectories(tmp.resolve("www"));
        Files.writeString(www.resolve("hello.txt"), "hello from the tree\n");
        int port = freePort();
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("http.out"), "/usr/bin/python3", "-u", "-m",
                "http.server", Integer.toString(port), "--bind", "127.0.0.1", "--directory", www.toString())) {
            p.awaitOutput("Serving HTTP", Duration.ofSeconds(60));
            assertEquals("hello from the tree\n", get(port));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertEquals("hello from the tree\n", get(port));
                assertEquals("hello from the tree\n", get(port));
                assertEquals(3, r.outputText().split("GET /hello.txt", -1).length - 1, r.outputText());
            } finally {
                Sys.kill(r.pid(), Signals.SIGKILL);
                Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    private static String get(int port) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + port + "/hello.txt").toURL()
                .openConnection();
        c.setConnectTimeout(10_000);
        c.setReadTimeout(10_000);
        try (InputStream in = c.getInputStream()) {
            assertEquals(200, c.getResponseCode());
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            c.disconnect();
        }
    }

    /** An echo server outside the tree that remembers how each connection ended. */
    static final class EchoServer implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        final AtomicLong echoed = new AtomicLong();
        final AtomicReference<String> ended = new AtomicReference<>();
        private final List<Thread> threads = new ArrayList<>();

        EchoServer() throws IOException {
            Thread t = new Thread(() -> {
                try {
                    while (true) {
                        Socket c = server.accept();
                        Thread h = new Thread(() -> serve(c), "echo-conn");
                        h.setDaemon(true);
                        h.start();
                    }
                } catch (IOException e) {
                    // closed
                }
            }, "echo-accept");
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }

        private void serve(Socket c) {
            try (c; InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
                byte[] b = new byte[4096];
                int n;
                while ((n = in.read(b)) > 0) {
                    out.write(b, 0, n);
                    echoed.addAndGet(n);
                }
                ended.compareAndSet(null, "closed by the peer (EOF)");
            } catch (IOException e) {
                ended.compareAndSet(null, "failed: " + e);
            }
        }

        int port() {
            return server.getLocalPort();
        }

        /** Waits until more than {@code than} bytes were echoed (bounded). */
        void awaitEchoedMore(long than) throws InterruptedException {
            DetachedProcess.awaitCondition(() -> echoed.get() > than, Duration.ofSeconds(30),
                    "the echo server to see more than " + than + " bytes");
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    private static List<String> cryoTables() throws Exception {
        Process p = new ProcessBuilder(NetworkLock.nft(), "list", "tables").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out.lines().filter(l -> l.contains("cryo_")).toList();
    }

    @Test
    void anEstablishedConnectionToAServerOutsideTheTreeGoesOnAndThePeerSeesNoResetNorClose() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        try (EchoServer echo = new EchoServer();
             DetachedProcess p = Workloads.sockets(tmp, "tcpclient", Integer.toString(echo.port()))) {
            Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("no").toString(), "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("established TCP") && refused.err().contains("--tcp-established"),
                    refused.err());
            assertFalse(Files.exists(tmp.resolve("no").resolve("image.cryo")));
            char s = p.state();
            assertTrue(s == 'S' || s == 'R', "the tree keeps running after the refusal: state " + s);
            long before = echo.echoed.get();
            echo.awaitEchoedMore(before); // the refused dump left the connection working

            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img, "--tcp-established");
            assertTrue(Cli.run("show", img.toString()).out().contains("\"networkLock\""));
            long atRestore = echo.echoed.get();
            echo.awaitEchoedMore(atRestore);
            assertTrue(cryoTables().stream().noneMatch(l -> l.contains("cryo_" + p.pid() + "_")),
                    "the network lock is gone after the restore: " + cryoTables());
            assertNull(echo.ended.get(), "the peer saw the connection end");
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * The same image restored again after its restored tree was killed (a warmed-up program started
     * many times from one image): its first restore lifted the dump's network lock, so the second
     * is refused saying so and how to go on (before, it said the lock was on another host and to
     * restore "there", which is here); with --tcp-close it restores, warning that the tree starts
     * from the same memory again (a random generator seeded once gives the same values).
     */
    @Test
    void anImageRestoredAgainSaysItWasRestoredBeforeAndItsLiftedLockAsksForTcpClose() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        try (EchoServer echo = new EchoServer();
             DetachedProcess p = Workloads.sockets(tmp, "tcpclient", Integer.toString(echo.port()))) {
            Path img = tmp.resolve("img");
            DumpRestore dumped = DumpRestore.dump(p.pid().value(), img, "--tcp-established");
            DetachedProcess first = dumped.restoreDetached(p.output());
            echo.awaitEchoedMore(echo.echoed.get());
            RestoreTest.killAndReap(first);

            Cli again = Cli.run("restore", "-D", img.toString(), "-d", "--no-progress");
            assertEquals(1, again.code(), again.toString());
            assertTrue(again.err().matches("(?s).*TCP connection 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:" + echo.port()
                    + " \\(pid " + p.pid() + " fd \\d+\\) was held by network lock cryo_" + p.pid() + "_\\w+ until the"
                    + " restore of this image at \\d\\d:\\d\\d:\\d\\d \\(root pid " + p.pid() + "\\) lifted it.*"
                    + "Restore with --tcp-close.*"), again.toString());
            assertFalse(again.err().contains("\tat "), "a stack trace:\n" + again);
            assertFalse(Files.exists(Path.of("/proc/" + p.pid())), "the refused restore left pid " + p.pid());

            Path log = tmp.resolve("again.log");
            Cli closed = Cli.run("-o", log.toString(), "restore", "-D", img.toString(), "-d", "--no-progress", "--tcp-close");
            try {
                assertEquals(0, closed.code(), closed.toString());
                String warned = Files.readString(log);
                assertTrue(warned.contains("this image was restored before on this host")
                        && warned.contains("root pid " + p.pid() + "): its tree starts again from the same memory"), warned);
            } finally {
                RestoreTest.killAndReap(DetachedProcess.restored(p.pid(), p.output()));
            }
        }
    }

    @Test
    void withLeaveRunningTheConnectionKeepsWorkingOnTheSource() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        try (EchoServer echo = new EchoServer();
             DetachedProcess p = Workloads.sockets(tmp, "tcpclient", Integer.toString(echo.port()))) {
            Path img = tmp.resolve("img");
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress", "-R",
                    "--tcp-established");
            assertEquals(0, dump.code(), dump.toString());
            long after = echo.echoed.get();
            echo.awaitEchoedMore(after);
            assertTrue(cryoTables().stream().noneMatch(l -> l.contains("cryo_" + p.pid() + "_")),
                    "no network lock is left behind: " + cryoTables());
            assertNull(echo.ended.get(), "the peer saw the connection end");
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        }
    }

    @Test
    void aConnectionWithBothEndsInTheTreeGoesOn() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        try (DetachedProcess p = Workloads.sockets(tmp, "tcppair")) {
            Thread.sleep(200);
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            Thread.sleep(300);
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm's socket-tcp-close0: with dump --tcp-close, connections came back as sockets never
     * connected (a read said ENOTCONN); CRIU's come back closed as a reset leaves them. With
     * "noreuse" (a listener without SO_REUSEADDR) the restore failed after the dump had killed the
     * tree: the killed connections' FINs left the listener's port in TIME_WAIT.
     */
    @ParameterizedTest
    @ValueSource(strings = {"reuse", "noreuse"})
    void dumpTcpCloseBringsConnectionsBackClosed(String listener) throws Exception {
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpclosemode.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpclosemode.out"), prog, listener))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-close");
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm's socket-tcp-close0 dumps with --tcp-established and restores with --tcp-close: the
     * connections came back as sockets never connected ("Invalid recv response ENOTCONN"). They come
     * back closed as a reset leaves them, the accepted end with the bytes it had not read first.
     */
    @Test
    void restoreTcpCloseBringsEstablishedConnectionsBackClosedWithTheirUnreadBytes() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpclosemode.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpclosemode.out"), prog, "reuse",
                "unread"))) {
            DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"), "--tcp-established");
            assertPass(RestoreTest.checkAndReap(d.restoreDetached(p.output(), "--tcp-close")));
        }
    }

    /**
     * Connection attempts in flight (SYN_SENT) were refused. The peer is a listener of the test's
     * whose accept queue is full, so it drops SYNs (a peer not answering). After the restore both
     * attempts (a thread blocked in connect(), a non-blocking one polled) are still connecting
     * from their ports; once the test accepts, both complete and their bytes are echoed back.
     */
    @Test
    void connectionAttemptsInFlightComeBackStillConnecting() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        InetAddress lo = InetAddress.getLoopbackAddress();
        try (ServerSocket sink = new ServerSocket(0, 1, lo);
             Socket fill1 = new Socket(lo, sink.getLocalPort()); Socket fill2 = new Socket(lo, sink.getLocalPort())) {
            // backlog 1: two connections wait in its accept queue, and it drops the SYNs after them
            String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpsynsent.c").toString();
            try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpsynsent.out"), prog,
                    Integer.toString(sink.getLocalPort())))) {
                Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("no").toString(), "--no-progress");
                assertNotEquals(0, refused.code(), refused.toString());
                assertTrue(refused.err().matches("(?s).*pid " + p.pid() + " fd \\d+: connecting \\(SYN_SENT\\) TCP socket 127\\.0\\.0\\.1:\\d+"
                        + " -> 127\\.0\\.0\\.1:" + sink.getLocalPort() + ": dumping a TCP connection attempt in flight needs"
                        + " --tcp-established.*"), refused.toString());
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                try {
                    assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains("SYN_SENT"));
                    Sys.kill(r.pid(), Signals.SIGUSR2);
                    DetachedProcess.awaitCondition(() -> says(r, "connecting") || says(r, "FAIL"),
                            Duration.ofSeconds(30), "the restored workload to check its attempts");
                    assertFalse(r.outputText().contains("FAIL"), r.outputText());
                    Thread echo = new Thread(() -> echoEach(sink, 4));
                    echo.setDaemon(true);
                    echo.start();
                    // SYNs sent again back off to 16 s and more under load
                    DetachedProcess.awaitCondition(() -> says(r, "PASS") || says(r, "FAIL"),
                            Duration.ofSeconds(150), "the restored attempts to complete");
                    assertPass(r.outputText());
                } finally {
                    RestoreTest.killAndReap(r);
                }
            }
        }
    }

    private static boolean says(DetachedProcess p, String text) {
        try {
            return p.outputText().contains(text);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * A connection reset by its peer whose error the program has not read was refused (reading the
     * error takes it). Now its bytes, then ECONNRESET, then the end come back; one reset after its
     * peer's FIN gives its bytes, the end and SO_ERROR EPIPE; a half-closed one its bytes, the end,
     * and it still writes to its peer.
     */
    @Test
    void resetAndHalfClosedConnectionsKeepWhatTheProgramHasNotRead() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpreset.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpreset.out"), prog))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            assertPass(RestoreTest.checkAndReap(r));
        }
        assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains("ECONNRESET"));
    }

    /** The dump took that error to read it, and gave it back to a tree left running (-R); now it reads it and leaves it. */
    @Test
    void aResetErrorTheDumpReadIsGivenBackToATreeLeftRunning() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpreset.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpreset.out"), prog))) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress",
                    "-R", "--tcp-established");
            assertEquals(0, dump.code(), dump.toString());
            assertPass(Workloads.check(p));
        }
    }

    /**
     * A non-blocking connect() refused by its peer, not polled since: its ECONNREFUSED was refused
     * as "never connected". It comes back pending, from its port; a tree left running gets it back.
     */
    @ParameterizedTest
    @ValueSource(strings = {"restored", "left running", "its error read, restored"})
    void aRefusedConnectionAttemptKeepsItsUnreadError(String how) throws Exception {
        if (how.equals("restored")) {
            assertPass(DumpRestore.workloadVerdict(tmp, "tcprefused"));
            return;
        }
        if (how.startsWith("its error read")) { // netdata's collectors between two attempts: refused as never connected
            assertPass(DumpRestore.workloadVerdict(tmp, "tcprefused", "read"));
            return;
        }
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcprefused.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcprefused.out"), prog))) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress", "-R");
            assertEquals(0, dump.code(), dump.toString());
            assertPass(Workloads.check(p));
        }
    }

    /**
     * A connection that failed by a timeout (retransmissions unanswered: tcptimeout.c drops them with
     * nftables in a net namespace of its own) whose ETIMEDOUT the program has not read: refused, as
     * reading it takes it. It comes back with its bytes, then ETIMEDOUT, then the end (cryo makes the
     * kernel time it out again); a tree left running gets it back in place.
     */
    @ParameterizedTest
    @ValueSource(strings = {"restored", "left running"})
    void aTimedOutConnectionKeepsItsUnreadError(String how) throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcptimeout.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcptimeout.out"), "sh", "-c",
                "exec unshare -n " + prog))) {
            if (how.equals("restored")) {
                assertPass(RestoreTest.checkAndReap(DumpRestore.dump(p.pid().value(), tmp.resolve("img"))
                        .restoreDetached(p.output())));
                assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains("ETIMEDOUT"));
            } else {
                Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress", "-R");
                assertEquals(0, dump.code(), dump.toString());
                assertPass(Workloads.check(p));
            }
        }
    }

    /**
     * A listener without SO_REUSEADDR whose program closed its connections first (their TIME_WAIT
     * holds its port, as a plain socketserver.TCPServer's after a request) could not bind again:
     * the restore failed after the dump had killed the tree.
     */
    @Test
    void aListenerWithoutReuseAddrWhosePortIsInTimeWaitComesBack() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "tcpleftover"));
    }

    /**
     * A connection whose receiver does not read: the window closed, megabytes in the sender's queue
     * (sent unacknowledged and never sent) and in the receiver's. Read back byte for byte after the restore.
     */
    @Test
    void aConnectionWithItsWindowClosedComesBackByteForByte() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpwindow.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpwindow.out"), prog))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /** Accepts {@code n} connections and echoes what each sends, each on a thread of its own (until closed). */
    private static void echoEach(ServerSocket s, int n) {
        for (int i = 0; i < n; i++) {
            try {
                Socket c = s.accept();
                Thread t = new Thread(() -> {
                    try (c; InputStream in = c.getInputStream(); OutputStream out = c.getOutputStream()) {
                        byte[] b = new byte[64];
                        for (int k; (k = in.read(b)) > 0; ) {
                            out.write(b, 0, k);
                        }
                    } catch (IOException ignored) {
                        // the workload is gone
                    }
                });
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    /** zdtm's socket-tcp-closed found it: a TCP socket never bound (not in sock_diag) was refused. */
    @Test
    void aTcpSocketNeverBoundComesBackWithItsOptions() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "tcpfresh"));
    }

    /**
     * Multicast groups were lost silently: a UDP socket that joined a group (any source, or one
     * source only; IPv4 and IPv6) is in it again after the restore and receives what is sent to it.
     */
    @Test
    void multicastMembershipsComeBackWithTheirSourceFilters() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "mcast"));
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("239.7.7.2 on interface 1 include 1 sources"), show);
    }

    /**
     * The same in a net namespace of the tree's own (avahi-daemon's case, in {@code unshare --net}):
     * the groups were looked for among cryo's namespace's (/proc/net/igmp), where the tree's
     * loopback groups are not, and lost silently.
     */
    @Test
    void multicastMembershipsInATreesOwnNetNamespaceComeBack() throws Exception {
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/mcast.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("mcast.out"), "unshare", "--net",
                "sh", "-c", "ip link set lo up && exec " + prog))) {
            assertPass(RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"))));
        }
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("239.7.7.2 on interface 1 include 1 sources"), show);
    }

    /**
     * zdtm's socket_udp-corked: bytes a UDP socket holds corked (UDP_CORK, MSG_MORE; IPv4, IPv6, a socket
     * connected to itself) were refused; they come back corked, to the same destination, and leave as one
     * datagram when the program uncorks. A tree left running (-R) still holds them: the dump caught them
     * on their way out and corked them again.
     */
    @ParameterizedTest
    @ValueSource(strings = {"restored", "left running"})
    void corkedUdpBytesStayCorked(String how) throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        if (how.equals("restored")) {
            assertPass(DumpRestore.workloadVerdict(tmp, "udpcork"));
            assertTrue(Cli.run("show", tmp.resolve("img").toString()).out().contains("\"corked\" : \"12 bytes to 127.0.0.1:"),
                    "cryo show names the corked bytes");
            return;
        }
        String prog = dev.cryo.kernel.testing.TestPrograms.compile("/c/udpcork.c").toString();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("udpcork.out"), prog))) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress", "-R");
            assertEquals(0, dump.code(), dump.toString());
            assertPass(Workloads.check(p));
        }
        assertTrue(cryoTables().stream().noneMatch(l -> l.contains("cryo_cork_")), "no table is left: " + cryoTables());
    }

    /**
     * A UDP datagram waiting below its socket for neighbour discovery at the freeze (BIND's priming query
     * over IPv6 on a route whose neighbour never answers, real38; udpneigh.py) was taken for corked bytes
     * and refused: "uncorking it let 0 datagrams from its port out (1 expected)", and in a net namespace of
     * the tree's "carrying them there is not supported yet". Such a datagram is the kernel's, handed to IP
     * as onto the wire: it is let go, and bytes corked after it on another socket come back corked. In the
     * host's net namespace (a veth pair of the test's whose far end never answers) and in the tree's own.
     */
    @ParameterizedTest
    @ValueSource(strings = {"host", "own"})
    void aDatagramWaitingForNeighbourDiscoveryIsNotTakenForCorkedBytes(String netns) throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        Path script = Workloads.script(tmp, "udpneigh.py");
        int tag = (int) (ProcessHandle.current().pid() % 65536);
        String dev = netns.equals("own") ? "cryo-n" : "cryo-nd" + tag, prefix = "fd00:39:" + Integer.toHexString(tag) + "::";
        String link = "ip link add " + dev + "a type veth peer name " + dev + "b && ip link set " + dev + "a up"
                + " && ip link set " + dev + "b up && ip -6 addr add " + prefix + "1/64 dev " + dev + "a nodad"
                // the neighbour stays INCOMPLETE for hours: its datagrams wait in its queue the whole test
                + " && echo 3600000 > /proc/sys/net/ipv6/neigh/" + dev + "a/retrans_time_ms";
        Path img = tmp.resolve("img");
        if (netns.equals("own")) {
            try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("udpneigh.out"), "sh", "-c",
                    "exec unshare -n --pid --fork --mount-proc sh -c 'ip link set lo up && " + link
                            + " && exec /usr/bin/python3 " + script + " " + prefix + "2' 2>/dev/null"))) {
                int init = NamespaceTest.initUnder(p.pid().value());
                assertPass(RestoreTest.checkAndReap(DumpRestore.dump(init, img).alsoKnown(letGo(init, Workloads.readyFd(p)))
                        .restoreDetached(p.output())));
            }
            return;
        }
        NetNamespaceTest.host("sh", "-c", link);
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("udpneigh.out"), "/usr/bin/python3",
                script.toString(), prefix + "2"))) {
            String fd = Workloads.readyFd(p);
            assertPass(RestoreTest.checkAndReap(DumpRestore.dump(p.pid().value(), img).alsoKnown(letGo(p.pid().value(), fd))
                    .restoreDetached(p.output())));
        } finally {
            NetNamespaceTest.host("ip", "link", "del", dev + "a");
        }
    }

    /** The comparator counts the datagram waiting for its neighbour in s's send queue (fd {@code fd}): it is let go. */
    private static StateComparator.Known letGo(int pid, String fd) {
        return new StateComparator.Known("a datagram handed to IP, waiting for neighbour discovery, is let go as on the wire",
                d -> d.scope().equals("pid " + pid) && d.item().equals("fd " + fd + " corked bytes")
                        && "some".equals(d.dumped()) && "none".equals(d.restored()));
    }

    /**
     * zdtm's socket_udplite: UDP-Lite sockets were refused at dump time. They come back UDP-Lite, bound
     * and connected as they were, with their checksum coverage, and carry datagrams between them.
     */
    @Test
    void udpLiteSocketsComeBackWithTheirCoverage() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "udplite"));
    }

    /**
     * AF_VSOCK sockets were refused ('pid N fd 3: AF_VSOCK socket is not supported yet'): a guest agent's or
     * sshd's listener under systemd's vsock socket units made its program undumpable. A listener on
     * VMADDR_CID_ANY (backlog 7, buffer sizes of its own), a socket only bound, one never bound and a seqpacket
     * listener (backlog 3) come back so; the listener holds its port and accepts (vsocklisten.c; it connects
     * too where vsock_loopback is).
     */
    @Test
    void vsockListenersAndBoundSocketsComeBack() throws Exception {
        Assumptions.assumeTrue(java.nio.file.Files.exists(Path.of("/dev/vsock")), "no vsock on this host");
        int port = 50000 + (int) (ProcessHandle.current().pid() % 10000);
        assertPass(DumpRestore.workloadVerdict(tmp, "vsocklisten", String.valueOf(port)));
        String show = Cli.run("show", tmp.resolve("img").toString()).out();
        assertTrue(show.contains("\"listening\" : 7") && show.contains("\"listening\" : 3"), show);
    }

    /**
     * Connected UDP sockets (IPv4, IPv6) holding an ICMP error the program has not read (its datagram met a
     * closed port: ECONNREFUSED) lost it without a word (after the restore the receive found nothing), then
     * were refused. The dump now takes the error (SO_ERROR) and an ICMP error of cryo's quoting such a
     * datagram makes it again, in the running tree at once and in the restored socket: the program reads
     * ECONNREFUSED once, then nothing (udperror.c).
     */
    @ParameterizedTest
    @ValueSource(strings = {"restored", "left running"})
    void aUdpSocketsUnreadIcmpErrorComesBack(String how) throws Exception {
        assertItsErrorComesBack("udperror", how);
    }

    /** One that keeps an error queue (IP_RECVERR) is still refused, its error left: the queue's messages cannot be queued again. */
    @Test
    void aUdpSocketsUnreadIcmpErrorWithAnErrorQueueIsRefusedAndLeftToTheProgram() throws Exception {
        assertRefusedWithItsErrorLeft("udperror", "UDP socket 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:\\d+ holds an error"
                + " the program has not read yet and keeps an error queue \\(IP_RECVERR\\).*", "recverr");
    }

    /**
     * A unix stream socket whose peer closed with bytes unread holds ECONNRESET for the program; the dump
     * failed with "recvmsg(...): ECONNRESET", its look at the queue having taken the error from the
     * program (which then read an end), then refused it. Its queue is now peeked up to its unread bytes,
     * which leaves the error, and the restore's pair end closes with a byte unread: after the restore, and
     * with the tree left running, the program reads its bytes, ECONNRESET once, then the end (unixreset.c).
     * Seqpacket ends whose peer closed so, nothing queued of their own (refused before: any receive takes the
     * error first): not peeked, counted empty by cryo's BPF iterator; ECONNRESET once, then the end. With a message
     * of their own queued ("hi", or an empty one: refused before), it is read by cryo's BPF iterator
     * (ErroredQueues), not received: ECONNRESET once, the message, then the end; one whose sender passed its
     * credentials (SO_PASSCRED) comes with the program's pid again (that sender was autobound: the restored end
     * names it, as {@link #aUnixSocketWhosePeerClosedStillNamesIt} checks).
     */
    @ParameterizedTest
    @CsvSource({"stream,restored", "stream,left running", "seqpacket,restored", "seqpacket,left running",
            "seqpacketqueued,restored", "seqpacketqueued,left running", "seqpacketempty,restored",
            "seqpacketempty,left running", "seqpacketcreds,restored", "seqpacketcreds,left running"})
    void aUnixSocketsUnreadResetComesBack(String type, String how) throws Exception {
        assertItsErrorComesBack("unixreset", how, type.equals("stream") ? new String[0] : new String[] {type});
    }

    /**
     * Unix stream and seqpacket ends whose peer has closed still name it: getpeername gives the gone peer's name,
     * which the kernel keeps until the end closes. A restore made each again with no peer name ("unbound", seen by
     * the comparator). Now the end is connected to a peer of cryo's bound at that name, closed once the end's bytes
     * are in: a socketpair end whose peer autobound, bound an abstract name (closing with a byte unread: ECONNRESET)
     * or a path; a client of a listener of the tree whose accepted end closed (it names the listener); that
     * listener's accepted end whose autobound client closed; a client of a path listener that closed before
     * accepting it (unixgonepeer.c). Restored (the comparator too), and with the tree left running.
     */
    @ParameterizedTest
    @CsvSource({"stream,restored", "seqpacket,restored", "stream,left running", "seqpacket,left running"})
    void aUnixSocketWhosePeerClosedStillNamesIt(String type, String how) throws Exception {
        Path names = Files.createDirectories(tmp.resolve("names"));
        assertItsErrorComesBack("unixgonepeer", how, type, names.toString());
    }

    /**
     * An unbound unix datagram socket connected to one that has closed still names it (getpeername) until its next
     * send, refused (ECONNREFUSED), disconnects it; it came back naming no peer ('unbound'). Now its stand-in peer is
     * bound to that name, an abstract one and a path (restored, the comparator too). So is a named one's ("named",
     * connected to the path), which came back unconnected (getpeername ENOTCONN).
     */
    @ParameterizedTest
    @ValueSource(strings = {"abstract", "path", "named"})
    void aUnixDatagramSocketWhosePeerClosedStillNamesIt(String how) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("dgram"));
        String script = "import errno, os, signal, socket, sys, time\n"
                + "n = ('\\0cryo-gone-%d' % os.getpid()).encode() if sys.argv[1] == 'abstract' else sys.argv[2] + '/b.sock'\n"
                + "b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\nb.bind(n)\n"
                + "a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                + "if sys.argv[1] == 'named':\n    a.bind(('\\0cryo-named-%d' % os.getpid()).encode())\n"
                + "a.connect(n)\nb.close()\n"
                + "def check(*_):\n"
                + "    ok = a.getpeername() == n\n"
                + "    try:\n        a.send(b'x')\n        ok = False\n"
                + "    except ConnectionRefusedError:\n        pass\n"
                + "    try:\n        a.getpeername()\n        ok = False\n"
                + "    except OSError as e:\n        ok = ok and e.errno == errno.ENOTCONN\n"
                + "    print('PASS' if ok else 'FAIL', flush=True)\n"
                + "    os._exit(0)\n"
                + "signal.signal(signal.SIGUSR2, check)\nprint('ready', flush=True)\n"
                + "end = time.time() + 600\nwhile time.time() < end:\n    time.sleep(1)\n";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("dgramgone.out"), "/usr/bin/python3",
                "-c", script, how, dir.toString()))) {
            assertPass(RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"))));
        }
    }

    /**
     * A unix stream client bound to a path of its own before it connected to a listener of the tree came back
     * unbound, and its accepted end named no peer (getsockname and getpeername 'unbound', seen by the comparator):
     * the dump recorded no file for a connected end. Now its own path is bound again with its file as it was: one
     * there (its mode kept), one removed since the bind (no file made). Restored (the comparator too).
     */
    @Test
    void aUnixStreamClientBoundToAPathOfItsOwnKeepsItsName() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("own"));
        String script = "import os, signal, socket, stat, sys, time\n"
                + "d = sys.argv[1]\n"
                + "l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\nl.bind(d + '/l.sock')\nl.listen(4)\n"
                + "def client(name, keep):\n"
                + "    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n    c.bind(d + name)\n"
                + "    if keep:\n        os.chmod(d + name, 0o640)\n    else:\n        os.unlink(d + name)\n"
                + "    c.connect(d + '/l.sock')\n    a, _ = l.accept()\n    c.send(b'to a')\n    return c, a\n"
                + "c, a = client('/c.sock', True)\ng, b = client('/g.sock', False)\n"
                + "def check(*_):\n"
                + "    ok = c.getsockname() == d + '/c.sock' and a.getpeername() == d + '/c.sock'\n"
                + "    ok = ok and g.getsockname() == d + '/g.sock' and b.getpeername() == d + '/g.sock'\n"
                + "    ok = ok and a.recv(8) == b'to a' and b.recv(8) == b'to a'\n"
                + "    a.send(b'back')\n    ok = ok and c.recv(8) == b'back'\n"
                + "    ok = ok and stat.S_ISSOCK(os.stat(d + '/c.sock').st_mode)\n"
                + "    ok = ok and stat.S_IMODE(os.stat(d + '/c.sock').st_mode) == 0o640 and not os.path.exists(d + '/g.sock')\n"
                + "    print('PASS' if ok else 'FAIL: %r %r %r %r' % (c.getsockname(), a.getpeername(), g.getsockname(),"
                + " os.listdir(d)), flush=True)\n"
                + "    os._exit(0)\n"
                + "signal.signal(signal.SIGUSR2, check)\nprint('ready', flush=True)\n"
                + "end = time.time() + 600\nwhile time.time() < end:\n    time.sleep(1)\n";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("ownpath.out"), "/usr/bin/python3",
                "-c", script, dir.toString()))) {
            assertPass(RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"))));
        }
    }

    /**
     * A unix datagram socket b whose peer a (of a pair, or connected by name each to the other) connected
     * elsewhere while a byte of b's waited at it: the kernel dropped a's queue and left b ECONNRESET, b still
     * connected to a, which now takes only its new peer's datagrams. It was refused ("holds an error the
     * program has not read yet ... for a datagram socket whose peer is still there"). Now b gets ECONNRESET
     * once, then nothing to read, and its send is refused (EPERM) as before; a's datagram to its new peer
     * waits there. Restored, and with the tree left running (the dump left b's error). With a datagram of a's
     * queued for b before a left ("queued": refused before, "with 1 message queued"): read by cryo's BPF iterator
     * (ErroredQueues), sent again by a before it leaves; b gets ECONNRESET, then it, then nothing.
     */
    @ParameterizedTest
    @CsvSource({"pair,restored", "pair,left running", "names,restored", "names,left running", "pairqueued,restored",
            "pairqueued,left running", "namesqueued,restored", "namesqueued,left running"})
    void aUnixDatagramSocketWhosePeerConnectedElsewhereKeepsItsReset(String how, String when) throws Exception {
        String script = "import os, signal, socket, sys, time\n"
                + "n = '\\0cryo-reset-%d' % os.getpid()\n"
                + "if sys.argv[1].startswith('pair'):\n    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                + "else:\n    a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n    a.bind(n + '-a')\n"
                + "    b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n    b.bind(n + '-b')\n"
                + "    a.connect(n + '-b')\n    b.connect(n + '-a')\n"
                + "c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\nc.bind(n + '-c')\n"
                + "queued = sys.argv[1].endswith('queued')\nif queued:\n    a.send(b'q')\n"
                + "b.send(b'x')\na.connect(n + '-c')\na.send(b'to c')\n"
                + "def check(*_):\n"
                + "    try:\n        b.recv(8, socket.MSG_DONTWAIT)\n        print('FAIL: no ECONNRESET', flush=True)\n"
                + "    except ConnectionResetError:\n        pass\n"
                + "    if queued and b.recv(8, socket.MSG_DONTWAIT) != b'q':\n        print('FAIL: its queued datagram', flush=True)\n"
                + "    try:\n        b.recv(8, socket.MSG_DONTWAIT)\n        print('FAIL: a datagram after the reset', flush=True)\n"
                + "    except BlockingIOError:\n        pass\n"
                + "    try:\n        b.send(b'y')\n        print('FAIL: b could send to a', flush=True)\n"
                + "    except PermissionError:\n        pass\n"
                + "    print('PASS' if c.recv(8, socket.MSG_DONTWAIT) == b'to c' else 'FAIL: c', flush=True)\n"
                + "    os._exit(0)\n"
                + "signal.signal(signal.SIGUSR2, check)\nprint('ready', flush=True)\n"
                + "end = time.time() + 600\nwhile time.time() < end:\n    time.sleep(1)\n";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("dgramreset.out"), "/usr/bin/python3",
                "-c", script, how))) {
            String out;
            if (when.equals("restored")) {
                out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            } else {
                DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img"));
                out = Workloads.check(p);
            }
            assertPass(out);
        }
    }

    /**
     * The C program {@code name}.c holds unread socket errors: dumped and restored ({@code how} "restored", the
     * comparator too), or dumped with -R, it reads each once after.
     */
    private void assertItsErrorComesBack(String name, String how, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(dev.cryo.kernel.testing.TestPrograms.compile("/c/" + name + ".c").toString()));
        command.addAll(List.of(args));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve(name + ".out"), command.toArray(String[]::new)))) {
            String out;
            if (how.equals("restored")) {
                out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img")));
            } else {
                DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img"));
                out = Workloads.check(p);
            }
            assertPass(out);
        }
    }

    /**
     * A unix seqpacket socket's ECONNRESET with a message queued that passes a file (SCM_RIGHTS) is still refused:
     * cryo reads such a queue without a receive (any receive, a peek too, takes the error first), which takes no file.
     */
    @Test
    void aUnixSeqpacketSocketsUnreadResetWithAFileQueuedIsRefusedAndLeftToTheProgram() throws Exception {
        assertRefusedWithItsErrorLeft("unixreset", "unix seqpacket socket .* holds an error the program has not read yet"
                + " \\(ECONNRESET: .* with 1 message queued, one passing file descriptors \\(SCM_RIGHTS\\).*",
                "seqpacketfiles");
    }

    /**
     * A netlink multicast listener that fell behind holds ENOBUFS for the program; the dump failed with
     * "recv(...): ENOBUFS", its peek having taken the error from the program. Refused before the queue is
     * read, the error left to the program.
     */
    @Test
    void aNetlinkSocketsUnreadOverrunIsRefusedAndLeftToTheProgram() throws Exception {
        assertRefusedWithItsErrorLeft("netlinkoverrun", "netlink socket \\(protocol 2\\) holds an error the program has not read"
                + " yet \\(ENOBUFS: .*");
    }

    /** The C program {@code name}.c holds an unread socket error: the dump is refused naming the fd, the program runs on and still reads it. */
    private void assertRefusedWithItsErrorLeft(String name, String reason, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(dev.cryo.kernel.testing.TestPrograms.compile("/c/" + name + ".c").toString()));
        command.addAll(List.of(args));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve(name + ".out"), command.toArray(String[]::new)))) {
            Cli refused = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().matches("(?s).*pid " + p.pid() + " fd \\d+: " + reason), refused.toString());
            assertPass(Workloads.check(p));
        }
    }

    /** zdtm's socket_udp_shutdown found it: a UDP socket shut for writing could send again after a restore. */
    @Test
    void udpSocketsStayShutDown() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "udpshut"));
    }

    /** zdtm's socket_snd_addr found it: an unread datagram whose sender was closed came back from no name. */
    @Test
    void unreadDatagramsKeepTheNamesOfSendersClosedSince() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("senders"));
        assertPass(DumpRestore.workloadVerdict(tmp, "dgramsenders", dir.toString()));
    }

    /**
     * Unread UDP datagrams were refused ("unread datagrams"): they come back in order, each from its
     * sender (two open, one closed since, one at a connected socket, IPv6, IPv4 at a dual-stack socket).
     */
    @Test
    void unreadUdpDatagramsComeBackFromTheirSenders() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "udpqueue"));
    }

    /**
     * Clients go on sending to a UDP server while it is restored (udpbusy.c): a datagram that came
     * in between the rebinding of its socket and the check of its queue failed the restore (after
     * the dump had killed the server); the unread datagrams are now queued right after the bind
     * and found in the queue among the newcomers.
     */
    @Test
    void aUdpServerWhoseClientsKeepSendingIsRestored() throws Exception {
        int port = QuietPorts.udp(151); // udpbusy's server and its 150 other sockets
        try (DetachedProcess p = Workloads.program(tmp.resolve("udpbusy.out"), "udpbusy", Integer.toString(port))) {
            DumpRestore d = DumpRestore.dump(p.pid().value(), tmp.resolve("img"));
            java.util.concurrent.atomic.AtomicBoolean sending = new java.util.concurrent.atomic.AtomicBoolean(true);
            Thread client = new Thread(() -> {
                try (java.net.DatagramSocket c = new java.net.DatagramSocket()) {
                    byte[] live = "live".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                    java.net.DatagramPacket packet = new java.net.DatagramPacket(live, live.length,
                            java.net.InetAddress.getLoopbackAddress(), port);
                    while (sending.get()) {
                        try {
                            c.send(packet);
                        } catch (java.io.IOException refused) {
                            // nobody bound yet: the next one
                        }
                        java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                    }
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, "udp client");
            client.start();
            DetachedProcess r;
            try {
                r = d.restoreDetached(p.output());
            } finally {
                sending.set(false);
                client.join();
            }
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * A connection over on both sides whose fd the program still holds (both FINs exchanged: the
     * kernel moved it to TIME_WAIT without its socket) was refused ("not listed by sock_diag"): it
     * comes back closed, its unread bytes then the end, no peer, no error, writes failing (tcpover.c).
     */
    @Test
    void aTcpConnectionClosedOnBothSidesComesBackClosedWithItsUnreadBytes() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "tcpover"));
    }

    /**
     * real45 found it dumping ZooKeeper a second time: a connection over whose socket a restore made
     * (bound in repair mode, it keeps its port) is listed by sock_diag, and was dumped as a socket bound
     * and never connected: its peer and unread bytes were lost, and its restore failed binding the port of
     * the listener it was accepted from (EADDRINUSE). It is dumped as a connection over again (tcpover.c
     * with its listener open, dumped and restored twice).
     */
    @Test
    void aTcpConnectionClosedOnBothSidesComesBackClosedFromARestoredTreeToo() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("tcpover.out"),
                dev.cryo.kernel.testing.TestPrograms.compile("/c/tcpover.c").toString(), "listening"))) {
            DetachedProcess once = DumpRestore.dumpAndRestore(p, tmp.resolve("img1"));
            DetachedProcess twice;
            try {
                // the restored root is our child: the second dump's tracer thread reaps it
                twice = DumpRestore.dump(once.pid().value(), tmp.resolve("img2")).restoreDetached(p.output());
            } catch (AssertionError | Exception e) {
                RestoreTest.killAndReap(once);
                throw e;
            }
            assertPass(RestoreTest.checkAndReap(twice));
        }
    }

    /**
     * The lead found unread datagrams of a socket bound to a wildcard address given back all sent to
     * the loopback address (IP_PKTINFO showed 127.0.0.1 where the client had sent to another local
     * address): the dump now reads where each was sent (IP_RECVORIGDSTADDR) and sends it there again
     * (udpdst.c: 127.0.0.2 and 127.0.0.1 to an IPv4 socket, 127.0.0.3 to a dual-stack IPv6 one).
     */
    @Test
    void unreadDatagramsOfAWildcardSocketKeepTheAddressTheyWereSentTo() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "udpdst"));
    }

    /**
     * A SO_REUSEPORT group's classic program (SO_ATTACH_REUSEPORT_CBPF: nginx's, envoy's "reuseport")
     * was lost silently: no call reads it back, and the restored groups spread packets by the kernel's
     * hash. It is read with a BPF iterator over the task's files and set again (reuseport.c: a UDP and
     * a TCP group whose program picks the second socket for all 8 sources).
     */
    @Test
    void aReuseportGroupsClassicProgramStillPicksTheSocketOfEachPacket() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "reuseport"));
    }

    /**
     * The kernel picks a SO_REUSEPORT group's member by its index in the group (the flow's hash scaled
     * to the members, or what the group's program returns), the order the members bound (UDP) or
     * listened (TCP). The restore made them in fd order, so a group joined out of fd order came back
     * with each flow on another socket, silently ("udp 0333330223013122 before, 3000003110320211 after").
     * Each member's index is read with the BPF iterator and the members are made in that order
     * (reuseportorder.c: 4 UDP sockets bound and 4 TCP listeners listening in reverse fd order, 16
     * fixed sources each; a group of 2 bound in reverse whose program returns index 1; a prefork group:
     * 4 child processes each binding its own UDP socket, last-forked first, whose order the restore
     * of one list per net namespace keeps too; with the ordering switched off they came back in pid
     * order: "workers 3022012122203001 before, 0311321211130332 after"; 4 MPTCP listeners listening in
     * reverse fd order, whose group is their first subflows', which the dump refused before and, with
     * their places not given back, came back in fd order). The state comparator compares each member's index too.
     */
    @Test
    void aReuseportGroupJoinedOutOfFdOrderKeepsWhichSocketGetsEachFlow() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "reuseportorder"));
    }

    /**
     * Members of SO_REUSEPORT groups held only in flight, passed in an unread message of a unix socket
     * (SCM_RIGHTS: a prefork server handing its listeners to a worker), with their fds closed: the dump
     * counted only the fd tables' members and refused the groups ("is member 3 of a SO_REUSEPORT group of
     * 4 sockets, 2 of them held outside the tree"). The count is made once every task is collected, with
     * the members in flight, and they come back in their places (reuseportorder.c inflight: 2 of 4 UDP
     * sockets, a TCP and an MPTCP listener of 4 in flight; on SIGUSR2 received back, then each source's member).
     */
    @Test
    void reuseportGroupMembersHeldOnlyInFlightComeBackInTheirPlaces() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "reuseportorder", "inflight"));
    }

    /**
     * A SO_REUSEPORT group of three UDP sockets, each with its own unread datagrams: queued again by
     * sending them from their sources, they were spread by the group's hash over the members bound so
     * far, and the restore failed after the killing dump ("3 of its 6 unread datagrams could be queued
     * again"). While a member's are queued, the group now picks that member (reuseportq.c).
     */
    @Test
    void eachMemberOfAReuseportGroupGetsItsOwnUnreadDatagramsBack() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "reuseportq"));
    }

    /**
     * zdtm's scm06: each end of a unix datagram pair sent both ends over itself, so each queue passes
     * the socket that holds it. The dump refused it as a loop, though the program holds both ends:
     * such a socket in flight is a share of the task's fd, and comes back in its queue (scmloop.c).
     */
    @Test
    void aSocketPassedInItsOwnQueueWhileTheProgramHoldsItComesBack() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "scmloop"));
    }

    /** zdtm's sock_filter00 found socket filters refused: a classic BPF filter and its lock come back. */
    @Test
    void aSocketFilterComesBackLocked() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "sockfilter"));
    }

    /**
     * zdtm's socket-tcp-fin-wait1/2 found them refused: a connection shut for writing, its FIN waiting
     * behind unsent bytes (FIN_WAIT1) or acknowledged (FIN_WAIT2), the peer outside the tree.
     */
    @ParameterizedTest
    @ValueSource(strings = {"wait1", "wait2"})
    void tcpConnectionsShutForWritingComeBackShut(String mode) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("tcpfin.out"), "tcpfin", mode)) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /** zdtm's socket-tcp-close-wait and socket-tcp-last-ack found both refused: connections that received their peer's FIN. */
    @ParameterizedTest
    @ValueSource(strings = {"close_wait", "last_ack"})
    void tcpConnectionsWhosePeerHasClosedComeBackClosedByIt(String mode) throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("tcpclosed.out"), "tcpclosed", mode)) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /** zdtm's del_standalone_un found it refused: listening unix sockets whose files were replaced or removed. */
    @Test
    void listenersWhoseSocketFilesAreGoneKeepTheirNames() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("gone"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("sockgone.out"), "sockgone", dir.toString())) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            assertFalse(Files.exists(dir.resolve("c")), "the restore left c's socket file behind");
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /** supervisord found it silently unreachable: socket files renamed after the bind (bind x.PID, rename over x). */
    @Test
    void socketsWhoseFilesWereRenamedAreReachedAtTheNewPath() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("moved"));
        assertPass(DumpRestore.workloadVerdict(tmp, "sockmoved", dir.toString()));
    }

    /**
     * zdtm's sk-unix-rel found it refused: a unix listener bound to a path relative to the cwd; postfix,
     * a datagram client connected to a server by its relative name.
     */
    @Test
    void socketsBoundToRelativePathsKeepTheirRelativeNamesAndClients() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("rel"));
        assertPass(DumpRestore.workloadVerdict(tmp, "unixrel", dir.toString()));
    }

    /**
     * Real servers found it: unbound's UDP sockets lost IP_PMTUDISC_OMIT, its listeners TCP_FASTOPEN,
     * apache's TCP_DEFER_ACCEPT; ping and squid's pinger were refused for their raw sockets.
     */
    @Test
    void socketOptionsServersSetAndRawSocketsComeBack() throws Exception {
        // ping's ICMP datagram sockets need root's gid in net.ipv4.ping_group_range (Debian's systemd
        // opens it to everyone; this host's default "1 0" to no one): opened for the test, then put back
        Path range = Path.of("/proc/sys/net/ipv4/ping_group_range");
        String before = Files.readString(range).trim();
        String[] r0 = before.split("\\s+");
        boolean rootOutside = Long.parseLong(r0[0]) > 0 || Long.parseLong(r0[1]) < 0;
        if (rootOutside) {
            Files.writeString(range, "0 0");
        }
        try (DetachedProcess p = Workloads.program(tmp.resolve("sockopts.out"), "sockopts")) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            String out = RestoreTest.checkAndReap(r);
            assertPass(out);
            assertTrue(out.contains("ping=1"), "an ICMP datagram socket was carried: " + out);
        } finally {
            if (rootOutside) {
                Files.writeString(range, before.replaceAll("\\s+", " "));
            }
        }
    }

    /** zdtm's sk-freebind-false found it: a socket bound with IP_FREEBIND cleared since failed the restore. */
    @Test
    void socketsBoundToANonLocalAddressComeBack() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "freebind"));
    }

    /**
     * zdtm's scm00-07 were refused: files passed in unread unix messages (SCM_RIGHTS) — a pipe end,
     * a deleted file, an eventfd and a socket no task holds any more, files a task holds too, in
     * datagram, seqpacket and stream queues, one whose sender closed — and sender credentials
     * (SO_PASSCRED) come back in order with their messages.
     */
    @Test
    void filesPassedInUnreadMessagesAndCredentialsComeBackWithThem() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPass(DumpRestore.workloadVerdict(tmp, "scmqueue", dir.toString()));
    }

    /**
     * Files in flight of the kinds the other workloads do not pass, each held by its message alone (flykinds.c):
     * an armed timerfd, a signalfd, an inotify watch, a memfd at an offset, a pidfd of a child, a file at an
     * offset, a bound UDP socket, a TCP listener and a net namespace file, each received after the restore and
     * used (untried before).
     */
    @Test
    void filesOfOtherKindsInFlightComeBackAsTheyWerePassed() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "flykinds"));
    }

    /**
     * zdtm's scm05 was refused: an epoll no task holds, passed twice in unread messages, comes back
     * as one epoll watching the receiver's socket. So do a socket in flight whose own queue passes a
     * pipe and another socket in flight passing an eventfd (three levels), and both ends of a pair
     * in one message: every message in order with its data and files.
     */
    @Test
    void epollsAndSocketsInFlightWithQueuesOfTheirOwnComeBack() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "scminflight"));
    }

    /**
     * zdtm's sk-unix-ucred: unread messages carrying only their sender's credentials failed the
     * restore after the dump had killed the tree (their queue was filled before the sender's pid
     * existed); they are filled again once the tasks exist, as messages passing files are.
     */
    @Test
    void unreadMessagesWithOnlyCredentialsComeBack() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPass(DumpRestore.workloadVerdict(tmp, "credqueue", dir.toString()));
    }

    /**
     * zdtm's scm_pidfd01 and a dead-sender scm_creds were refused: a log socket's unread message from
     * a client that has exited names a dead pid, which the kernel takes from no sender; a stand-in
     * at that pid sends it again and is reaped, so the credentials and the SCM_PIDFD name a dead process.
     */
    @Test
    void anUnreadMessageFromASenderThatHasExitedKeepsItsCredentials() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPass(DumpRestore.workloadVerdict(tmp, "deadsender", dir.toString()));
    }

    /**
     * zdtm's sock_peercred and zdtm11's peercred_self found it: every restored unix socket named
     * cryo's restoring process (uid and gid 0) as its peer. A pair, a listener, connections accepted
     * and pending, from another identity and from a child that has exited since.
     */
    @Test
    void unixSocketsKeepThePeerCredentialsTheKernelRecorded() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "peercred"));
    }

    /**
     * SO_PEERPIDFD and SO_PEERGROUPS besides SO_PEERCRED: a pidfd of the restored peer task (it was a
     * pidfd of a stand-in that had exited), and the groups the peer had at its call (cryo's were given).
     */
    @Test
    void unixSocketsGiveAPidfdOfTheirRestoredPeerAndItsGroups() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "peercredns"));
    }

    /**
     * What a program sets on unix sockets and reads back: SO_PEEK_OFF with bytes unread, SO_RCVLOWAT,
     * SO_PASSCRED/SO_PASSSEC/SO_PASSPIDFD, buffer sizes, an autobound name and a datagram sent from it;
     * SO_PASSRIGHTS off on a listener and on again on its connection, and off at a socket holding a passed fd unread.
     */
    @Test
    void unixSocketOptionsAndAnAutoboundNameComeBack() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "unixopts"));
    }

    /**
     * Abstract names that fill all 108 bytes of sun_path, trailing NULs included, as libqb binds
     * corosync's and pacemaker's IPC listeners: the restore failed ("unix socket name longer than
     * 107 bytes") after the dump had killed the tree.
     */
    @Test
    void abstractNamesFillingAllOfSunPathComeBack() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "unixfullname"));
    }

    /**
     * zdtm's fifo_upon_unix_socket00 was refused: a datagram server whose socket file was replaced
     * by a FIFO, a client connected to it and a datagram from a named sender unread.
     */
    @Test
    void aDatagramServerWhoseSocketFileIsGoneKeepsItsClientsAndQueue() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPass(DumpRestore.workloadVerdict(tmp, "dgramgone", dir.toString()));
    }

    /**
     * zdtm's sk-unix-listen01: a client waiting to be accepted by a listener bound to a name relative to
     * the program's cwd was connected by that name from cryo's cwd, and the restore failed after the
     * killing dump ("cannot rebuild the unix sockets: open(waiting.sock): ENOENT"); it connects by the
     * file's whole path now, and still names the listener by its name.
     */
    @Test
    void aClientWaitingOnAListenerBoundToARelativeNameIsAcceptedAfterTheRestore() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("waiting"));
        assertPass(DumpRestore.workloadVerdict(tmp, "unixwaiting", dir.toString()));
    }

    /**
     * zdtm's transition/unix_sock (ns flavor) failed its restore after the killing dump ("bind(fd 14,
     * unix_sock.test): EINVAL"): connections accepted from a listener bound to a relative name and closed
     * since, each client in a child process. Each accepted end keeps the listener's name and its child as
     * SO_PEERCRED, each child names the server, and the file stays a closed listener's (ECONNREFUSED).
     */
    @Test
    void connectionsAcceptedFromAListenerClosedSinceKeepItsNameAndTheirPeers() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("srv"));
        assertPass(DumpRestore.workloadVerdict(tmp, "unixlistenerclosed", dir.toString()));
    }

    /**
     * zdtm's fifo_upon_unix_socket01 was refused ("bound to a relative path that is not its socket
     * file in the cwd"): the same with relative names, the program moved to / since. The kernel
     * names the directory the server's removed file and the sender's file were bound in.
     */
    @Test
    void relativeNamesBoundElsewhereThanTheCwdComeBack() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPass(DumpRestore.workloadVerdict(tmp, "dgramgone", dir.toString(), "relative"));
    }

    /**
     * The same in a container's own mount, pid and net namespaces (zdtm's fifo_upon_unix_socket01 in
     * its ns flavor): the dump refused it ("the directory it was bound in is not found"), reading the
     * kernel's file of the socket only from cryo's view; it now reads it as the task sees it, and
     * takes it when cryo's view reaches the same directory there.
     */
    @Test
    void relativeNamesBoundElsewhereThanTheCwdComeBackInAContainersNamespaces() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPass(NamespaceTest.verdictInNamespaces(tmp, "dgramgone",
                List.of("-m", "--pid", "--fork", "--mount-proc", "--net"), dir.toString(), "relative"));
    }

    /**
     * zdtm's sk-unix01 was refused ("its directory ... was removed too; not supported for a datagram
     * socket"), and a stream listener so bound failed its restore with ENOENT after the dump had
     * killed the tree: sockets whose files went with their directories, two datagram servers bound
     * one after the other to one name, each with its client and a queued datagram, a pair of one name.
     * Each keeps its name and clients; the directories are made for the binds and removed again.
     */
    @Test
    void socketsBoundInDirectoriesRemovedSinceKeepTheirNamesAndClients() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("rm"));
        assertPass(DumpRestore.workloadVerdict(tmp, "unixdirgone", dir.toString()));
    }

    /** zdtm's sockets02 found it: a pair end whose peer was closed with bytes unread failed the restore. */
    @Test
    void pairEndsWhosePeerClosedKeepTheirUnreadBytes() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "unixorphan"));
    }

    /** zdtm's sk-unix-unconn found it: a bound stream socket not yet listening failed the dump (EINVAL). */
    @Test
    void boundUnixSocketsNotYetListeningComeBackAndServeAfterwards() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        assertPass(DumpRestore.workloadVerdict(tmp, "unixidle", dir.toString()));
    }

    /**
     * zdtm's socket-tcp found it: leaving TCP repair mode clears a socket's SO_REUSEADDR in the
     * kernel, so a repaired connection came back without the option the program had set.
     */
    @Test
    void aRepairedConnectionKeepsItsSoReuseAddrOnBothEnds() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        try (DetachedProcess p = Workloads.program(tmp.resolve("tcpreuse.out"), "tcpreuse")) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * zdtm's socket-tcp-reuseport found it: two listeners sharing a port through SO_REUSEPORT, one
     * of which cleared the option since, could not both be bound again (EADDRINUSE) after the dump.
     */
    @Test
    void listenersSharingAPortComeBackEvenIfOneClearedSoReusePort() throws Exception {
        assertPass(DumpRestore.workloadVerdict(tmp, "tcpreuseport"));
    }

    @Test
    void withLeaveRunningTheRepairedConnectionKeepsItsSoReuseAddr() throws Exception {
        Assumptions.assumeTrue(NetworkLock.available(), "nf_tables is not available");
        try (DetachedProcess p = Workloads.program(tmp.resolve("tcpreuse.out"), "tcpreuse")) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", tmp.resolve("img").toString(), "--no-progress",
                    "-R", "--tcp-established");
            assertEquals(0, dump.code(), dump.toString());
            assertPass(Workloads.check(p));
        }
    }

    @Test
    void aNetlinkSocketComesBack() throws Exception {
        try (DetachedProcess p = Workloads.netlinkHolder(tmp)) {
            int fd = Integer.parseInt(Workloads.readyFd(p));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertEquals("NETLINK", Sys.getxattr("/proc/" + r.pid() + "/fd/" + fd, "system.sockprotoname"));
            } finally {
                Sys.kill(r.pid(), Signals.SIGKILL);
                Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    /**
     * A netlink answer and an inotify event the program reads only once the dump has seized it (keepalived,
     * BIRD, systemd-networkd read their notifications a moment after they come; here that moment is
     * SIGUSR1, sent as soon as a tracer shows in its status): the dump was refused ("netlink socket (protocol
     * 0) has unread messages; not supported"); now it lets the tree run until they are read and seizes it
     * again, and the restored program finds both queues empty and its socket answering.
     */
    @Test
    void aDumpLetsTheTreeReadItsNetlinkAnswerAndInotifyEventFirst() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("watched"));
        try (DetachedProcess p = Workloads.program(tmp.resolve("nlunread.out"), "nlunread", dir.toString())) {
            Path status = Path.of("/proc/" + p.pid() + "/status");
            Thread nudge = new Thread(() -> {
                long until = System.nanoTime() + 60_000_000_000L;
                try { // the program reads once it runs again after the first seize
                    while (Files.readString(status).contains("TracerPid:\t0\n") && System.nanoTime() < until) {
                        Thread.sleep(1);
                    }
                    Sys.kill(p.pid(), Signals.SIGUSR1);
                } catch (Exception e) {
                    // gone, or no seize: the dump's verdict says why
                }
            });
            nudge.start();
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            nudge.join();
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * A kernel notification that comes while the tree is frozen, after the dump has looked at its queues (here
     * an address added in the tree's net namespace when the dump's observers see it stopped; real40's lldpd met
     * its link-local address's duplicate detection ending): it was refused as "still unread after the dump let
     * the tree run 5 times", though the tree never ran. Now that dump is tried again, the program reads it first.
     */
    @Test
    void aNotificationComingWhileTheTreeIsFrozenIsReadBeforeTheDumpIsTriedAgain() throws Exception {
        String reader = "import socket\ns = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n"
                + "s.bind((0, 0x10))\nprint('ready', flush=True)\nwhile True:\n    s.recv(65536)\n"; // RTMGRP_IPV4_IFADDR
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("reader.out"), "unshare", "--net", "/bin/sh", "-c",
                "ip link set lo up && exec /usr/bin/python3 -c \"$0\"", reader)) {
            p.awaitOutput("ready", Duration.ofSeconds(30));
            int pid = p.pid().value();
            int[] added = {0};
            dev.cryo.api.TreeObservers.Observer addAddress = new dev.cryo.api.TreeObservers.Observer() {
                @Override
                public void frozenForDump(int root, List<Integer> pids) {
                    if (root == pid && added[0]++ == 0) {
                        try {
                            Process ip = new ProcessBuilder("nsenter", "--net=/proc/" + pid + "/ns/net", "ip", "addr", "add",
                                    "10.99.0.1/32", "dev", "lo").redirectErrorStream(true).start();
                            ip.getInputStream().readAllBytes();
                            assertEquals(0, ip.waitFor());
                        } catch (IOException | InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }
            };
            DetachedProcess r;
            try (AutoCloseable o = dev.cryo.api.TreeObservers.register(addAddress)) {
                r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            }
            try {
                assertEquals(2, added[0], "the first try failed on the address's notification, the second dumped");
                assertTrue(r.alive());
            } finally {
                Sys.kill(r.pid(), Signals.SIGKILL);
                Sys.wait4(r.pid().value(), 0);
            }
        }
    }

    /**
     * A program asking the kernel for its links in a tight loop (getifaddrs in a loop): the kernel makes
     * each answer while the request is sent and a seize takes effect at that send's end, so 2 of 8 dumps
     * were refused ("holds the kernel's answer to a request it sent ... still unread after the dump let
     * the tree run 5 times"). A thread seized so has the answer read out and is taken back to its send:
     * every dump goes through, and the program reads each answer once, its latest request's.
     */
    @Test
    void aProgramAskingForItsLinksInALoopIsDumpedWhereverTheSeizeLands() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("nlloop.out"), "nlloop")) {
            for (int i = 1; i <= 3; i++) {
                Cli d = Cli.run("dump", "-R", "-t", p.pid().toString(), "-D", tmp.resolve("img" + i).toString(),
                        "--no-progress");
                assertEquals(0, d.code(), "dump -R " + i + " of 3: " + d);
            }
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /**
     * real13's avahi: a netlink socket with SO_PASSCRED came back without it, and avahi ignored every
     * routing message after the restore ("No sender credentials received"). The restored socket must
     * still have it and hand the kernel's credentials with an answer.
     */
    @Test
    void aNetlinkSocketKeepsPassingCredentials() throws Exception {
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("nlcred.out"), "/usr/bin/python3", "-c",
                "import os,signal,socket,struct,sys,time\n"
                        + "s=socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n"
                        + "s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)\n"
                        + "s.bind((0, 0))\n"
                        + "def check(*a):\n"
                        + "    if s.getsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED) != 1:\n"
                        + "        print('FAIL: SO_PASSCRED is off', flush=True); os._exit(1)\n"
                        + "    # RTM_GETLINK dump request: nlmsghdr + ifinfomsg\n"
                        + "    s.send(struct.pack('=IHHII', 32, 18, 0x301, 1, 0) + bytes(16))\n"
                        + "    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12))\n"
                        + "    creds = [c for c in anc if c[0] == socket.SOL_SOCKET and c[1] == socket.SCM_CREDENTIALS]\n"
                        + "    print('PASS' if creds else 'FAIL: no credentials with the answer', flush=True); os._exit(0)\n"
                        + "signal.signal(signal.SIGUSR2, check)\n"
                        + "print('ready', s.fileno(), flush=True)\n"
                        + "end = time.time() + 600\n"
                        + "while time.time() < end: time.sleep(1)\n"))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    @Test
    void aSocketOfAnotherNetworkNamespaceIsRefusedAndTheTreeKeepsRunning() throws Exception {
        String ns = "cryo-sk-" + ProcessHandle.current().pid();
        Process add = new ProcessBuilder("ip", "netns", "add", ns).redirectErrorStream(true).start();
        Assumptions.assumeTrue(add.waitFor() == 0, "ip netns add failed: "
                + new String(add.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        try (DetachedProcess p = Workloads.sockets(tmp, "netns", ns)) {
            String fd = Workloads.readyFd(p);
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("pid " + p.pid() + " fd " + fd + ": socket")
                    && r.err().contains("another network namespace"), r.err());
            assertFalse(Files.exists(img.resolve("image.cryo")));
            char s = p.state();
            assertTrue(s == 'S' || s == 'R', "state " + s);
            assertTrue(Workloads.check(p).contains("PASS"));
        } finally {
            new ProcessBuilder("ip", "netns", "del", ns).start().waitFor();
        }
    }

    private static boolean mptcpAvailable() {
        try (dev.cryo.kernel.Fd f = dev.cryo.kernel.net.Sockets.socket(dev.cryo.kernel.net.SockAddr.AF_INET,
                dev.cryo.kernel.net.Sockets.SOCK_STREAM, dev.cryo.kernel.net.Sockets.IPPROTO_MPTCP)) {
            return true;
        } catch (RuntimeException e) {
            return false; // a kernel without MPTCP, or net.mptcp.enabled=0
        }
    }

    /**
     * A Go server (1.24 and later) listens with Multipath TCP by default; cryo refused its listener as
     * "TCP socket is not supported yet" (prometheus built with Go 1.24 would be). An MPTCP listener and
     * a bound MPTCP socket come back MPTCP, on their ports, with their options; the listener accepts a
     * plain TCP client and an MPTCP one.
     */
    @Test
    void anMptcpListenerComesBackAnMptcpListenerAcceptingTcpAndMptcpClients() throws Exception {
        Assumptions.assumeTrue(mptcpAvailable(), "this kernel makes no MPTCP sockets");
        try (DetachedProcess p = Workloads.program(tmp.resolve("mptcplisten.out"), "mptcplisten")) {
            Path img = tmp.resolve("img");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img, "--tcp-established");
            assertTrue(Cli.run("show", img.toString()).out().contains("\"MPTCP socket\""));
            assertPass(RestoreTest.checkAndReap(r));
        }
    }

    /** An MPTCP connection cannot be repaired (the kernel has no TCP_REPAIR for MPTCP): refused by name, the tree runs on. */
    @Test
    void anMptcpConnectionIsRefusedByNameAndTheTreeKeepsRunning() throws Exception {
        Assumptions.assumeTrue(mptcpAvailable(), "this kernel makes no MPTCP sockets");
        try (DetachedProcess p = Workloads.program(tmp.resolve("mptcplisten.out"), "mptcplisten", "connected")) {
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress", "--tcp-established");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().matches("(?s).*pid " + p.pid() + " fd \\d+: MPTCP connection 127\\.0\\.0\\.1:\\d+ -> "
                    + "127\\.0\\.0\\.1:\\d+: the kernel has no TCP repair for Multipath TCP sockets.*"), r.err());
            assertFalse(Files.exists(img.resolve("image.cryo")));
            char s = p.state();
            assertTrue(s == 'S' || s == 'R', "the tree keeps running after the refusal: state " + s);
            assertTrue(cryoTables().stream().noneMatch(l -> l.contains("cryo_" + p.pid() + "_")), cryoTables().toString());
            assertTrue(Workloads.check(p).contains("PASS"));
        }
    }

    /**
     * A kernel TLS connection (nginx with KTLS, OpenSSL's SSL_OP_ENABLE_KTLS) was repaired as plain
     * TCP: its key and record state stayed behind, and its next bytes would have gone out unencrypted.
     * Refused by name, the tree runs on. Skipped on a kernel without the tls ULP (as this box's).
     */
    @Test
    void aKernelTlsConnectionIsRefusedByNameAndTheTreeKeepsRunning() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("ktls.out"), "ktls")) {
            Assumptions.assumeFalse(Files.readString(tmp.resolve("ktls.out")).contains("no kernel TLS"),
                    "this kernel has no tls ULP (TCP_ULP \"tls\")");
            Path img = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress", "--tcp-established");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().matches("(?s).*pid " + p.pid() + " fd \\d+: TCP socket 127\\.0\\.0\\.1:\\d+ -> "
                    + "127\\.0\\.0\\.1:\\d+ runs the upper-layer protocol 'tls' \\(TCP_ULP: kernel TLS.*"), r.err());
            assertFalse(Files.exists(img.resolve("image.cryo")));
            char s = p.state();
            assertTrue(s == 'S' || s == 'R', "the tree keeps running after the refusal: state " + s);
            assertTrue(cryoTables().stream().noneMatch(l -> l.contains("cryo_" + p.pid() + "_")), cryoTables().toString());
            assertTrue(Workloads.check(p).contains("PASS"));
        }
    }

    /**
     * A sweep (sockoptsweep.c): every kind of socket cryo carries gets every option of its levels set
     * to a value a new socket does not have, where the kernel takes it, and reads them all back after
     * the restore; each one that changed is a line of the output.
     */
    @Test
    void everyOptionOfEveryKindOfSocketComesBackAsItWasSet() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("sweep.out"), "sockoptsweep")) {
            String out = RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established"));
            assertPass(out);
        }
    }

    /**
     * TCP-MD5 keys (tcpmd5.c: a BGP daemon's listener with a key for 127.0.0.0/8, a session whose
     * both ends are signed): no getsockopt reads them, sock_diag shows them to root; they come back
     * on the listener and on both ends of the connection.
     */
    @Test
    void tcpMd5KeysOfAListenerAndItsSessionComeBack() throws Exception {
        try (DetachedProcess p = Workloads.program(tmp.resolve("md5.out"), "tcpmd5")) {
            assertPass(RestoreTest.checkAndReap(DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established")));
        }
    }
}
