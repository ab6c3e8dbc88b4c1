package dev.cryo.it;

import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static dev.cryo.it.RealServersTest.connect;
import static dev.cryo.it.RealServersTest.freePort;
import static dev.cryo.it.RealServersTest.killTree;
import static dev.cryo.it.RealServersTest.treeOrEmpty;
import static dev.cryo.it.RealServersTest.treeSize;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Language runtimes nobody here wrote, serving HTTP to a kept-alive client outside the tree that
 * counts what it was answered: each answer of GET /inc is the server's counter, one more than the
 * last, across the dump (`--tcp-established`) and the restore, and after it for a new client too.
 * The runtimes' own machinery is what is on trial: a JVM's ZGC heap mapped three times with a
 * flight recording running, a JVM's hugetlb code cache (-XX:+UseLargePages), Node.js's cluster
 * (handles passed to its workers over IPC), Python's forkserver pool, GHC's runtime with its 1 TiB
 * reservation; interpreters' event loops and threads (Lua, LuaJIT, Tcl, Guile, SWI-Prolog, Racket);
 * a REPL, jshell, whose two JVMs talk over JDWP; Go's runtime in Hugo's live-reloading server; a
 * Jupyter kernel's ZeroMQ channels; PHP's built-in server whose workers share opcache's JIT buffer;
 * Go's CPU profiler's per-thread timers; Erlang's distribution with its epmd; vim in a pseudo-terminal
 * of script's; and a warm start of Python's multiprocessing manager, whose directory its original removed.
 * Each is skipped where its runtime is missing.
 */
@org.junit.jupiter.api.extension.ExtendWith(NetworkLocksLeft.class)
class RealRuntimesTest {
    @TempDir
    Path tmp;

    /** A kept-alive HTTP/1.1 client: each answer must be the counter one more than the last it saw. */
    private static final class CountingClient implements AutoCloseable {
        private final Socket s;
        private final String path;
        private long last = -1;

        CountingClient(int port, String path) throws Exception {
            this.s = connect(port);
            this.path = path;
        }

        /** Asks once; returns the body. */
        String get() throws IOException {
            return new String(RealServersTest.httpBody(s, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"),
                    StandardCharsets.US_ASCII);
        }

        /** Asks /inc's counter; fails unless it is the next one. */
        long next() throws IOException {
            long v = Long.parseLong(get().trim());
            if (last >= 0) {
                assertEquals(last + 1, v, "the counter after " + last);
            }
            return last = v;
        }

        /** A client that knows others asked in between. */
        void skipTo(long seen) {
            last = seen;
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    /** The JDK's HttpServer counting requests, with threads in hot JIT-compiled loops allocating. */
    private static final String JAVA_COUNTER = """
            import com.sun.net.httpserver.HttpServer;
            import java.net.InetSocketAddress;
            import java.util.concurrent.Executors;
            import java.util.concurrent.atomic.AtomicLong;
            public class HttpCounter {
                static final AtomicLong n = new AtomicLong();
                static volatile long sink;
                public static void main(String[] a) throws Exception {
                    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(a[0])), 16);
                    s.setExecutor(Executors.newFixedThreadPool(4));
                    s.createContext("/inc", x -> {
                        byte[] b = Long.toString(n.incrementAndGet()).getBytes();
                        x.sendResponseHeaders(200, b.length);
                        x.getResponseBody().write(b);
                        x.close();
                    });
                    s.start();
                    for (int t = 0; t < 2; t++) {
                        new Thread(() -> {
                            java.util.List<byte[]> keep = new java.util.ArrayList<>();
                            for (long i = 0; ; i++) {
                                keep.add(new byte[1024]);
                                if (keep.size() > 2000) keep.clear();
                                long r = 0;
                                for (int k = 0; k < 1000; k++) r += (i ^ k) * 31;
                                sink += r;
                                if (i % 1000 == 0) try { Thread.sleep(1); } catch (InterruptedException e) { return; }
                            }
                        }).start();
                    }
                    System.out.println("ready");
                }
            }
            """;

    /**
     * Starts the counter in a JVM with {@code flags}. The JDK's HttpServer closes a connection idle
     * longer than sun.net.httpserver.idleInterval (30 s) by its monotonic clock, which a dump and
     * restore moves on like any pause (CRIU's too): a kept-alive client then sees a reset, so the
     * interval is set past the test's length.
     */
    private DetachedProcess startJvm(int port, String... flags) throws Exception {
        Path src = tmp.resolve("HttpCounter.java");
        Files.writeString(src, JAVA_COUNTER);
        // compiled here (no javac JVM to start, and the target does not carry a compiler as the source launcher's would)
        assertEquals(0, javax.tools.ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", tmp.toString(),
                src.toString()), "javac HttpCounter.java");
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:-UsePerfData",
                "-Dsun.net.httpserver.idleInterval=3600"));
        cmd.addAll(List.of(flags));
        cmd.addAll(List.of("-cp", tmp.toString(), "HttpCounter", Integer.toString(port)));
        return Workloads.ready(DetachedProcess.start(tmp.resolve("jvm.out"), cmd.toArray(String[]::new)));
    }

    private static long linesOf(int pid, String what) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/maps")).stream().filter(l -> l.contains(what)).count();
    }

    /**
     * JDK 17's ZGC maps its heap, a memfd, three times (one view per colour of its pointers),
     * and a flight recording runs (its repository files, its sampler): the client goes on counting,
     * and the recording written when the restored JVM exits is whole.
     */
    @Test
    void aZgcJvmRecordingWithJfrCountsOnForItsKeptAliveClient() throws Exception {
        int port = freePort();
        Path rec = tmp.resolve("rec.jfr");
        try (DetachedProcess p = startJvm(port, "-XX:+UseZGC", "-Xmx64m",
                "-XX:StartFlightRecording=filename=" + rec + ",dumponexit=true");
             CountingClient client = new CountingClient(port, "/inc")) {
            assumeTrue(linesOf(p.pid().value(), "/memfd:java_heap") == 3, "this JDK's ZGC maps its heap three times");
            client.next();
            client.next();
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                assertEquals(3, linesOf(r.pid().value(), "/memfd:java_heap"), "the heap's three views");
                long seen = client.next();
                try (CountingClient other = new CountingClient(port, "/inc")) {
                    other.skipTo(seen);
                    other.next();
                }
                client.skipTo(seen + 1);
                client.next();
                Sys.kill(r.pid(), Signals.SIGTERM);
                Sys.wait4(r.pid().value(), 0);
                byte[] magic = new byte[4];
                try (InputStream in = Files.newInputStream(rec)) {
                    assertEquals(4, in.readNBytes(magic, 0, 4));
                }
                assertEquals("FLR\0", new String(magic, StandardCharsets.US_ASCII), "a flight recording");
                assertTrue(Files.size(rec) > 10_000, "the recording holds events: " + Files.size(rec) + " bytes");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * A JVM with -XX:+UseLargePages maps its code cache (JIT-compiled code, rwx) and GC tables in
     * private hugetlb memory; they come back in huge pages. The host's pool is grown for the test.
     */
    @Test
    void aJvmWithLargePagesComesBackInHugePagesAndCountsOn() throws Exception {
        int port = freePort();
        try (HugePages pool = HugePages.atLeastFree(48);
             DetachedProcess p = startJvm(port, "-XX:+UseLargePages", "-XX:ReservedCodeCacheSize=16m", "-Xmx32m",
                     "-Xms32m", "-XX:+UseSerialGC");
             CountingClient client = new CountingClient(port, "/inc")) {
            long huge = linesOf(p.pid().value(), "/anon_hugepage");
            assertTrue(huge > 0, "the JVM maps hugetlb memory:\n" + Files.readString(Path.of("/proc/" + p.pid() + "/maps")));
            client.next();
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                assertEquals(huge, linesOf(r.pid().value(), "/anon_hugepage"), "its hugetlb areas");
                for (int i = 0; i < 3; i++) {
                    client.next();
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * Node.js's cluster: the primary accepts and hands each connection to one of two workers over
     * their IPC channels (round robin), keeps the counter and answers the workers over IPC; each
     * worker runs two worker_threads. On SIGHUP the restored primary replaces its workers.
     */
    @Test
    void aNodeClusterCountsOnAndReplacesItsWorkers() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/node")), "Node.js (Debian package nodejs)");
        int port = freePort();
        Path app = tmp.resolve("cluster.js");
        Files.writeString(app, """
                const cluster = require('node:cluster'), http = require('node:http');
                const { Worker } = require('node:worker_threads');
                if (cluster.isPrimary) {
                  let n = 0, up = 0;
                  const fork = () => {
                    const w = cluster.fork();
                    w.on('message', m => { if (m === 'inc') w.send(++n); });
                    w.on('listening', () => { if (++up === 2) console.log('ready'); });
                  };
                  fork(); fork();
                  process.on('SIGHUP', () => {
                    for (const id in cluster.workers) cluster.workers[id].kill();
                    fork();
                  });
                } else {
                  const pool = [0, 1].map(() => new Worker(
                      "const {parentPort} = require('node:worker_threads');"
                      + "parentPort.on('message', x => { let r = 0; for (let i = 0; i < 20000; i++) r += (x * i) % 7;"
                      + " parentPort.postMessage(r); });", { eval: true }));
                  let rr = 0;
                  const waiting = [];
                  process.on('message', v => waiting.shift()(v));
                  const srv = http.createServer((req, res) => {
                    const w = pool[rr++ % 2];
                    w.once('message', () => { waiting.push(v => res.end(String(v))); process.send('inc'); });
                    w.postMessage(rr);
                  });
                  srv.keepAliveTimeout = 600000;
                  srv.listen(+process.argv[2], '127.0.0.1');
                }
                """);
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("node.out"), "/usr/bin/node",
                app.toString(), Integer.toString(port)));
             CountingClient client = new CountingClient(port, "/inc")) {
            client.next();
            client.next();
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                List<Integer> before = StateComparator.tree(r.pid().value());
                assertEquals(3, before.size(), "the primary and its two workers");
                long seen = client.next();
                client.next();
                Sys.kill(r.pid(), Signals.SIGHUP);
                DetachedProcess.awaitCondition(() -> {
                    List<Integer> now = treeOrEmpty(r.pid().value());
                    return now.size() == 2 && now.stream().filter(x -> !before.contains(x)).count() == 1;
                }, Duration.ofSeconds(60), "the restored primary to replace its workers with a new one");
                DetachedProcess.awaitCondition(() -> {
                    try (CountingClient other = new CountingClient(port, "/inc")) {
                        return Long.parseLong(other.get().trim()) > seen + 1;
                    } catch (Exception e) {
                        return false;
                    }
                }, Duration.ofSeconds(60), "the new worker to answer a new client");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * Python's multiprocessing with the forkserver start method: the forkserver (a unix socket
     * server forking pool workers on request, fds passed with SCM_RIGHTS), its resource tracker, a
     * pool of three and a shared_memory counter under a SemLock. Each worker ends after one task
     * ({@code maxtasksperchild=1}), so requests after the restore are served by workers the restored
     * forkserver forks. (Killing a worker instead hangs the pool whenever it is the idle worker that
     * holds the task queue's lock: multiprocessing's own trap, 1 run in 3.)
     */
    @Test
    void aPythonForkserverPoolCountsOnAndForksNewWorkers() throws Exception {
        int port = freePort();
        Path app = tmp.resolve("mp.py");
        Files.writeString(app, """
                import http.server, multiprocessing as mp, sys
                from multiprocessing import shared_memory
                def square(x):
                    return x * x
                if __name__ == "__main__":
                    mp.set_start_method("forkserver")
                    sm = shared_memory.SharedMemory(create=True, size=4096)
                    lock = mp.Lock()
                    pool = mp.Pool(3, maxtasksperchild=1)
                    class H(http.server.BaseHTTPRequestHandler):
                        protocol_version = "HTTP/1.1"
                        def do_GET(self):
                            assert pool.apply(square, (7,)) == 49
                            with lock:
                                v = int.from_bytes(sm.buf[0:8], "little") + 1
                                sm.buf[0:8] = v.to_bytes(8, "little")
                            b = str(v).encode()
                            self.send_response(200)
                            self.send_header("Content-Length", str(len(b)))
                            self.end_headers()
                            self.wfile.write(b)
                        def log_message(self, *a):
                            pass
                    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
                    print("ready", flush=True)
                    srv.serve_forever()
                """);
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("mp.out"),
                pythonInTmp(app.toString(), Integer.toString(port))));
             CountingClient client = new CountingClient(port, "/inc")) {
            client.next();
            DetachedProcess.awaitCondition(() -> treeSize(p.pid().value()) == 6, Duration.ofSeconds(60),
                    "the resource tracker, the forkserver and its three workers");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                List<Integer> restored = StateComparator.tree(r.pid().value());
                for (int i = 0; i < 5; i++) { // three restored workers, then forked ones
                    client.next();
                }
                DetachedProcess.awaitCondition(() -> {
                    List<Integer> now = treeOrEmpty(r.pid().value());
                    return now.size() == 6 && !restored.containsAll(now);
                }, Duration.ofSeconds(60), "workers forked by the restored forkserver");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * python3 with its temporary files in the test's directory: multiprocessing's forkserver and managers
     * listen in a /tmp/pymp-* directory of their own, which a killed interpreter leaves behind.
     */
    private String[] pythonInTmp(String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("env", "TMPDIR=" + tmp, "/usr/bin/python3"));
        cmd.addAll(List.of(args));
        return cmd.toArray(String[]::new);
    }

    /**
     * A warm start of Python with a multiprocessing manager (a server process listening on a unix
     * socket in its temporary directory, /tmp/pymp-*; each request thread connects to it by that
     * path): dumped with -R, the original then ends normally and its exit removes that directory.
     * The restore makes it again, so the restored interpreter's new threads reach their manager
     * (the bind failed: ENOENT).
     */
    @Test
    void aPythonWithAMultiprocessingManagerWarmStartsAfterItsOriginalRemovedTheManagersDirectory() throws Exception {
        int port = freePort();
        Path app = tmp.resolve("mgr.py");
        Files.writeString(app, """
                import http.server, multiprocessing as mp, signal, sys
                if __name__ == "__main__":
                    m = mp.Manager()
                    d, lock = m.dict(n=0), m.Lock()
                    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))  # a normal exit: the finalizers run
                    class H(http.server.BaseHTTPRequestHandler):
                        protocol_version = "HTTP/1.1"
                        def do_GET(self):
                            with lock:  # a new thread's proxies connect to the manager again, by its path
                                d["n"] += 1
                                b = str(d["n"]).encode()
                            self.send_response(200)
                            self.send_header("Content-Length", str(len(b)))
                            self.end_headers()
                            self.wfile.write(b)
                        def log_message(self, *a):
                            pass
                    print("ready", m.address, flush=True)
                    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
                """);
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("mgr.out"),
                pythonInTmp(app.toString(), Integer.toString(port))))) {
            p.awaitOutput("/listener-", Duration.ofSeconds(10));
            Path dir = Path.of(p.outputText().split("\\s+")[1]).getParent();
            long n;
            try (CountingClient client = new CountingClient(port, "/inc")) {
                client.next();
                n = client.next();
            }
            DumpRestore d = DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img"));
            List<Integer> original = StateComparator.tree(p.pid().value());
            Sys.kill(p.pid(), Signals.SIGTERM);
            DetachedProcess.awaitCondition(() -> original.stream().noneMatch(x -> Files.exists(Path.of("/proc/" + x))),
                    Duration.ofSeconds(30), "the original and its manager to exit");
            assertFalse(Files.exists(dir), dir + ", removed by the original's exit");
            DetachedProcess r = d.restoreDetached(tmp.resolve("mgr.out"));
            try (CountingClient client = new CountingClient(port, "/inc")) {
                client.skipTo(n);
                client.next();
                assertTrue(Files.exists(dir), dir + " made again");
            } finally {
                killTree(r.pid().value()); // killed, the restored one leaves its directory, in tmp
            }
        }
    }

    /**
     * GHC's runtime (hledger-web, a Haskell web application: warp on the threaded RTS) reserves
     * 1 TiB of address space for its heap and ticks with a timerfd thread; a kept-alive client's
     * requests are answered across the restore, and the journal is still served to a new one.
     */
    @Test
    void aHaskellWebAppServesItsKeptAliveClient() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/hledger-web")), "Debian package hledger-web");
        int port = freePort();
        Path journal = tmp.resolve("j.journal");
        Files.writeString(journal, "2026-01-01 coffee\n  expenses:food  3 EUR\n  assets:cash\n");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("hledger.out"), "/usr/bin/hledger-web", "-f",
                journal.toString(), "--serve", "--host", "127.0.0.1", "--port", Integer.toString(port));
             CountingClient client = new CountingClient(port, "/journal")) {
            assertTrue(client.get().contains("expenses:food"));
            long vmKb = Files.readAllLines(Path.of("/proc/" + p.pid() + "/status")).stream()
                    .filter(l -> l.startsWith("VmSize:")).mapToLong(l -> Long.parseLong(l.split("\\s+")[1])).sum();
            assertTrue(vmKb > 1L << 30, "GHC's heap reservation: VmSize " + vmKb + " kB");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                for (int i = 0; i < 3; i++) {
                    assertTrue(client.get().contains("expenses:food"));
                }
                try (CountingClient other = new CountingClient(port, "/journal")) {
                    assertTrue(other.get().contains("assets:cash"));
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * Interpreters serving /inc from a script of src/test/scripts (inc-server.*), each with its own
     * machinery: Lua 5.4 and LuaJIT (luasocket's select loop, a coroutine per client, LuaJIT's
     * machine code), Tcl's event loop with a timer, Guile 3 (Boehm's collector stopping its threads
     * with signals), SWI-Prolog's threaded HTTP server (the counter in its clause database), Racket
     * CS (green threads, a place: an OS thread with a heap of its own), SBCL (a thread per client, its collector
     * stopping the other threads with a signal, its dynamic space reserved up front). The kept-alive client counts
     * on across the restore, and a new client after it.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
            "Lua 5.4|/usr/bin/lua5.4|inc-server.lua",
            "LuaJIT|/usr/bin/luajit|inc-server.lua",
            "Tcl|/usr/bin/tclsh|inc-server.tcl",
            "Guile 3|/usr/bin/guile --no-auto-compile|inc-server.scm",
            "SWI-Prolog|/usr/bin/swipl|inc-server.pl",
            "Racket CS|/usr/bin/racket|inc-server.rkt",
            "SBCL|/usr/bin/sbcl --script|inc-server.lisp"})
    void anInterpreterCountsOnForItsKeptAliveClient(String name, String command, String script) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(command.split(" ")));
        assumeTrue(Files.isExecutable(Path.of(cmd.get(0))), name + " (" + cmd.get(0) + ", see .ci/run)");
        int port = freePort();
        cmd.add(Workloads.script(tmp, script).toString());
        cmd.add(Integer.toString(port));
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("server.out"),
                cmd.toArray(String[]::new)));
             CountingClient client = new CountingClient(port, "/inc")) {
            client.next();
            client.next();
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                client.next();
                long seen = client.next();
                try (CountingClient other = new CountingClient(port, "/inc")) {
                    other.skipTo(seen);
                    other.next();
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * jshell, a REPL of two JVMs (perf data on, as by default): the one reading snippets compiles
     * them and loads them over JDWP, a TCP connection on loopback, into the agent JVM it started,
     * which runs them. Fed through a FIFO the test holds; a variable and a method defined and
     * JIT-warmed before the dump are used by a snippet compiled after the restore. The image is then
     * restored a second time (a warmed-up REPL started again): the connection joins two tasks of the
     * tree, no peer outside went on with the first restored tree, so the first restore's lifting of
     * the dump's network lock does not refuse it (it did: "its peers went on with that restored tree").
     */
    @Test
    void aJshellSessionKeepsItsVariablesAndMethods() throws Exception {
        Path jshell = Path.of(System.getProperty("java.home"), "bin", "jshell");
        assumeTrue(Files.isExecutable(jshell), "the JDK's jshell");
        Path fifo = tmp.resolve("in");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor(), "mkfifo");
        Path out = tmp.resolve("jshell.out");
        Path img = tmp.resolve("img");
        String after = "after n=43 g=3040";
        // appended to, or the second restore would find the file the first restored jshell wrote changed
        try (DetachedProcess p = DetachedProcess.start(out, "sh", "-c", "exec \"$0\" -q -J-Xmx128m -R-Xmx64m <\"$1\" >>\"$2\" 2>&1",
                jshell.toString(), fifo.toString(), out.toString());
             java.io.Writer in = Files.newBufferedWriter(fifo)) {
            in.write("int n = 41; n++;\n"
                    + "long f(int k) { long s = 0; for (int i = 0; i < k; i++) s += i % 7; return s; }\n"
                    + "for (int i = 0; i < 2000; i++) f(100000);\n"
                    + "System.out.println(\"before n=\" + n + \" f=\" + f(1000));\n");
            in.flush();
            p.awaitOutput("before n=42 f=2997", Duration.ofSeconds(60));
            DetachedProcess.awaitCondition(() -> treeSize(p.pid().value()) == 2, Duration.ofSeconds(10),
                    "jshell and its agent JVM");
            String snippet = "n++; long g() { return f(1000) + n; }\nSystem.out.println(\"after n=\" + n + \" g=\" + g());\n";
            DetachedProcess r = DumpRestore.dumpAndRestore(p, img, "--tcp-established");
            try {
                in.write(snippet);
                in.flush();
                r.awaitOutput(after, Duration.ofSeconds(60));
            } finally {
                killTree(r.pid().value());
            }
            Cli again = Cli.run("restore", "-D", img.toString(), "-d", "--no-progress");
            assertEquals(0, again.code(), again.toString());
            try {
                in.write(snippet);
                in.flush();
                awaitText(out, t -> t.split(after, -1).length == 3, "the jshell restored again to answer as the first did");
            } finally {
                killTree(p.pid().value());
            }
        }
    }

    /**
     * Hugo (Go, from Debian) serving a site from memory with live reload: its fsnotify watch
     * (inotify) on the site's directories, a page client kept alive and a live-reload WebSocket
     * client, both outside the tree. A page written after the restore is seen, the site rebuilt,
     * a reload pushed on the kept WebSocket, and the kept client gets the new page list.
     */
    @Test
    void aHugoServerRebuildsAndPushesAReloadForAPageWrittenAfterTheRestore() throws Exception {
        Path hugo = Path.of("/usr/bin/hugo");
        assumeTrue(Files.isExecutable(hugo), "Debian package hugo");
        Path site = tmp.resolve("site");
        Files.createDirectories(site.resolve("content"));
        Files.createDirectories(site.resolve("layouts/_default"));
        Files.writeString(site.resolve("config.toml"), "baseURL = \"http://127.0.0.1/\"\ntitle = \"t\"\n"
                + "disableKinds = [\"taxonomy\", \"term\", \"RSS\", \"sitemap\"]\n");
        String layout = "<html><body>pages:{{ range .Site.RegularPages }}{{ .Title }};{{ end }}</body></html>\n";
        Files.writeString(site.resolve("layouts/_default/single.html"), layout);
        Files.writeString(site.resolve("layouts/_default/list.html"), layout);
        Files.writeString(site.resolve("content/one.md"), "---\ntitle: one\n---\nfirst\n");
        int port = freePort();
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("hugo.out"), hugo.toString(), "server", "--bind",
                "127.0.0.1", "--port", Integer.toString(port), "--disableFastRender", "-s", site.toString())) {
            p.awaitOutput("Web Server is available", Duration.ofSeconds(60));
            try (CountingClient page = new CountingClient(port, "/"); Socket ws = connect(port)) {
                assertTrue(page.get().contains("pages:one;<"), "the site's one page");
                ws.getOutputStream().write(("GET /livereload HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n"
                        + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                ws.setSoTimeout(60_000);
                InputStream in = ws.getInputStream();
                StringBuilder head = new StringBuilder();
                while (!head.toString().endsWith("\r\n\r\n")) {
                    int b = in.read();
                    assertTrue(b >= 0, "the live-reload upgrade: " + head);
                    head.append((char) b);
                }
                assertTrue(head.toString().startsWith("HTTP/1.1 101"), head.toString());
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                try {
                    // moved in whole: a file created, then written, can rebuild the site in between (the
                    // reload then pushed for a page with no title yet: once seen)
                    Files.move(Files.writeString(site.resolve("two.md.new"), "---\ntitle: two\n---\nsecond\n"),
                            site.resolve("content/two.md"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    int op = in.read();
                    int len = in.read();
                    assertEquals(0x81, op, "a text frame");
                    assertTrue(len < 126, "a short frame: " + len);
                    String msg = new String(in.readNBytes(len), StandardCharsets.UTF_8);
                    assertTrue(msg.contains("\"command\":\"reload\""), msg);
                    assertTrue(page.get().contains("pages:one;two;<"), "the rebuilt site");
                } finally {
                    killTree(r.pid().value());
                }
            }
        }
    }

    /**
     * A Jupyter kernel (ipykernel: ZeroMQ's sockets and I/O threads, its heartbeat, control and
     * I/O pub threads) with a client outside the tree on its five TCP channels: a variable set and
     * a thread started in a cell before the dump are there in a cell after the restore, the thread
     * still running.
     */
    @Test
    void aJupyterKernelKeepsItsNamespaceForItsClient() throws Exception {
        assumeTrue(new ProcessBuilder("/usr/bin/python3", "-c", "import ipykernel, jupyter_client").start().waitFor() == 0,
                "Debian packages python3-ipykernel and python3-jupyter-client");
        Path conn = tmp.resolve("kernel.json");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("kernel.out"), "env", "IPYTHONDIR=" + tmp.resolve("ipython"),
                "JUPYTER_RUNTIME_DIR=" + tmp, "/usr/bin/python3", "-m", "ipykernel_launcher", "-f", conn.toString())) {
            p.awaitOutput("--existing", Duration.ofSeconds(60));
            Process client = new ProcessBuilder("/usr/bin/python3", Workloads.script(tmp, "jupyter-client.py").toString(),
                    conn.toString()).redirectError(tmp.resolve("client.err").toFile()).start();
            try (java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(
                    client.getInputStream(), StandardCharsets.UTF_8));
                 java.io.Writer in = new java.io.OutputStreamWriter(client.getOutputStream(), StandardCharsets.UTF_8)) {
                assertEquals("ready", out.readLine(), "the client: " + Files.readString(tmp.resolve("client.err")));
                in.write("import threading, time\\nx = 41\\nticks = [0]\\ndef tick():\\n    while True:\\n"
                        + "        ticks[0] += 1\\n        time.sleep(0.01)\\n"
                        + "threading.Thread(target=tick, daemon=True).start()\\nprint(x)\n");
                in.flush();
                assertEquals("ok 41", out.readLine());
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                try {
                    in.write("x += 1\\nt0 = ticks[0]\\ntime.sleep(0.3)\\nprint(x, ticks[0] > t0)\n");
                    in.flush();
                    assertEquals("ok 42 True", out.readLine(), "the client: " + Files.readString(tmp.resolve("client.err")));
                } finally {
                    killTree(r.pid().value());
                }
            } finally {
                client.destroyForcibly().waitFor();
            }
        }
    }

    /**
     * PHP's built-in server with two workers (PHP_CLI_SERVER_WORKERS: a master and two forked
     * workers accepting on one listener) and opcache's tracing JIT, whose code buffer is one shared
     * anonymous mapping, executable, that the three processes share: still one after the restore,
     * the JIT on and the counter going on (the server closes each connection after its answer).
     */
    @Test
    void aPhpServerWithItsWorkersAndTheirSharedJitBufferCountsOn() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/php")), "Debian package php-cli");
        int port = freePort();
        Path router = Workloads.script(tmp, "inc-server.php");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("php.out"), "env", "PHP_CLI_SERVER_WORKERS=2",
                "/usr/bin/php", "-d", "opcache.enable_cli=1", "-d", "opcache.jit=tracing", "-d", "opcache.jit_buffer_size=16M",
                "-S", "127.0.0.1:" + port, router.toString())) {
            DetachedProcess.awaitCondition(() -> treeSize(p.pid().value()) == 3, Duration.ofSeconds(30), "php -S and its two workers");
            long last = 0;
            for (int i = 0; i < 2; i++) {
                last = nextOnANewConnection(port, last);
            }
            try (CountingClient c = new CountingClient(port, "/jit")) {
                assertEquals("on", c.get(), "opcache's JIT");
            }
            String jit = jitBuffers(p.pid().value());
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertEquals(jit.replaceAll("[0-9a-f]+:[0-9a-f]+ \\d+", "INODE"), jitBuffers(r.pid().value())
                        .replaceAll("[0-9a-f]+:[0-9a-f]+ \\d+", "INODE"), "one JIT buffer, in the three");
                for (int i = 0; i < 3; i++) {
                    last = nextOnANewConnection(port, last);
                }
                try (CountingClient c = new CountingClient(port, "/jit")) {
                    assertEquals("on", c.get(), "opcache's JIT");
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /** Waits up to 60 s for the text of {@code file} to satisfy {@code test} (a file not there yet does not). */
    private static void awaitText(Path file, java.util.function.Predicate<String> test, String what) throws Exception {
        DetachedProcess.awaitCondition(() -> {
            try {
                return test.test(Files.readString(file));
            } catch (IOException e) {
                return false;
            }
        }, Duration.ofSeconds(60), what);
    }

    /** Asks /inc once on a connection of its own; fails unless the answer is {@code last} + 1. */
    private static long nextOnANewConnection(int port, long last) throws Exception {
        try (CountingClient c = new CountingClient(port, "/inc")) {
            c.skipTo(last);
            return c.next();
        }
    }

    /** The executable shared mappings of /dev/zero of each process of the tree of {@code root}: its device and inode with each. */
    private static String jitBuffers(int root) throws IOException {
        StringBuilder out = new StringBuilder();
        java.util.TreeSet<String> inodes = new java.util.TreeSet<>();
        for (int pid : StateComparator.tree(root)) {
            long n = Files.readAllLines(Path.of("/proc/" + pid + "/maps")).stream()
                    .filter(l -> l.contains("r-xs") && l.contains("/dev/zero"))
                    .peek(l -> inodes.add(l.trim().split("\\s+")[3] + " " + l.trim().split("\\s+")[4])).count();
            out.append(n).append(' ');
        }
        assertEquals(1, inodes.size(), "one JIT buffer shared by the tree: " + inodes);
        return out + inodes.first();
    }

    /**
     * vim in a terminal: `script` holds the master of a pseudo-terminal whose slave is the
     * controlling terminal of vim (in a session of its own), and passes it the keys the test types
     * into a FIFO; vim keeps its swap file open. A line typed before the dump and one typed after
     * the restore are both in the file vim writes on :wq.
     */
    @Test
    void vimInAScriptTerminalEditsOnAfterTheRestore() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/vim")) && Files.isExecutable(Path.of("/usr/bin/script")),
                "vim and script (Debian packages vim, bsdutils)");
        Path dir = Files.createDirectories(tmp.resolve("edit"));
        Path file = dir.resolve("f.txt");
        Files.writeString(file, "line one\n");
        Path fifo = tmp.resolve("keys");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor(), "mkfifo");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("script.out"), "sh", "-c",
                "cd \"$1\" && export TERM=xterm LANG=C.UTF-8 && exec /usr/bin/script -qfc '/usr/bin/vim -N -u NONE -i NONE f.txt' /dev/null <\"$0\"",
                fifo.toString(), dir.toString());
             java.io.Writer keys = Files.newBufferedWriter(fifo)) {
            DetachedProcess.awaitCondition(() -> Files.exists(dir.resolve(".f.txt.swp")), Duration.ofSeconds(30),
                    "vim's swap file");
            keys.write("oline two\033");
            keys.flush();
            p.awaitOutput("line two", Duration.ofSeconds(30));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                keys.write("oline three\033:wq\r");
                keys.flush();
                awaitText(file, "line one\nline two\nline three\n"::equals, "vim to write the three lines");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * Go's CPU profiler mid-profile (prometheus-node-exporter, Go 1.19, its /debug/pprof/profile): the
     * runtime arms ITIMER_PROF and a POSIX timer on each of its threads' CPU clocks that signals that
     * very thread (SIGEV_THREAD_ID, SIGPROF); the state comparator holds them to the dumped ones. The
     * profile asked before the dump, on a connection kept across, is answered after the restore.
     */
    @Test
    void aGoCpuProfileAskedBeforeTheDumpIsAnsweredAfterTheRestore() throws Exception {
        Path exporter = Path.of("/usr/bin/prometheus-node-exporter");
        assumeTrue(Files.isExecutable(exporter), "Debian package prometheus-node-exporter");
        int port = freePort();
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("exporter.out"), exporter.toString(),
                "--web.listen-address=127.0.0.1:" + port, "--collector.disable-defaults", "--collector.cpu");
             Socket profile = connect(port)) {
            profile.getOutputStream().write("GET /debug/pprof/profile?seconds=8 HTTP/1.1\r\nHost: x\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            Path timers = Path.of("/proc/" + p.pid() + "/timers");
            awaitText(timers, t -> t.contains("signal: 27/"), "the profiler's timers");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                profile.setSoTimeout(60_000);
                RealServersTest.HttpResponse answer = RealServersTest.exchange(profile, "");
                assertTrue(answer.head().startsWith("HTTP/1.1 200"), answer.head());
                assertTrue(answer.body().length > 20 && (answer.body()[0] & 0xff) == 0x1f && (answer.body()[1] & 0xff) == 0x8b,
                        "a gzipped profile: " + answer.body().length + " bytes");
                try (CountingClient other = new CountingClient(port, "/debug/pprof/cmdline")) {
                    assertTrue(other.get().contains("--collector.cpu"), "a new client");
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * Erlang/OTP's distribution: node a with its own epmd in the tree (a child of its BEAM, on a port
     * of the test's: ERL_EPMD_PORT) and a registered counter process; node b outside the tree,
     * connected to a and registered with that epmd, asks the counter every 0.3 s. Across the dump and
     * the restore b sees no nodedown and every answer once, in order, and epmd still knows both names.
     */
    @Test
    void anErlangNodeWithItsEpmdAnswersADistributedClientOn() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/erl")) && Files.isExecutable(Path.of("/usr/bin/epmd")),
                "Debian package erlang-base");
        String epmd = Integer.toString(freePort());
        String counter = "register(counter, spawn(fun() -> Loop = fun L(N) -> receive {inc, F} -> F ! {n, N + 1},"
                + " L(N + 1) end end, Loop(0) end)), io:format(\"ready~n\"), receive after infinity -> ok end.";
        String client = "[_, H] = string:split(atom_to_list(node()), \"@\"), A = list_to_atom(\"a@\" ++ H),"
                + " true = net_kernel:connect_node(A), monitor_node(A, true), Loop = fun L() -> {counter, A} ! {inc, self()},"
                + " receive {n, N} -> io:format(\"~p~n\", [N]); {nodedown, _} -> io:format(\"nodedown~n\")"
                + " after 20000 -> io:format(\"timeout~n\") end, timer:sleep(300), L() end, Loop().";
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("a.out"), "env", "ERL_EPMD_PORT=" + epmd,
                "sh", "-c", "epmd -port \"$0\" & until epmd -port \"$0\" -names >/dev/null 2>&1; do sleep 0.1; done;"
                        + " exec erl -noshell -sname a -setcookie cryo -start_epmd false -eval \"$1\"", epmd, counter))) {
            ProcessBuilder b = new ProcessBuilder("erl", "-noshell", "-sname", "b", "-setcookie", "cryo", "-start_epmd",
                    "false", "-eval", client).redirectErrorStream(true);
            b.environment().put("ERL_EPMD_PORT", epmd);
            Process node = b.start();
            DetachedProcess r = null;
            try (java.io.BufferedReader answers = new java.io.BufferedReader(new java.io.InputStreamReader(
                    node.getInputStream(), StandardCharsets.UTF_8))) {
                for (int i = 1; i <= 3; i++) {
                    assertEquals(Integer.toString(i), answers.readLine(), "node b's answer " + i);
                }
                r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                for (int i = 4; i <= 8; i++) { // one was asked while the tree was dumped
                    assertEquals(Integer.toString(i), answers.readLine(), "node b's answer " + i);
                }
                Process names = new ProcessBuilder("epmd", "-port", epmd, "-names").redirectErrorStream(true).start();
                String known = new String(names.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                names.waitFor();
                assertTrue(known.contains("name a at port") && known.contains("name b at port"), known);
            } finally {
                node.destroyForcibly().waitFor();
                if (r != null) {
                    killTree(r.pid().value());
                }
            }
        }
    }
    /**
     * An Open MPI job, mpirun and two ranks of mpiring.c (each rank polls its shared-memory transport's segments,
     * mapped shared by both, and its PMIx store's files; mpirun hands each rank a pty for its output and holds TCP
     * connections to them on loopback): the token, a 2 MiB message and an allreduce, each checked every step, go on
     * right across a killing dump and restore. Its files go to the test's directory (TMPDIR, the transport's backing
     * directory), and a SIGTERM to the restored mpirun ends the job as it would have.
     */
    @Test
    void anOpenMpiJobGoesOnWithItsRanksSharedMemoryAcrossTheRestore() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/mpirun")) && Files.isExecutable(Path.of("/usr/bin/mpicc")),
                "Debian packages openmpi-bin and libopenmpi-dev");
        List<String> flags = new java.util.ArrayList<>();
        for (String part : List.of("--showme:compile", "--showme:link")) {
            flags.addAll(List.of(RealServersTest.succeeds(List.of("/usr/bin/mpicc", part)).trim().split("\\s+")));
        }
        Path ring = dev.cryo.kernel.testing.TestPrograms.compile("/c/mpiring.c", flags.toArray(String[]::new));
        Path out = tmp.resolve("ring.out");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(out, "/usr/bin/env", "TMPDIR=" + tmp,
                "/usr/bin/mpirun", "--allow-run-as-root", "--oversubscribe", "--mca", "btl_vader_backing_directory",
                tmp.toString(), "-np", "2", ring.toString()))) {
            DetachedProcess.awaitCondition(() -> steps(out) >= 20, Duration.ofSeconds(60), "the job's first steps");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                long before = steps(out);
                DetachedProcess.awaitCondition(() -> steps(out) >= before + 40, Duration.ofSeconds(60),
                        "the restored job to go on");
                assertFalse(Files.readString(out).contains("FAIL"), Files.readString(out));
                List<Integer> tasks = StateComparator.tree(r.pid().value());
                Sys.kill(r.pid(), Signals.SIGTERM);
                DetachedProcess.awaitProbe(() -> Files.readString(Path.of("/proc/" + r.pid() + "/status"))
                        .contains("State:\tZ"), Duration.ofSeconds(30), "mpirun to end the job");
                Sys.wait4(r.pid().value(), 0);
                for (int t : tasks) { // mpirun may exit before a rank it signalled has (at load: a moment later)
                    Path status = Path.of("/proc/" + t + "/status");
                    DetachedProcess.awaitCondition(() -> {
                        try {
                            return Files.readString(status).contains("State:\tZ");
                        } catch (IOException gone) {
                            return true;
                        }
                    }, Duration.ofSeconds(30), "rank " + t + " to end with its job");
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /** The last step rank 0 printed ("it N"), 0 before the first. */
    private static long steps(Path out) {
        try {
            return Files.readAllLines(out).stream().filter(l -> l.startsWith("it ")).mapToLong(l -> Long.parseLong(
                    l.substring(3).trim())).max().orElse(0);
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }
}
