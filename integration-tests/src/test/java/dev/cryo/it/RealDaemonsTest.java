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
        int port = freePort();
        Path www = Files.createDirectories(tmp.resolve("www")), sessions = Files.createDirectories(tmp.resolve("sessions"));
        Files.setPosixFilePermissions(sessions, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.writeString(www.resolve("s.php"), "<?php\nsession_save_path('" + sessions + "');\nsession_start();\n"
                + "$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;\necho 'session ' . $_SESSION['n'] . ' pid ' . getmypid() . \"\\n\";\n");
        Path fpmPid = tmp.resolve("fpm.pid"), sock = tmp.resolve("fpm.sock");
        String tree = fpmBehindNginx(port, www, 2, "keepalive 2;", "fastcgi_keep_conn on;");
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
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("tree.out"), "/bin/sh", "-c", tree)) {
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
     * php-fpm with one worker behind nginx, overloaded: three clients ask for a page that takes 2 s, so one request is
     * in the worker and nginx's FastCGI connections for the other two wait in php-fpm's listen queue, their requests
     * sent (refused before: "the bytes sit in a socket no process holds yet"). Dumped killing with the clients kept
     * outside, restored: each client gets its own page, its body read whole by the script.
     */
    @Test
    void phpFpmOverloadedBehindNginxAnswersTheRequestsWaitingInItsListenQueueAfterTheRestore() throws Exception {
        int port = freePort();
        Path www = Files.createDirectories(tmp.resolve("www")), sock = tmp.resolve("fpm.sock");
        Files.writeString(www.resolve("slow.php"), "<?php\nusleep(2000000);\n"
                + "echo 'page ' . $_GET['n'] . ' ' . md5(file_get_contents('php://input')) . \"\\n\";\n");
        String tree = fpmBehindNginx(port, www, 1, "", "fastcgi_read_timeout 120s;");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("tree.out"), "/bin/sh", "-c", tree)) {
            DetachedProcess.awaitCondition(() -> RealServersTest.treeSize(p.pid().value()) == 5 && Files.exists(sock),
                    Duration.ofSeconds(30), "php-fpm's master and worker, nginx's master and worker");
            List<Socket> clients = new java.util.ArrayList<>();
            try {
                for (int n = 0; n < 3; n++) {
                    Socket s = connect(port);
                    clients.add(s);
                    String body = "body of " + n;
                    send(s, "POST /slow.php?n=" + n + " HTTP/1.0\r\nHost: x\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
                }
                DetachedProcess.awaitProbe(() -> listenQueue(sock) == 2, Duration.ofSeconds(30),
                        "two FastCGI connections waiting in php-fpm's listen queue");
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                try {
                    for (int n = 0; n < 3; n++) {
                        String reply = new String(clients.get(n).getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                        String md5 = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5")
                                .digest(("body of " + n).getBytes(StandardCharsets.US_ASCII)));
                        assertTrue(reply.endsWith("page " + n + " " + md5 + "\n"), reply);
                    }
                } finally {
                    killTree(r.pid().value());
                }
            } finally {
                for (Socket s : clients) {
                    s.close();
                }
            }
        }
    }

    /** Connections waiting to be accepted on the unix listener at {@code path} (ss's Recv-Q of a listener). */
    private static int listenQueue(Path path) throws Exception {
        for (String line : succeeds(List.of("ss", "-xlH", "src", path.toString())).lines().toList()) {
            String[] f = line.trim().split("\\s+");
            return Integer.parseInt(f[2]);
        }
        return -1;
    }

    /**
     * Writes php-fpm's configuration (a static pool of {@code workers} as www-data on the unix listener tmp/fpm.sock)
     * and nginx's (serving {@code www} on {@code port}, PHP through an upstream with {@code upstream} and a location
     * with {@code location} directives), and returns the shell command that starts both as one tree (its tmp
     * searchable by the workers).
     */
    private String fpmBehindNginx(int port, Path www, int workers, String upstream, String location) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/php-fpm8.2")) && Files.isExecutable(Path.of("/usr/sbin/nginx")),
                "Debian packages php-fpm and nginx-light");
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path sock = tmp.resolve("fpm.sock");
        Files.writeString(tmp.resolve("fpm.conf"), "[global]\npid = " + tmp.resolve("fpm.pid") + "\nerror_log = "
                + tmp.resolve("fpm.log") + "\ndaemonize = no\n[www]\nuser = www-data\ngroup = www-data\nlisten = " + sock
                + "\nlisten.mode = 0666\npm = static\npm.max_children = " + workers + "\n");
        Files.writeString(tmp.resolve("nginx.conf"), "daemon off;\nmaster_process on;\nworker_processes 1;\npid "
                + tmp.resolve("nginx.pid") + ";\nerror_log " + tmp.resolve("nginx.err") + ";\nevents {}\nhttp {\n access_log off;\n"
                + " client_body_temp_path " + tmp + "/cb; fastcgi_temp_path " + tmp + "/fc; proxy_temp_path " + tmp + "/pt;"
                + " uwsgi_temp_path " + tmp + "/ut; scgi_temp_path " + tmp + "/st;\n"
                + " upstream fpm { server unix:" + sock + "; " + upstream + " }\n server {\n  listen 127.0.0.1:" + port
                + ";\n  root " + www + ";\n  location ~ \\.php$ { fastcgi_pass fpm; " + location
                + " include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name; }\n }\n}\n");
        return "/usr/sbin/php-fpm8.2 -F -y " + tmp.resolve("fpm.conf") + " & /usr/sbin/nginx -c " + tmp.resolve("nginx.conf")
                + " & wait";
    }

    /**
     * Python's asyncio on uvloop (libuv: its own epoll, an eventfd to wake the loop, a signal pipe) serving a kept
     * client, with a periodic task and a `cat` subprocess on pipes it started: after the restore the kept client's
     * line goes through the subprocess and back, and the ticks went on (each answer says whether the task ticked
     * since the line before: the first line may come before the first tick, CI once at load).
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
                "        seen = 0",
                "        while line := await r.readline():",
                "            cat.stdin.write(line)",
                "            await cat.stdin.drain()",
                "            echoed = await cat.stdout.readline()",
                "            w.write(b'%d ' % (ticks > seen) + echoed)", // ticked since the line before
                "            seen = ticks",
                "            await w.drain()",
                "    server = await asyncio.start_server(client, '127.0.0.1', int(sys.argv[1]))",
                "    async with server:",
                "        await server.serve_forever()",
                "uvloop.install()",
                "asyncio.run(main())", ""));
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("uv.out"), "/usr/bin/python3", tmp.resolve("uv.py").toString(),
                Integer.toString(port));
             Socket c = connect(port)) {
            String before = "";
            for (int i = 0; i < 100 && !before.equals("1 before\n"); i++) { // bounded: the first tick may not have come
                if (i > 0) {
                    Thread.sleep(20);
                }
                send(c, "before\n");
                before = readUntil(c, "\n");
            }
            assertEquals("1 before\n", before);
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

    /**
     * Puma 5 in cluster mode on Ruby 3.1 (MRI: a GVL, its timer thread, a thread pool per worker) with a ticking
     * Ruby thread in each worker and a kept-alive client: after the restore the worker that served the kept client
     * counts on for it, its ticks went on, and a phased restart (USR1) makes the restored master replace both
     * workers, which then serve new clients.
     */
    @Test
    void pumasWorkersCountOnForTheirKeptClientAndThePhasedRestartReplacesThem() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/puma")), "Debian package puma");
        int port = freePort();
        Files.writeString(tmp.resolve("config.ru"), String.join("\n",
                "$count = 0",
                "$ticks = 0",
                "Thread.new { loop { sleep 0.01; $ticks += 1 } }",
                "run lambda { |env| $count += 1; [200, {'content-type' => 'text/plain'},",
                "  [\"#{Process.pid} #{$count} #{$ticks}\\n\"]] }", ""));
        // kept-alive connections idle for 20 s are closed by default: a dump and restore at load may take longer
        Files.writeString(tmp.resolve("puma.rb"), "persistent_timeout 600\n");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("puma.out"), "/usr/bin/puma", "-C",
                tmp.resolve("puma.rb").toString(), "-w", "2", "-t", "2:4", "--dir", tmp.toString(), "-b",
                "tcp://127.0.0.1:" + port, tmp.resolve("config.ru").toString())) {
            p.awaitOutput("- Worker 1 (PID", Duration.ofSeconds(60));
            p.awaitOutput("- Worker 0 (PID", Duration.ofSeconds(60));
            try (Socket c = connect(port)) {
                String[] before = pumaAnswer(c);
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                try {
                    String[] after = pumaAnswer(c);
                    assertEquals(before[0], after[0], "the worker that kept the client");
                    assertEquals(Long.parseLong(before[1]) + 1, Long.parseLong(after[1]), "its count");
                    DetachedProcess.awaitProbe(() -> Long.parseLong(pumaAnswer(c)[2]) > Long.parseLong(after[2]),
                            Duration.ofSeconds(30), "the worker's ticking thread to go on");
                    dev.cryo.kernel.Sys.kill(r.pid(), dev.cryo.kernel.Signals.SIGUSR1);
                    DetachedProcess.awaitCondition(() -> textOf(p.output()).matches("(?s).*Worker 1 \\(PID: \\d+\\) booted[^\\n]*phase: 1\\n.*"),
                            Duration.ofSeconds(60), "the phased restart");
                    try (Socket n = connect(port)) {
                        String[] fresh = pumaAnswer(n);
                        assertNotEquals(before[0], fresh[0], "a new worker");
                        assertEquals("1", fresh[1], "a new worker's first request");
                    }
                } finally {
                    killTree(r.pid().value());
                }
            }
        }
    }

    /**
     * PostgreSQL 15 in the middle of a parallel query: the two parallel workers the postmaster forked for a client's
     * query (the query's dynamic shared memory in /dev/shm, message queues to the leader in it, the expressions
     * compiled by LLVM's JIT in each), held at a gate, are dumped with the leader; after the restore the gate opens,
     * the workers finish their shares and the client, outside the tree over TCP, gets the right count.
     */
    @Test
    void postgresqlFinishesAParallelQueryWhoseWorkersWereDumpedMidway() throws Exception {
        Path bin = RealServersTest.postgresBin();
        assumeTrue(bin != null, "Debian package postgresql");
        Path dir = Files.createTempDirectory("cryo-pg");
        int[] pgRoot = {0};
        try {
            succeeds(List.of("chown", "-R", "postgres:postgres", dir.toString()));
            Path data = dir.resolve("data");
            RealServersTest.asPostgres(null, bin.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust",
                    "--no-sync");
            int port = freePort();
            try (DetachedProcess p = DetachedProcess.start(tmp.resolve("pg.out"), "setpriv", "--reuid=postgres",
                    "--regid=postgres", "--init-groups", bin.resolve("postgres").toString(), "-D", data.toString(),
                    "-p", Integer.toString(port), "-k", dir.toString(), "-c", "listen_addresses=127.0.0.1",
                    "-c", "parallel_setup_cost=0", "-c", "parallel_tuple_cost=0", "-c", "jit_above_cost=0")) {
                pgRoot[0] = p.pid().value();
                p.awaitOutput("database system is ready to accept connections", Duration.ofSeconds(60));
                Path gate = dir.resolve("gate");
                // every 100000th row waits for the gate, so the leader and both workers are held in the query
                List<String> psql = List.of(bin.resolve("psql").toString(), "-h", "127.0.0.1", "-p",
                        Integer.toString(port), "-U", "postgres", "-d", "postgres", "-At", "-c");
                succeeds(concat(psql, "create table big as select g as x from generate_series(1, 500000) g;"
                        + " alter table big set (parallel_workers = 2); analyze big;"
                        + " create function gated(x int) returns int language plpgsql parallel safe as $$ begin"
                        + " if x % 100000 = 0 then while pg_stat_file('" + gate + "', true) is null loop"
                        + " perform pg_sleep(0.05); end loop; end if; return x; end $$;"));
                Process query = new ProcessBuilder(concat(psql, "select count(*) from big where gated(x) % 7 = 3"))
                        .redirectErrorStream(true).start();
                DetachedProcess.awaitCondition(() -> parallelWorkers(pgRoot[0]) == 2, Duration.ofSeconds(60),
                        "the query's two parallel workers");
                DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"), "--tcp-established");
                try {
                    assertEquals(2, parallelWorkers(pgRoot[0]), "the restored tree's parallel workers");
                    Files.writeString(gate, "");
                    String out = new String(query.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                    assertEquals(0, query.waitFor(), out);
                    assertEquals(Integer.toString((500000 - 3) / 7 + 1), out, "the count of x % 7 = 3");
                    assertEquals("500000", succeeds(concat(psql, "select count(*) from big")).trim(), "a new session");
                } finally {
                    RealServersTest.stopPostgres(r);
                }
            }
        } finally {
            // the segment postgres keeps outlives it: remove the one its postmaster made
            new ProcessBuilder("sh", "-c", "awk -v p=" + pgRoot[0] + " '$5==p {print $2}' /proc/sysvipc/shm"
                    + " | xargs -r -n1 ipcrm -m; rm -rf " + dir).start().waitFor();
        }
    }

    /** The children of the postmaster {@code root} that are parallel workers. */
    private static long parallelWorkers(int root) {
        try (java.util.stream.Stream<String> children = Files.lines(Path.of("/proc", Integer.toString(root), "task",
                Integer.toString(root), "children"))) {
            return children.flatMap(l -> java.util.Arrays.stream(l.trim().split(" "))).filter(c -> !c.isEmpty())
                    .filter(c -> textOf(Path.of("/proc", c, "cmdline")).startsWith("postgres: parallel worker"))
                    .count();
        } catch (IOException e) {
            return -1;
        }
    }

    private static List<String> concat(List<String> command, String last) {
        List<String> all = new java.util.ArrayList<>(command);
        all.add(last);
        return all;
    }

    /**
     * GNU screen with its client attached, all in the tree: script(1) holding a terminal's master, the screen client
     * on its slave as its controlling terminal, the SCREEN server holding its window's master, a shell on that one's
     * slave. After the restore the shell's output reaches the attached client's terminal (script's typescript);
     * detached, then attached again by a new client, the window still has the shell with its variable.
     */
    @Test
    void screenWithItsClientAttachedInTheTreeComesBackAndAttachesAgain() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/screen")), "Debian package screen");
        Path dir = Files.createDirectories(tmp.resolve("screens"));
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Path typescript = tmp.resolve("typescript");
        Process again = null;
        // script(1)'s input a FIFO it holds read-write: from /dev/null it wrote an EOF to the client's terminal at
        // once, which the client in raw mode passed to the window's shell, and screen ended before it was ever seen
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("script.out"), "env", "SCREENDIR=" + dir,
                "TERM=xterm", "sh", "-c", "mkfifo in && exec script -qfc 'screen -S t sh' typescript <>in")) {
            DetachedProcess.awaitCondition(() -> screen(dir, "-ls").contains("(Attached)"), Duration.ofSeconds(30),
                    "screen's client to attach");
            screen(dir, "-S", "t", "-X", "stuff", "X=41; echo set-$((X+1))\\n");
            DetachedProcess.awaitCondition(() -> textOf(typescript).contains("set-42"), Duration.ofSeconds(30),
                    "the shell through the attached client");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                screen(dir, "-S", "t", "-X", "stuff", "echo after-\\$X\\n");
                DetachedProcess.awaitCondition(() -> textOf(typescript).contains("after-41"), Duration.ofSeconds(30),
                        "the restored shell through the restored client");
                screen(dir, "-S", "t", "-X", "detach");
                DetachedProcess.awaitCondition(() -> screen(dir, "-ls").contains("(Detached)"), Duration.ofSeconds(30),
                        "the client to detach");
                Path second = tmp.resolve("typescript2");
                again = clientInScript("screen -r t", second, "SCREENDIR", dir.toString());
                // the new client draws the window as it was: what the shell printed before it is there
                DetachedProcess.awaitCondition(() -> textOf(second).contains("after-41"), Duration.ofSeconds(30),
                        "a new client to attach and draw the window");
                screen(dir, "-S", "t", "-X", "stuff", "echo again-\\$X\\n");
                DetachedProcess.awaitCondition(() -> textOf(second).contains("again-41"), Duration.ofSeconds(30),
                        "the shell through the new client");
            } finally {
                screen(dir, "-S", "t", "-X", "quit");
                killTree(r.pid().value());
            }
        } finally {
            if (again != null) {
                again.destroyForcibly();
            }
        }
    }

    /**
     * tmux started from a terminal, as a user starts it: its client (on the slave of script(1)'s terminal) forks the
     * server, which daemonizes and is left to the subreaper at the tree's root (tini -s, as in a container), holding
     * its window's master with a shell on the slave. After the restore the shell's output reaches the restored
     * attached client, and a second client attaches to the same shell.
     */
    @Test
    void tmuxForkedByItsAttachedClientUnderASubreaperComesBackAttached() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/tini")), "Debian package tini");
        Path sock = tmp.resolve("tmux.sock");
        Path typescript = tmp.resolve("typescript");
        Process second = null;
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("tini.out"), "env", "TERM=xterm", "tini", "-s",
                "--", "sh", "-c", "mkfifo in && exec script -qfc 'tmux -f /dev/null -S tmux.sock new -s t sh' "
                        + "typescript <>in")) {
            // the tree counted 5 tasks while the client's fork that daemonizes the server had not exited yet (CI at
            // load 26-35: keys sent before the session was there went nowhere): wait for the session's shell and the
            // client attached to it
            DetachedProcess.awaitCondition(() -> tmux(sock, "display-message", "-p", "-t", "t",
                    "#{pane_current_command} #{session_attached}").trim().equals("sh 1"), Duration.ofSeconds(60),
                    "tmux's session with its shell, and the client attached");
            tmux(sock, "send-keys", "-t", "t", "X=41; echo set-$((X+1))", "Enter");
            DetachedProcess.awaitCondition(() -> textOf(typescript).contains("set-42"), Duration.ofSeconds(30),
                    "the shell through the attached client");
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                tmux(sock, "send-keys", "-t", "t", "echo after-$X", "Enter");
                DetachedProcess.awaitCondition(() -> textOf(typescript).contains("after-41"), Duration.ofSeconds(30),
                        "the restored shell through the restored client");
                Path typescript2 = tmp.resolve("typescript2");
                second = clientInScript("tmux -f /dev/null -S " + sock + " attach -t t", typescript2);
                DetachedProcess.awaitCondition(() -> tmux(sock, "list-clients").lines().count() == 2,
                        Duration.ofSeconds(30), "a second client to attach");
                tmux(sock, "send-keys", "-t", "t", "echo again-$X", "Enter");
                DetachedProcess.awaitCondition(() -> textOf(typescript2).contains("again-41")
                        && textOf(typescript).contains("again-41"), Duration.ofSeconds(30), "the shell through both clients");
            } finally {
                tmux(sock, "kill-server");
                killTree(r.pid().value());
            }
        } finally {
            if (second != null) {
                second.destroyForcibly();
            }
        }
    }

    /**
     * Starts {@code command}, a terminal client, in script(1)'s terminal (TERM=xterm, and {@code env}'s name-value
     * pairs), what it shows written to {@code typescript}. Its input is a pipe left open: at the end of its input
     * script(1) writes an EOF to the client's terminal, which, once the client is in raw mode, reaches the window's
     * shell (failed 1 run in 4, and once in CI).
     */
    private static Process clientInScript(String command, Path typescript, String... env) throws IOException {
        ProcessBuilder b = new ProcessBuilder("script", "-qfc", command, typescript.toString())
                .redirectInput(ProcessBuilder.Redirect.PIPE)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true);
        b.environment().put("TERM", "xterm");
        for (int i = 0; i < env.length; i += 2) {
            b.environment().put(env[i], env[i + 1]);
        }
        return b.start();
    }

    /** Runs tmux with {@code args} on the server at {@code sock}; its output, whatever its exit. */
    private static String tmux(Path sock, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("tmux", "-f", "/dev/null", "-S", sock.toString()));
        cmd.addAll(List.of(args));
        return outputOf(new ProcessBuilder(cmd));
    }

    /** Runs screen with {@code args} on the sessions of {@code dir}; its output, whatever its exit. */
    private static String screen(Path dir, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("screen"));
        cmd.addAll(List.of(args));
        ProcessBuilder b = new ProcessBuilder(cmd);
        b.environment().put("SCREENDIR", dir.toString());
        return outputOf(b);
    }

    /** What {@code b}'s command printed (stdout and stderr), whatever its exit. */
    private static String outputOf(ProcessBuilder b) {
        try {
            Process p = b.redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return out;
        } catch (IOException | InterruptedException e) {
            return e.toString();
        }
    }

    /** One request on {@code c} to the puma app: its worker's pid, its count, its ticks. */
    private static String[] pumaAnswer(Socket c) throws IOException {
        String body = new String(RealServersTest.httpBody(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                StandardCharsets.US_ASCII).trim();
        String[] words = body.split(" ");
        assertEquals(3, words.length, body);
        return words;
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
