package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A busy unix server, as php-fpm behind nginx under load: its clients connect and send their request at
 * once, and it accepts a moment later. The bytes of a connection not accepted yet sit in a socket no
 * process holds: cryo reads them there (its BPF iterator, from the client's end) and the restore sends
 * them again on the client's new connection before the tree runs.
 */
class UnixBacklogTest {
    @TempDir
    Path tmp;

    /**
     * The server accepts 60 ms after each connection, whose client sent its line at once and comes again 40 ms
     * after its answer: a connection carrying bytes waits 3/5 of the time.
     */
    private static final String SERVER = String.join("\n",
            "import socket, sys, threading, time",
            "path = sys.argv[1]",
            "def note(line):  # opened for each line: the log may grow after a dump with -R, and no fd of it is kept",
            "    with open(sys.argv[2], 'a') as f:",
            "        f.write(line + '\\n')",
            "srv = socket.socket(socket.AF_UNIX)",
            "srv.bind(path)",
            "srv.listen(16)",
            "def client():",
            "    n = 0",
            "    while True:",
            "        c = socket.socket(socket.AF_UNIX)",
            "        c.connect(path)",
            "        c.sendall(b'%d\\n' % n)",
            "        if c.recv(64) != b'ok %d\\n' % n:",
            "            note('FAIL %d' % n)",
            "        c.close()",
            "        n += 1",
            "        time.sleep(0.04)",
            "threading.Thread(target=client, daemon=True).start()",
            "served = 0",
            "while True:",
            "    time.sleep(0.06)",
            "    s, _ = srv.accept()",
            "    s.sendall(b'ok ' + s.recv(64))",
            "    s.close()",
            "    served += 1",
            "    note('served %d' % served)", "");

    /**
     * Three clients (threads of the server's process) connect and send a request each, the third of 3000 bytes;
     * the server accepts none until told (a file appears), long after the dump: refused before ("the bytes sit in a
     * socket no process holds yet"), the restored server now reads each request whole and each client gets the
     * answer to its own; the listener and the third client pass credentials (SO_PASSCRED), and the server reads its
     * own pid in them, not cryo's.
     */
    private static final String STALLED = String.join("\n",
            "import hashlib, os, socket, struct, sys, threading, time",
            "path, go, log = sys.argv[1:4]",
            "srv = socket.socket(socket.AF_UNIX)",
            "srv.bind(path)",
            "srv.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # as systemd's and udev's listeners",
            "srv.listen(8)",
            "reqs = [b'GET /a\\n', b'GET /b\\n', b'POST /c ' + bytes(65 + i % 26 for i in range(3000)) + b'\\n']",
            "answers, sent = {}, [threading.Event() for _ in reqs]",
            "def client(i):",
            "    c = socket.socket(socket.AF_UNIX)",
            "    if i == 2:  # its bytes carry its credentials, which the server reads",
            "        c.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)",
            "    c.connect(path)",
            "    c.sendall(reqs[i])",
            "    sent[i].set()",
            "    answers[i] = c.makefile('rb').readline()",
            "threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]",
            "for t in threads:",
            "    t.start()",
            "for e in sent:",
            "    e.wait()",
            "print('ready', flush=True)",
            "while not os.path.exists(go):",
            "    time.sleep(0.05)",
            "creds = set()",
            "for i in range(3):",
            "    s, _ = srv.accept()",
            "    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)",
            "    req = b''",
            "    while not req.endswith(b'\\n'):",
            "        data, anc, _, _ = s.recvmsg(8192, socket.CMSG_SPACE(12))",
            "        req += data",
            "        creds |= {struct.unpack('iII', d)[0] for l, t, d in anc if t == socket.SCM_CREDENTIALS}",
            "    s.sendall(hashlib.sha256(req).hexdigest().encode() + b'\\n')",
            "    s.close()",
            "for t in threads:",
            "    t.join()",
            "ok = all(answers[i] == hashlib.sha256(reqs[i]).hexdigest().encode() + b'\\n' for i in range(3))",
            "ok = ok and os.getpid() in creds and creds <= {0, os.getpid()}  # the sender's, not the restorer's",
            "with open(log, 'w') as f:",
            "    f.write('PASS\\n' if ok else 'FAIL %r %r\\n' % (answers, creds))", "");

    /**
     * Three connections wait in the listener's queue: a one-shot client (a child process) sent its request, closed
     * and exited; a second client closed without sending (zdtm's sk-unix-listen03); a third still waits for its
     * answer. Refused before ("a connection whose client has closed already waits to be accepted"); the restored
     * server now accepts them in order, reads the gone client's request then end of file, and SO_PEERCRED names the
     * client that connected (the exited child's pid, its own), as it did.
     */
    private static final String CLOSED = String.join("\n",
            "import os, socket, struct, sys, time",
            "path, go, log = sys.argv[1:4]",
            "srv = socket.socket(socket.AF_UNIX)",
            "srv.bind(path)",
            "srv.listen(8)",
            "child = os.fork()",
            "if child == 0:",
            "    c = socket.socket(socket.AF_UNIX)",
            "    c.connect(path)",
            "    c.sendall(b'GET /gone\\n')",
            "    c.sendall(b'Host: x\\n')",
            "    c.close()",
            "    os._exit(0)",
            "os.waitpid(child, 0)",
            "silent = socket.socket(socket.AF_UNIX)",
            "silent.connect(path)",
            "silent.close()",
            "live = socket.socket(socket.AF_UNIX)",
            "live.connect(path)",
            "live.sendall(b'GET /live\\n')",
            "print('ready', flush=True)",
            "while not os.path.exists(go):",
            "    time.sleep(0.05)",
            "def take():",
            "    s, _ = srv.accept()",
            "    return s, struct.unpack('iII', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]",
            "def whole(s):",
            "    data = b''",
            "    while True:",
            "        d = s.recv(4096)",
            "        if not d:",
            "            return data",
            "        data += d",
            "got = []",
            "s, pid = take()",
            "got.append((pid == child, whole(s)))",
            "s, pid = take()",
            "got.append((pid == os.getpid(), whole(s)))",
            "s, pid = take()",
            "got.append((pid == os.getpid(), s.recv(64)))",
            "s.sendall(b'ok\\n')",
            "got.append(live.recv(64))",
            "ok = got == [(True, b'GET /gone\\nHost: x\\n'), (True, b''), (True, b'GET /live\\n'), b'ok\\n']",
            "with open(log, 'w') as f:",
            "    f.write('PASS\\n' if ok else 'FAIL %r child %d\\n' % (got, child))", "");

    @Test
    void connectionsWhoseClientsClosedBeforeTheDumpAreAcceptedAfterTheRestoreWithWhatTheySent() throws Exception {
        Files.writeString(tmp.resolve("closed.py"), CLOSED);
        Path go = tmp.resolve("go"), log = tmp.resolve("verdict");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("closed.out"), "/usr/bin/python3",
                tmp.resolve("closed.py").toString(), tmp.resolve("s.sock").toString(), go.toString(), log.toString()))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                Files.writeString(go, "");
                DetachedProcess.awaitCondition(() -> Files.exists(log) && !text(log).isEmpty(), Duration.ofSeconds(30),
                        "the restored server to accept");
                assertEquals("PASS\n", text(log));
            } finally {
                RealServersTest.killTree(r.pid().value());
            }
        }
    }

    @Test
    void connectionsNeverAcceptedDuringTheDumpComeBackWithTheBytesTheirClientsSent() throws Exception {
        Files.writeString(tmp.resolve("stalled.py"), STALLED);
        Path go = tmp.resolve("go"), log = tmp.resolve("verdict");
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("stalled.out"), "/usr/bin/python3",
                tmp.resolve("stalled.py").toString(), tmp.resolve("s.sock").toString(), go.toString(), log.toString()))) {
            DetachedProcess r = DumpRestore.dumpAndRestore(p, tmp.resolve("img"));
            try {
                Files.writeString(go, "");
                DetachedProcess.awaitCondition(() -> Files.exists(log) && !text(log).isEmpty(), Duration.ofSeconds(30),
                        "the restored server to answer");
                assertEquals("PASS\n", text(log));
            } finally {
                RealServersTest.killTree(r.pid().value());
            }
        }
    }

    @Test
    void aServerWithConnectionsCarryingBytesInItsBacklogIsDumpedOnceItAcceptsThem() throws Exception {
        Files.writeString(tmp.resolve("server.py"), SERVER);
        Path out = tmp.resolve("served.log");
        try (DetachedProcess p = DetachedProcess.start(tmp.resolve("server.out"), "/usr/bin/python3",
                tmp.resolve("server.py").toString(), tmp.resolve("s.sock").toString(), out.toString())) {
            DetachedProcess.awaitCondition(() -> served(out) >= 3, Duration.ofSeconds(30), "the server to serve");
            for (int i = 1; i <= 3; i++) { // without the retries, all four dumps pass about once in 40 runs
                DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img" + i));
            }
            DumpRestore d = DumpRestore.dumpLeavingRunning(p.pid().value(), tmp.resolve("img"));
            RestoreTest.killAndReap(p);
            int before = served(out);
            DetachedProcess r = d.restoreDetached(p.output());
            try {
                DetachedProcess.awaitCondition(() -> served(out) >= before + 3, Duration.ofSeconds(30),
                        "the restored server to serve its client on");
                assertFalse(text(out).contains("FAIL"), text(out));
            } finally {
                RealServersTest.killTree(r.pid().value());
            }
        }
    }

    private static String text(Path f) {
        try {
            return Files.readString(f);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private static int served(Path out) {
        return (int) text(out).lines().filter(l -> l.startsWith("served ")).count();
    }
}
