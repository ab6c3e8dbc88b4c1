package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreRequest;
import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Failed dumps and restores through one {@link Cryo} leave none of cryo's own fds open: the open
 * fds of this process are counted (and listed) before and after rounds of failures — a pid that
 * does not exist, a tree refused at dump time after it was seized, an image that is cut short,
 * an image whose pid is in use; and dumps of a tree whose TCP sockets hold errors the program has not read,
 * whose copies cryo takes to read them.
 */
class FailedCallsLeakNothingTest {
    @TempDir
    Path tmp;

    /** This process's open fds and what they are, but for the two a listing of /proc/self/fd holds itself. */
    private static TreeMap<Integer, String> openFds() throws IOException {
        TreeMap<Integer, String> out = new TreeMap<>();
        String listing = "/proc/" + ProcessHandle.current().pid() + "/fd";
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String what = Files.readSymbolicLink(fd).toString();
                    if (!what.equals(listing)) {
                        out.put(Integer.parseInt(fd.getFileName().toString()), what);
                    }
                } catch (IOException gone) {
                    // closed meanwhile
                }
            }
        }
        return out;
    }

    /**
     * Fails naming the fds open now that were not open as the same thing {@code before}. A call completes once
     * its result is known: an actor of it may still be closing what it read, so a leak is what stays for 10 s.
     */
    private static void assertNoneOpenedSince(TreeMap<Integer, String> before, String what) throws Exception {
        TreeMap<Integer, String> after = openFds();
        after.entrySet().removeAll(before.entrySet());
        for (long deadline = System.nanoTime() + 10_000_000_000L; !after.isEmpty() && System.nanoTime() < deadline; ) {
            Thread.sleep(100);
            after = openFds();
            after.entrySet().removeAll(before.entrySet());
        }
        assertEquals(new TreeMap<>(), after, "fds left open by " + what + " (" + before.size() + " before)");
    }

    @Test
    void failedDumpsAndRestoresLeaveNoFdOpen() throws Exception {
        try (Cryo cryo = Cryo.create(); DetachedProcess running = Workloads.counter(Files.createDirectories(tmp.resolve("c")));
             DetachedProcess refused = Workloads.ready(DetachedProcess.start(tmp.resolve("packet.out"), "/usr/bin/python3",
                     "-c", "import socket,struct,time\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
                             + "s.setsockopt(263, 5, struct.pack('4I', 4096, 4, 2048, 8))\n"
                             + "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.mmap.restype = ctypes.c_void_p\n"
                             + "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,"
                             + " ctypes.c_long]\nctypes.memset(libc.mmap(None, 16384, 3, 1, s.fileno(), 0) + 100, 1, 1)\n"
                             + "print('ready', flush=True)\ntime.sleep(600)\n"))) { // refused: a written TPACKET_V1 ring
            Path good = tmp.resolve("good");
            cryo.dump(DumpRequest.of(running.pid().value(), good).leavingRunning(true)).toCompletableFuture().join();
            Path cut = tmp.resolve("cut");
            Files.createDirectories(cut);
            Files.copy(good.resolve("image.cryo"), cut.resolve("image.cryo"));
            try (FileChannel ch = FileChannel.open(cut.resolve("image.cryo"), StandardOpenOption.WRITE)) {
                ch.truncate(ch.size() / 2);
            }
            Runnable round = () -> {
                for (var call : List.<java.util.function.Supplier<java.util.concurrent.CompletionStage<?>>>of(
                        () -> cryo.dump(DumpRequest.of(999_999_0, tmp.resolve("none"))),
                        () -> cryo.dump(DumpRequest.of(refused.pid().value(), tmp.resolve("refused")).leavingRunning(true)),
                        () -> cryo.restore(new RestoreRequest(cut)),
                        () -> cryo.restore(new RestoreRequest(good)))) { // its pid is the running counter's
                    assertThrows(CompletionException.class, () -> call.get().toCompletableFuture().join(),
                            "a call that should fail did not");
                }
            };
            round.run(); // the first round loads classes and opens what cryo keeps for good (jars, logs)
            TreeMap<Integer, String> before = openFds();
            for (int i = 0; i < 3; i++) {
                round.run();
            }
            assertNoneOpenedSince(before, "failed calls");
            assertTrue(Workloads.check(running).contains("PASS"), running.outputText());
        }
    }

    @Test
    void dumpsAndRestoresOfSocketsHoldingUnreadErrorsLeaveNoFdOpen() throws Exception {
        // three sockets whose error waits unread: an unbound one's connect refused, a bound one's, a reset connection
        String program = """
                import socket, struct, time
                closed = socket.socket(); closed.bind(('127.0.0.1', 0)); port = closed.getsockname()[1]; closed.close()
                def refused(bound):
                    s = socket.socket(); s.setblocking(False)
                    if bound:
                        s.bind(('127.0.0.1', 0))
                    s.connect_ex(('127.0.0.1', port))
                    return s
                a, b = refused(False), refused(True)
                lst = socket.socket(); lst.bind(('127.0.0.1', 0)); lst.listen(1)
                c = socket.create_connection(lst.getsockname()); peer, _ = lst.accept(); lst.close()
                peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); peer.close()
                time.sleep(0.2)
                print('ready', flush=True)
                time.sleep(600)
                """;
        try (Cryo cryo = Cryo.create(); DetachedProcess errored = Workloads.ready(DetachedProcess.start(
                tmp.resolve("errored.out"), "/usr/bin/python3", "-c", program))) {
            Runnable dump = new Runnable() { // a dump that leaves it running, then one that kills it and a restore
                int n;
                public void run() {
                    cryo.dump(DumpRequest.of(errored.pid().value(), tmp.resolve("r" + n)).leavingRunning(true))
                            .toCompletableFuture().join();
                    cryo.dump(DumpRequest.of(errored.pid().value(), tmp.resolve("k" + n))).toCompletableFuture().join();
                    cryo.restore(new RestoreRequest(tmp.resolve("k" + n++))).toCompletableFuture().join();
                }
            };
            dump.run(); // loads classes and opens what cryo keeps for good
            TreeMap<Integer, String> before = openFds();
            for (int i = 0; i < 3; i++) {
                dump.run();
            }
            assertNoneOpenedSince(before, "dumps and restores of sockets holding unread errors");
        }
    }
}
