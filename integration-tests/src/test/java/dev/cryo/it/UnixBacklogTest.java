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
 * process holds, which cryo cannot read, so a dump that seizes the tree then lets it run until they are
 * accepted (UnreadQueues) and seizes it again, rather than refusing it.
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
