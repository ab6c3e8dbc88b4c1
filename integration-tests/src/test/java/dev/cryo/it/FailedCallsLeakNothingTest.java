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

    private static TreeMap<Integer, String> openFds() throws IOException {
        TreeMap<Integer, String> out = new TreeMap<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    out.put(Integer.parseInt(fd.getFileName().toString()), Files.readSymbolicLink(fd).toString());
                } catch (IOException gone) {
                    // the listing's own fd
                }
            }
        }
        return out;
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
            // a failed call completes once its failure is known: an actor of it may still be closing what it
            // read (a task's fd directory was seen open once, under load); a leak stays open for good
            TreeMap<Integer, String> after = openFds();
            after.keySet().removeAll(before.keySet());
            for (long deadline = System.nanoTime() + 10_000_000_000L; !after.isEmpty() && System.nanoTime() < deadline; ) {
                Thread.sleep(100);
                after = openFds();
                after.keySet().removeAll(before.keySet());
            }
            assertEquals(new TreeMap<>(), after, "fds left open by failed calls (" + before.size() + " before)");
            assertTrue(Workloads.check(running).contains("PASS"), running.outputText());
        }
    }

    @Test
    void dumpsOfSocketsHoldingUnreadErrorsLeaveNoFdOpen() throws Exception {
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
            Runnable dump = new Runnable() {
                int n;
                public void run() {
                    cryo.dump(DumpRequest.of(errored.pid().value(), tmp.resolve("d" + n++)).leavingRunning(true))
                            .toCompletableFuture().join();
                }
            };
            dump.run(); // loads classes and opens what cryo keeps for good
            TreeMap<Integer, String> before = openFds();
            for (int i = 0; i < 3; i++) {
                dump.run();
            }
            TreeMap<Integer, String> after = openFds();
            after.keySet().removeAll(before.keySet());
            for (long deadline = System.nanoTime() + 10_000_000_000L; !after.isEmpty() && System.nanoTime() < deadline; ) {
                Thread.sleep(100);
                after = openFds();
                after.keySet().removeAll(before.keySet());
            }
            assertEquals(new TreeMap<>(), after, "fds left open by dumps of sockets holding unread errors");
        }
    }
}
