package dev.cryo.it;

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
import static dev.cryo.it.RealServersTest.succeeds;
import static dev.cryo.it.RealServersTest.textOf;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * More daemons nobody here wrote, from Debian's packages (`.ci/run` installs them), each holding a
 * kind of state the servers of {@link RealServersTest} do not: checkpointed with a client attached,
 * restored through {@link DumpRestore} (so the state comparator holds them), then used again by the
 * kept client and by new ones. Skipped where the package is missing.
 */
@org.junit.jupiter.api.extension.ExtendWith(NetworkLocksLeft.class)
class RealDaemonsTest {
    @TempDir
    Path tmp;

    /** Reads from {@code s} until what came since the call contains {@code text}; returns it. */
    static String readUntil(Socket s, String text) throws IOException {
        InputStream in = s.getInputStream();
        StringBuilder b = new StringBuilder();
        while (!b.toString().contains(text)) {
            int c = in.read();
            if (c < 0) {
                fail("the kept connection closed; read so far: " + b);
            }
            b.append((char) c);
        }
        return b.toString();
    }

    private static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
    }

    /**
     * rsyslog 8 (8 threads: its main queue's workers, imuxsock's and imtcp's inputs) with a sender kept on its
     * TCP input and its own unix datagram socket: after the restore the kept sender's line and a `logger`'s
     * datagram both reach its output file; dumped again and restored again, the same.
     */
    @Test
    void rsyslogTakesLinesFromItsKeptTcpSenderAndItsUnixSocketAcrossTwoRestores() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/rsyslogd")), "Debian package rsyslog");
        int port = freePort();
        Path work = Files.createDirectories(tmp.resolve("work")), log = tmp.resolve("out.log"), sock = tmp.resolve("log.sock");
        Files.writeString(tmp.resolve("rsyslog.conf"), "global(workDirectory=\"" + work + "\")\n"
                + "module(load=\"imuxsock\" SysSock.Use=\"off\")\ninput(type=\"imuxsock\" Socket=\"" + sock + "\")\n"
                + "module(load=\"imtcp\")\ninput(type=\"imtcp\" port=\"" + port + "\" address=\"127.0.0.1\")\n"
                + "main_queue(queue.type=\"LinkedList\" queue.filename=\"mainq\" queue.saveOnShutdown=\"on\")\n"
                + "*.* action(type=\"omfile\" file=\"" + log + "\")\n");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("rsyslog.out"), "/usr/sbin/rsyslogd", "-n", "-f",
                tmp.resolve("rsyslog.conf").toString(), "-i", tmp.resolve("rsyslog.pid").toString());
             Socket sender = connect(port)) {
            java.util.function.BiConsumer<String, String> logged = (line, what) -> {
                try {
                    send(sender, "<13>cryo: tcp-" + line + "\n");
                    succeeds(List.of("logger", "-u", sock.toString(), "unix-" + line));
                    DetachedProcess.awaitCondition(() -> textOf(log).contains("tcp-" + line) && textOf(log).contains("unix-" + line),
                            Duration.ofSeconds(30), what);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
            logged.accept("one", "rsyslog to log both lines");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                logged.accept("two", "the restored rsyslog to log the kept sender's line and a datagram");
                DetachedProcess r2 = DumpRestore.dump(r.pid().value(), tmp.resolve("img2"), "--tcp-established")
                        .restoreDetached(r.output());
                try {
                    logged.accept("three", "the twice restored rsyslog to log both");
                } finally {
                    killTree(r2.pid().value());
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * Unbound 1.17 with two threads, each with its own UDP and TCP socket in one SO_REUSEPORT group on the same
     * port, a DNS-over-TCP client kept and its remote control on a unix socket: after the restore the kept client is
     * answered, a record added by unbound-control is served, and queries from many source ports are answered by
     * both threads (the kernel still spreads them over the group's two sockets).
     */
    @Test
    void unboundsTwoThreadsAnswerOnTheirReuseportSocketsAndItsKeptClient() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/unbound")), "Debian package unbound");
        int port = freePort();
        Path conf = tmp.resolve("unbound.conf");
        Files.writeString(conf, "server:\n interface: 127.0.0.1@" + port + "\n num-threads: 2\n so-reuseport: yes\n"
                + " do-daemonize: no\n username: \"\"\n chroot: \"\"\n directory: \"" + tmp + "\"\n pidfile: \"\"\n"
                + " use-syslog: no\n do-ip6: no\n tcp-idle-timeout: 300000\n"
                + " local-zone: \"cryo.test.\" static\n local-data: \"a.cryo.test. IN A 10.1.2.3\"\n"
                + "remote-control:\n control-enable: yes\n control-interface: " + tmp.resolve("ctl.sock")
                + "\n control-use-cert: no\n");
        List<String> control = List.of("unbound-control", "-c", conf.toString());
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("unbound.out"), "/usr/sbin/unbound", "-d", "-c",
                conf.toString());
             Socket client = connect(port)) {
            assertEquals("10.1.2.3", RealServersTest.dnsOverTcp(client, "a.cryo.test", 1));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                assertEquals("10.1.2.3", RealServersTest.dnsOverTcp(client, "a.cryo.test", 2), "the kept client");
                succeeds(concat(control, "local_data", "b.cryo.test. IN A 10.4.5.6"));
                String before = succeeds(concat(control, "stats_noreset"));
                for (int i = 0; i < 24; i++) {
                    assertEquals("10.4.5.6", RealServersTest.dnsOverUdp(port, "b.cryo.test"));
                }
                String after = succeeds(concat(control, "stats_noreset"));
                for (String thread : List.of("thread0", "thread1")) {
                    assertTrue(queries(after, thread) > queries(before, thread), thread + " answered none of 24 queries:\n" + after);
                }
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    private static List<String> concat(List<String> command, String... more) {
        List<String> all = new java.util.ArrayList<>(command);
        all.addAll(List.of(more));
        return all;
    }

    private static long queries(String stats, String thread) {
        return stats.lines().filter(l -> l.startsWith(thread + ".num.queries=")).mapToLong(l -> Long.parseLong(l.split("=")[1]))
                .findFirst().orElseThrow(() -> new AssertionError("no " + thread + ".num.queries in\n" + stats));
    }

    /**
     * NATS 2.9 (Go) with a subscriber kept on its TCP connection and a JetStream stream in its file store holding
     * one message: after the restore a message published by a new client reaches the kept subscriber, and the
     * stream still holds its message and takes another.
     */
    @Test
    void natsDeliversToItsKeptSubscriberAndKeepsItsStream() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/nats-server")), "Debian package nats-server");
        int port = freePort();
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("nats.out"), "/usr/sbin/nats-server", "-a", "127.0.0.1",
                "-p", Integer.toString(port), "-js", "-sd", tmp.resolve("js").toString());
             Socket sub = connect(port)) {
            readUntil(sub, "\r\n"); // INFO
            send(sub, "CONNECT {\"verbose\":false}\r\nSUB cryo.> 1\r\nSUB _INBOX.cryo 2\r\nPING\r\n");
            readUntil(sub, "PONG\r\n");
            assertTrue(request(sub, "$JS.API.STREAM.CREATE.S", "{\"name\":\"S\",\"subjects\":[\"js.>\"],\"storage\":\"file\"}")
                    .contains("\"created\""));
            assertTrue(request(sub, "js.a", "stored").contains("\"seq\":1"));
            publish(port, "cryo.one", "before");
            assertTrue(readUntil(sub, "before\r\n").contains("MSG cryo.one 1 6\r\n"));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                natsGoesOn(port, sub, "two", 2);
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    private static void natsGoesOn(int port, Socket sub, String text, int stored) throws Exception {
        publish(port, "cryo." + text, text);
        assertTrue(readUntil(sub, text + "\r\n").contains("MSG cryo." + text + " 1 " + text.length() + "\r\n"),
                "the kept subscriber");
        assertTrue(request(sub, "js.a", text).contains("\"seq\":" + stored), "the stream to store after the first");
        assertTrue(request(sub, "$JS.API.STREAM.INFO.S", "").contains("\"messages\":" + stored), "the stream's messages");
    }

    /** Sends a request on {@code s} (subscribed to _INBOX.cryo as sid 2) and returns the reply. */
    private static String request(Socket s, String subject, String body) throws IOException {
        send(s, "PUB " + subject + " _INBOX.cryo " + body.length() + "\r\n" + body + "\r\n");
        String head = readUntil(s, "MSG _INBOX.cryo 2 ");
        int length = Integer.parseInt(readUntil(s, "\r\n").trim());
        byte[] reply = s.getInputStream().readNBytes(length + 2);
        return head + new String(reply, StandardCharsets.UTF_8);
    }

    private static void publish(int port, String subject, String text) throws Exception {
        try (Socket s = connect(port)) {
            readUntil(s, "\r\n");
            send(s, "CONNECT {\"verbose\":false}\r\nPUB " + subject + " " + text.length() + "\r\n" + text + "\r\nPING\r\n");
            readUntil(s, "PONG\r\n");
        }
    }

    /**
     * etcd 3.4 (Go; bbolt's database mapped shared, its WAL's preallocated segment, its gRPC gateway's loopback
     * connection to its own gRPC server) with a watch kept open by an HTTP client on the gateway: after the restore
     * a key written by a new client comes to the kept watch, and the key written before reads back.
     */
    @Test
    void etcdSendsAWriteAfterTheRestoreToItsKeptWatch() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/etcd")), "Debian package etcd-server");
        int client = freePort(), peer = freePort();
        String clientUrl = "http://127.0.0.1:" + client, peerUrl = "http://127.0.0.1:" + peer;
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("etcd.out"), "/usr/bin/etcd", "--name", "cryo", "--data-dir",
                tmp.resolve("etcd").toString(), "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
                "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", "cryo=" + peerUrl)) {
            DetachedProcess.awaitProbe(() -> etcd(client, "/v3/kv/put", "{\"key\":\"YQ==\",\"value\":\"YmVmb3Jl\"}")
                    .contains("revision"), Duration.ofSeconds(60), "etcd to take a write");
            try (Socket watch = connect(client)) {
                String body = "{\"create_request\":{\"key\":\"Yg==\"}}";
                send(watch, "POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length() + "\r\n\r\n" + body);
                readUntil(watch, "\"created\":true");
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                try {
                    assertTrue(etcd(client, "/v3/kv/put", "{\"key\":\"Yg==\",\"value\":\"YWZ0ZXI=\"}").contains("revision"));
                    assertTrue(readUntil(watch, "YWZ0ZXI=").contains("\"events\""), "the kept watch");
                    assertTrue(etcd(client, "/v3/kv/range", "{\"key\":\"YQ==\"}").contains("\"value\":\"YmVmb3Jl\""));
                } finally {
                    killTree(r.pid().value());
                }
            }
        }
    }

    private static String etcd(int port, String path, String body) throws Exception {
        try (Socket s = connect(port)) {
            send(s, "POST " + path + " HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
                    + "\r\n\r\n" + body);
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    /**
     * chronyd 4.3 without control of the clock (-x), as user _chrony under its own seccomp filter (-F 1), with its
     * privileged helper process (forked before it dropped root, on a socketpair) and its command socket a unix
     * datagram socket: after the restore chronyc is answered on that socket, and an NTP client on its UDP port.
     */
    @Test
    void chronydUnderItsSeccompFilterAnswersChronycAndNtpAfterTheRestore() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/chronyd")), "Debian package chrony");
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        int port = freePort();
        Path dir = Files.createDirectories(tmp.resolve("chrony")); // its command socket's directory: _chrony's, closed to others
        succeeds(List.of("chown", "_chrony:_chrony", dir.toString()));
        succeeds(List.of("chmod", "700", dir.toString()));
        Path sock = dir.resolve("chronyd.sock");
        Files.writeString(tmp.resolve("chrony.conf"), "pidfile " + dir.resolve("chronyd.pid") + "\nbindcmdaddress " + sock
                + "\ncmdport 0\nport " + port + "\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\ndriftfile "
                + dir.resolve("drift") + "\n");
        List<String> tracking = List.of("chronyc", "-h", sock.toString(), "tracking");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("chrony.out"), "/usr/sbin/chronyd", "-d", "-x", "-u", "_chrony",
                "-F", "1", "-f", tmp.resolve("chrony.conf").toString())) {
            DetachedProcess.awaitCondition(() -> RealServersTest.treeSize(p.pid().value()) == 2 && Files.exists(sock),
                    Duration.ofSeconds(30), "chronyd and its helper");
            assertTrue(succeeds(tracking).contains("Stratum         : 10"));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                assertTrue(succeeds(tracking).contains("Stratum         : 10"), "chronyc on the restored command socket");
                assertTrue(succeeds(List.of("chronyd", "-Q", "-t", "20", "server 127.0.0.1 port " + port + " iburst maxsamples 1"))
                        .contains("System clock wrong by"), "an NTP client answered");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * php-fpm 8.2 (a master and two pool workers as www-data, opcache's shared memory, the pool's unix listener) behind
     * nginx's FastCGI upstream with kept connections, as one tree, a browser's session kept in a cookie: dumped with -R
     * (the original then killed) and restored, the session counts on, and a `SIGUSR2` makes the restored master exec
     * itself again and fork new workers on its inherited listener.
     */
    @Test
    void phpFpmBehindNginxKeepsItsSessionAndReloadsAfterALeftRunningDumpsRestore() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/php-fpm8.2")) && Files.isExecutable(Path.of("/usr/sbin/nginx")),
                "Debian packages php-fpm and nginx-light");
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        int port = freePort();
        Path www = Files.createDirectories(tmp.resolve("www")), sessions = Files.createDirectories(tmp.resolve("sessions"));
        Files.setPosixFilePermissions(sessions, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.writeString(www.resolve("s.php"), "<?php\nsession_save_path('" + sessions + "');\nsession_start();\n"
                + "$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;\necho 'session ' . $_SESSION['n'] . ' pid ' . getmypid() . \"\\n\";\n");
        Path fpmPid = tmp.resolve("fpm.pid"), sock = tmp.resolve("fpm.sock");
        Files.writeString(tmp.resolve("fpm.conf"), "[global]\npid = " + fpmPid + "\nerror_log = " + tmp.resolve("fpm.log")
                + "\ndaemonize = no\n[www]\nuser = www-data\ngroup = www-data\nlisten = " + sock
                + "\nlisten.mode = 0666\npm = static\npm.max_children = 2\n");
        Files.writeString(tmp.resolve("nginx.conf"), "daemon off;\nmaster_process on;\nworker_processes 1;\npid "
                + tmp.resolve("nginx.pid") + ";\nerror_log " + tmp.resolve("nginx.err") + ";\nevents {}\nhttp {\n access_log off;\n"
                + " client_body_temp_path " + tmp + "/cb; fastcgi_temp_path " + tmp + "/fc; proxy_temp_path " + tmp + "/pt;"
                + " uwsgi_temp_path " + tmp + "/ut; scgi_temp_path " + tmp + "/st;\n"
                + " upstream fpm { server unix:" + sock + "; keepalive 2; }\n server {\n  listen 127.0.0.1:" + port
                + ";\n  root " + www + ";\n  location ~ \\.php$ { fastcgi_pass fpm; fastcgi_keep_conn on;"
                + " include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name; }\n }\n}\n");
        String[] cookie = {""};
        java.util.concurrent.Callable<String> visit = () -> {
            try (Socket s = connect(port)) {
                send(s, "GET /s.php HTTP/1.0\r\nHost: x\r\n" + cookie[0] + "\r\n");
                String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("Set-Cookie: (PHPSESSID=[^;]+)").matcher(reply);
                if (m.find()) {
                    cookie[0] = "Cookie: " + m.group(1) + "\r\n";
                }
                return reply.substring(reply.indexOf("\r\n\r\n") + 4).trim().replaceAll(" pid \\d+", "");
            }
        };
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("tree.out"), "/bin/sh", "-c", "/usr/sbin/php-fpm8.2 -F -y "
                + tmp.resolve("fpm.conf") + " & /usr/sbin/nginx -c " + tmp.resolve("nginx.conf") + " & wait")) {
            DetachedProcess.awaitCondition(() -> RealServersTest.treeSize(p.pid().value()) == 6 && Files.exists(sock),
                    Duration.ofSeconds(30), "php-fpm's master and workers, nginx's master and worker");
            DetachedProcess.awaitProbe(() -> visit.call().equals("session 1"),
                    Duration.ofSeconds(30), "php-fpm to answer through nginx");
            assertEquals("session 2", visit.call());
            DumpRestore d = DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img"));
            assertEquals("session 3", visit.call(), "the original after the dump");
            for (int pid : StateComparator.tree(p.pid().value())) {
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(pid), dev.cryo.kernel.Signals.SIGKILL);
            }
            RestoreTest.killAndReap(p);
            String originalMaster = "/proc/" + Files.readString(fpmPid).trim();
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of(originalMaster)), Duration.ofSeconds(30),
                    "the original php-fpm master to go");
            DetachedProcess r = d.restoreDetached(p.output());
            try {
                assertEquals("session 4", visit.call(), "the session, kept in its file");
                int master = Integer.parseInt(Files.readString(fpmPid).trim());
                dev.cryo.kernel.Sys.kill(dev.cryo.kernel.Pid.of(master), dev.cryo.kernel.Signals.SIGUSR2);
                DetachedProcess.awaitCondition(() -> textOf(tmp.resolve("fpm.log")).contains("using inherited socket"),
                        Duration.ofSeconds(30), "the restored master to exec itself again");
                DetachedProcess.awaitProbe(() -> visit.call().equals("session 5"),
                        Duration.ofSeconds(30), "the reloaded php-fpm's new workers to answer");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * Python's asyncio on uvloop (libuv: its own epoll, an eventfd to wake the loop, a signal pipe) serving a kept
     * client, with a periodic task and a `cat` subprocess on pipes it started: after the restore the kept client's
     * line goes through the subprocess and back, and the ticks went on.
     */
    @Test
    void uvloopServesItsKeptClientThroughItsSubprocessAfterTheRestore() throws Exception {
        assumeTrue(succeedsQuietly(List.of("/usr/bin/python3", "-c", "import uvloop")), "Debian package python3-uvloop");
        int port = freePort();
        Files.writeString(tmp.resolve("uv.py"), String.join("\n",
                "import asyncio, sys, uvloop",
                "ticks = 0",
                "async def tick():",
                "    global ticks",
                "    while True:",
                "        await asyncio.sleep(0.01)",
                "        ticks += 1",
                "async def main():",
                "    cat = await asyncio.create_subprocess_exec('cat', stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)",
                "    asyncio.ensure_future(tick())",
                "    async def client(r, w):",
                "        while line := await r.readline():",
                "            cat.stdin.write(line)",
                "            await cat.stdin.drain()",
                "            echoed = await cat.stdout.readline()",
                "            w.write(b'%d ' % (ticks > 0) + echoed)",
                "            await w.drain()",
                "    server = await asyncio.start_server(client, '127.0.0.1', int(sys.argv[1]))",
                "    async with server:",
                "        await server.serve_forever()",
                "uvloop.install()",
                "asyncio.run(main())", ""));
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("uv.out"), "/usr/bin/python3", tmp.resolve("uv.py").toString(),
                Integer.toString(port));
             Socket c = connect(port)) {
            send(c, "before\n");
            assertEquals("1 before\n", readUntil(c, "\n"));
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                send(c, "after\n");
                assertEquals("1 after\n", readUntil(c, "\n"), "the kept client, through the restored cat");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /**
     * A JDK 25 HttpServer on a virtual-thread-per-task executor (continuations mounted on a ForkJoinPool's carrier
     * threads) beside a thousand virtual threads ticking every 10 ms, under G1, with a kept-alive client: after the
     * restore the kept connection is answered by a new virtual thread and the ticks went on.
     */
    @Test
    void aJdk25ServerOnVirtualThreadsAnswersItsKeptAliveClientAfterTheRestore() throws Exception {
        Path java = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java");
        assumeTrue(Files.isExecutable(java), "a JDK 25 at " + java);
        int port = freePort();
        Files.writeString(tmp.resolve("V.java"), String.join("\n",
                "import com.sun.net.httpserver.HttpServer;",
                "import java.net.InetSocketAddress;",
                "import java.util.concurrent.Executors;",
                "import java.util.concurrent.atomic.AtomicLong;",
                "public class V {",
                "    public static void main(String[] a) throws Exception {",
                "        AtomicLong ticks = new AtomicLong();",
                "        for (int i = 0; i < 1000; i++) {",
                "            Thread.ofVirtual().start(() -> {",
                "                while (true) {",
                "                    try { Thread.sleep(10); } catch (InterruptedException e) { return; }",
                "                    ticks.incrementAndGet();",
                "                }",
                "            });",
                "        }",
                "        HttpServer s = HttpServer.create(new InetSocketAddress(\"127.0.0.1\", Integer.parseInt(a[0])), 50);",
                "        s.setExecutor(Executors.newVirtualThreadPerTaskExecutor());",
                "        s.createContext(\"/\", x -> {",
                "            byte[] b = (\"ticks \" + ticks.get() + \"\\n\").getBytes();",
                "            x.sendResponseHeaders(200, b.length);",
                "            x.getResponseBody().write(b);",
                "            x.close();",
                "        });",
                "        s.start();",
                "    }",
                "}", ""));
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("v.out"), java.toString(), "-XX:+UseG1GC", "-Xmx512m",
                "-XX:-UsePerfData", "-Dsun.net.httpserver.idleInterval=600", tmp.resolve("V.java").toString(),
                Integer.toString(port));
             Socket c = connect(port)) {
            long before = ticks(c);
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
            try {
                long after = ticks(c);
                assertTrue(after > before, "ticks " + before + " then " + after);
                DetachedProcess.awaitCondition(() -> {
                    try {
                        return ticks(c) > after;
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                }, Duration.ofSeconds(30), "the restored virtual threads to tick on");
            } finally {
                killTree(r.pid().value());
            }
        }
    }

    /** One request on the kept-alive connection {@code c}: the ticks its answer counts. */
    private static long ticks(Socket c) throws IOException {
        send(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        readUntil(c, "\r\n\r\n");
        String body = readUntil(c, "\n").trim();
        assertTrue(body.startsWith("ticks "), body);
        return Long.parseLong(body.substring(6));
    }

    private static boolean succeedsQuietly(List<String> cmd) {
        try {
            return new ProcessBuilder(cmd).redirectErrorStream(true).start().waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
