package dev.cryo.actors.cluster;

import dev.cryo.engine.files.PrivateModes;
import dev.cryo.api.CryoException;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.engine.HolderLock;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.dump.DumpStats;
import dev.cryo.engine.files.SocketDumpState;
import dev.cryo.kernel.Pid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The local CLI's way into a running agent: a unix socket (0600 in a 0700 directory, so only the
 * agent's user, root, gets in) on which the agent takes {@code cryo dump} and {@code cryo restore -d}
 * and runs them in its warm JVM, instead of each command starting an actor system of its own.
 * One request and one reply per connection, in a small fixed binary layout; every string is bounded.
 */
public final class LocalAgent {
    private static final int MAGIC = 0x6372796d; // "crym", layout version 3 (a dump's filled and zero pages per round)
    private static final byte DUMP = 1;
    private static final byte RESTORE = 2;
    /** A restore whose pages the agent serves lazily ({@code restore -d --lazy-pages}): its JVM lives on. */
    private static final byte RESTORE_LAZY = 3;
    private static final int MAX_STRING = 64 << 10;
    private static final int MAX_LIST = 1 << 20;

    private LocalAgent() {}

    /** What the agent does with the requests (its actor system). */
    public interface Jobs {
        /** {@code clientGone} completes, with the reason, if the CLI that asked goes away first: the dump is given up. */
        DumpReport dump(DumpRequest request, CompletionStage<String> clientGone) throws CryoException;

        RestoreReport restore(RestoreRequest request) throws CryoException;

        /** The page server of a lazy restore of {@code imageDir} (with the agent's chunk bound). */
        dev.cryo.engine.restore.LazyPages lazyPages(Path imageDir);

        /** The tree rooted at {@code rootPid} runs; its pages come from {@code pages} (listed by `cryo agents`). */
        default void servingLazily(int rootPid, Path imageDir, dev.cryo.engine.restore.LazyPages pages) {}
    }

    // ---- client (the CLI) ----------------------------------------------------------------------

    /**
     * Runs the dump through the agent listening on socket; empty when no agent listens there (the
     * caller then dumps in-process). A failure of the dump itself is a {@link CryoException}.
     */
    public static Optional<DumpReport> dump(Path socket, DumpRequest r) throws IOException {
        return dump(socket, r, giveUp -> { });
    }

    /**
     * As {@link #dump(Path, DumpRequest)}; once the request is sent, {@code sent} gets an action that
     * gives the dump up (a CLI interrupted by SIGINT): it shuts this side's output, which the agent
     * reads as its caller gone, so it cancels the dump, releases the tree and still answers.
     */
    public static Optional<DumpReport> dump(Path socket, DumpRequest r, java.util.function.Consumer<Runnable> sent)
            throws IOException {
        try (SocketChannel ch = open(socket)) {
            if (ch == null) return Optional.empty();
            DataOutputStream out = new DataOutputStream(Channels.newOutputStream(ch));
            out.writeInt(MAGIC);
            out.writeByte(DUMP);
            out.writeInt(r.pid().value());
            out.writeUTF(r.imageDir().toString());
            out.writeBoolean(r.leaveRunning());
            out.writeBoolean(r.shellJob());
            out.writeBoolean(r.preCopy());
            out.writeBoolean(r.sockets().tcpEstablished());
            out.writeBoolean(r.sockets().tcpClose());
            out.writeBoolean(r.sockets().extUnixSk());
            out.writeBoolean(r.sockets().tcpSkipInFlight());
            out.writeBoolean(r.leaveStopped());
            out.flush();
            sent.accept(() -> {
                try {
                    ch.shutdownOutput();
                } catch (IOException closedMeanwhile) {
                    // answered and closed: nothing left to give up
                }
            });
            DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
            checkOk(in, () -> "the dump of pid " + r.pid() + " did not finish; " + treeNow(r.pid().value())
                    + (Files.exists(r.imageDir().resolve("image.cryo")) ? "; " + r.imageDir().resolve("image.cryo")
                    + " was committed before" : "; no image was committed"));
            return Optional.of(readDumpReport(in));
        }
    }

    /** Runs a restore through the agent (the restored root becomes the agent's child); empty without an agent. */
    public static Optional<RestoreReport> restore(Path socket, RestoreRequest r) throws IOException {
        try (SocketChannel ch = open(socket)) {
            if (ch == null) return Optional.empty();
            DataOutputStream out = new DataOutputStream(Channels.newOutputStream(ch));
            out.writeInt(MAGIC);
            out.writeByte(r.lazy() != null ? RESTORE_LAZY : RESTORE);
            out.writeUTF(r.imageDir().toString());
            out.writeBoolean(r.tcpClose());
            out.writeBoolean(r.leaveStopped());
            out.writeBoolean(r.tcpLockElsewhere());
            out.flush();
            DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
            checkOk(in, () -> "the restore of " + r.imageDir() + " may not have finished: the tasks it was making died"
                    + " with the agent, a tree it had resumed runs on (`cryo show " + r.imageDir() + " ps` lists its pids)");
            return Optional.of(new RestoreReport(Path.of(in.readUTF()), in.readInt(), ints(in), in.readInt(),
                    in.readLong(), in.readLong(), in.readLong()));
        }
    }

    /** What became of a tree whose dump an agent left: running, stopped, traced, or gone (from /proc). */
    public static String treeNow(int pid) {
        try {
            dev.cryo.kernel.proc.ProcStatus status = dev.cryo.kernel.proc.ProcFs.status(Pid.of(pid));
            if (status.tracerPid() != 0) {
                return "pid " + pid + " is traced by pid " + status.tracerPid();
            }
            if (status.state() == 'Z' || status.state() == 'X') {
                return "pid " + pid + " is gone";
            }
            if (status.state() == 'T' || status.state() == 't') {
                return "pid " + pid + " is stopped (`kill -CONT " + pid + "` lets it run)";
            }
            return "pid " + pid + " runs on";
        } catch (RuntimeException e) {
            return "pid " + pid + " is gone";
        }
    }

    /** Null when nothing listens on socket (no file, or a stale one nobody accepts on). */
    private static SocketChannel open(Path socket) throws IOException {
        if (socket == null || !Files.exists(socket)) {
            return null;
        }
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return ch;
        } catch (IOException refused) { // ECONNREFUSED: an agent that died left its socket behind
            ch.close();
            return null;
        }
    }

    private static void checkOk(DataInputStream in, java.util.function.Supplier<String> unfinished) throws IOException {
        boolean ok;
        String message;
        try {
            ok = in.readBoolean();
            message = in.readUTF();
        } catch (EOFException e) {
            throw new CryoException("the local agent ended before it answered (killed, or it crashed): " + unfinished.get());
        } catch (IOException e) { // a reset
            throw new CryoException("the local agent's connection failed before it answered (" + e.getMessage() + "): "
                    + unfinished.get());
        }
        if (!ok) {
            throw new CryoException(message);
        }
    }

    private static DumpReport readDumpReport(DataInputStream in) throws IOException {
        Path dir = Path.of(in.readUTF());
        List<Integer> pids = ints(in);
        boolean left = in.readBoolean();
        DumpStats s = new DumpStats(in.readInt(), in.readInt(), in.readLong(), in.readLong(), in.readLong(), in.readLong(),
                in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readLong());
        return new DumpReport(dir, pids, left, s, longs(in), longs(in));
    }

    private static List<Integer> ints(DataInputStream in) throws IOException {
        int n = count(in);
        List<Integer> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(in.readInt());
        return out;
    }

    private static List<Long> longs(DataInputStream in) throws IOException {
        int n = count(in);
        List<Long> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(in.readLong());
        return out;
    }

    private static int count(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > MAX_LIST) throw new IOException("a list of " + n + " entries is out of bounds");
        return n;
    }

    // ---- server (the agent) --------------------------------------------------------------------

    /**
     * Listens on socket until closed; one thread per request (a dump or restore takes a while). One
     * agent per socket: {@link #claim} takes {@code SOCKET.lock} (an flock the kernel drops when its
     * holder dies, naming the holder's pid) before the agent starts anything, so a second agent is
     * refused at once by name, and a socket left by a killed agent is known stale and replaced.
     */
    public static final class Server implements AutoCloseable {
        // here, not in LocalAgent: the client (a cold CLI) must not start logging to send a request
        private static final Logger log = LoggerFactory.getLogger(LocalAgent.class);
        private final Path path;
        private final HolderLock claim;
        private ServerSocketChannel server;

        private Server(Path socket, HolderLock claim) {
            this.path = socket;
            this.claim = claim;
        }

        /** This agent's claim on socket; refused, naming the other agent's pid, while another holds it. */
        public static Server claim(Path socket) throws IOException {
            Path dir = socket.toAbsolutePath().getParent();
            Files.createDirectories(dir, PrivateModes.DIR_ATTRIBUTE);
            Files.setPosixFilePermissions(dir, PrivateModes.DIR);
            Path lock = socket.resolveSibling(socket.getFileName() + ".lock");
            HolderLock held;
            try {
                held = HolderLock.take(lock);
            } catch (HolderLock.Held h) {
                throw new IOException("another cryo agent" + (h.holder().isEmpty() ? "" : " (pid " + h.holder() + ")")
                        + " serves the local socket " + socket + ": one agent per socket; stop that one first (SIGTERM),"
                        + " or give this one a socket of its own (cryo.cluster.local-socket)");
            }
            Files.setPosixFilePermissions(lock, PrivateModes.FILE);
            if (Files.exists(socket)) {
                if (listening(socket)) { // an agent of a build that took no lock
                    held.close();
                    throw new IOException("another cryo agent serves the local socket " + socket
                            + ": one agent per socket; stop that one first (SIGTERM)");
                }
                Files.delete(socket); // left by an agent that was killed
                log.info("local socket {}: removed the one a killed agent left", socket);
            }
            return new Server(socket, held);
        }

        /** Takes requests on the claimed socket from now on. */
        public void listen(Jobs jobs) throws IOException {
            Path socket = path;
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PrivateModes.FILE);
            Thread acceptor = new Thread(() -> {
                while (server.isOpen()) {
                    try {
                        SocketChannel c = server.accept();
                        Thread t = new Thread(() -> serve(c, jobs), "cryo-local-request");
                        t.setDaemon(true);
                        t.start();
                    } catch (IOException e) {
                        if (server.isOpen()) log.warn("local socket {}: accept failed: {}", socket, e.getMessage());
                    }
                }
            }, "cryo-local-socket");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        private static boolean listening(Path socket) {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(socket));
                return true;
            } catch (IOException e) {
                return false;
            }
        }

        private static void serve(SocketChannel c, Jobs jobs) {
            String what = "a request";
            java.util.concurrent.atomic.AtomicBoolean answered = new java.util.concurrent.atomic.AtomicBoolean();
            try (c) {
                DataInputStream in = new DataInputStream(Channels.newInputStream(c));
                DataOutputStream out = new DataOutputStream(Channels.newOutputStream(c));
                if (in.readInt() != MAGIC) {
                    log.warn("local socket: a request in an unknown layout; refused");
                    return;
                }
                byte kind = in.readByte();
                try {
                    if (kind == DUMP) {
                        DumpRequest r = new DumpRequest(Pid.of(in.readInt()), Path.of(bounded(in.readUTF())),
                                in.readBoolean(), in.readBoolean(), new DumpProgress(), in.readBoolean(),
                                new SocketDumpState.Options(in.readBoolean(), in.readBoolean(), in.readBoolean(), in.readBoolean()),
                                in.readBoolean());
                        what = "the dump of pid " + r.pid();
                        log.info("local request: dump pid {} into {}", r.pid(), r.imageDir());
                        DumpReport rep = jobs.dump(r, clientGone(c, answered, what, "the dump is given up"));
                        answered.set(true);
                        out.writeBoolean(true);
                        out.writeUTF("");
                        writeDumpReport(out, rep);
                    } else if (kind == RESTORE || kind == RESTORE_LAZY) {
                        RestoreRequest r = new RestoreRequest(Path.of(bounded(in.readUTF())), in.readBoolean())
                                .leavingStopped(in.readBoolean()).lockElsewhere(in.readBoolean()).detaching(true); // the agent stays, the client goes
                        if (kind == RESTORE_LAZY) {
                            r = r.withLazyPages(jobs.lazyPages(r.imageDir()));
                        }
                        what = "the restore of " + r.imageDir();
                        log.info("local request: restore {}{}", r.imageDir(), kind == RESTORE_LAZY ? " (lazy pages)" : "");
                        clientGone(c, answered, what, "the restore goes on: its tree runs, or is killed if it fails");
                        RestoreReport rep;
                        try {
                            rep = jobs.restore(r);
                        } catch (RuntimeException e) {
                            if (r.lazy() != null) {
                                r.lazy().close();
                            }
                            throw e;
                        }
                        if (r.lazy() != null) {
                            jobs.servingLazily(rep.rootPid(), r.imageDir(), r.lazy());
                            serveLazily(r, rep.rootPid());
                        }
                        what = what + " (root pid " + rep.rootPid() + ", running)";
                        answered.set(true);
                        out.writeBoolean(true);
                        out.writeUTF("");
                        out.writeUTF(rep.imageDir().toString());
                        out.writeInt(rep.rootPid());
                        writeInts(out, rep.pids());
                        out.writeInt(rep.threads());
                        out.writeLong(rep.pagesWritten());
                        out.writeLong(rep.totalMillis());
                        out.writeLong(rep.memoryMillis());
                    } else {
                        log.warn("local socket: unknown request kind {}; refused", kind);
                        return;
                    }
                } catch (CryoException e) {
                    answered.set(true);
                    out.writeBoolean(false);
                    out.writeUTF(e.getMessage() == null ? e.toString() : e.getMessage());
                }
                out.flush();
            } catch (IOException e) {
                log.warn("local socket: {}: the answer did not reach the cryo that asked ({})", what, e.toString());
            } catch (RuntimeException e) {
                log.warn("local socket: {} failed: {}", what, e.toString());
            }
        }

        /** The agent serves the pages of a lazy restore whose tree runs, and logs when the last one is in. */
        private static void serveLazily(RestoreRequest r, int root) {
            log.info("lazy restore of {} (root pid {}): its tree runs; this agent serves its pages", r.imageDir(), root);
            r.lazy().whenDone().whenComplete((summary, e) -> {
                if (e == null) {
                    log.info("lazy restore of {} (root pid {}): every page is in: {}", r.imageDir(), root, summary);
                } else {
                    log.warn("lazy restore of {} (root pid {}): serving its pages failed, the tasks waiting for one are"
                            + " killed by its watcher: {}", r.imageDir(), root, e.toString());
                }
                r.lazy().close();
            });
        }

        /**
         * Completes once the client closes its end (it sends nothing after its request: a read ends
         * only when it went away, killed or interrupted, or when this side closes after the answer).
         * It reads the channel itself: a stream of {@link Channels} holds the channel's blocking lock
         * while it reads, and the answer's stream would wait for it.
         */
        private static CompletionStage<String> clientGone(SocketChannel c, java.util.concurrent.atomic.AtomicBoolean answered,
                                                          String what, String then) {
            CompletableFuture<String> gone = new CompletableFuture<>();
            Thread t = new Thread(() -> {
                try {
                    if (c.read(java.nio.ByteBuffer.allocate(1)) >= 0) {
                        return; // not our protocol: nothing follows a request
                    }
                } catch (java.nio.channels.ClosedChannelException closedAfterTheAnswer) {
                    return;
                } catch (IOException e) {
                    // a reset: gone as well
                }
                if (answered.get()) {
                    return; // it read the answer and closed
                }
                log.info("local request: the cryo that asked for {} went away; {}", what, then);
                gone.complete("the cryo that asked for it went away");
            }, "cryo-local-client");
            t.setDaemon(true);
            t.start();
            return gone;
        }

        private static String bounded(String s) throws IOException {
            if (s.length() > MAX_STRING || !s.startsWith("/")) throw new IOException("not an absolute path: " + s);
            return s;
        }

        private static void writeDumpReport(DataOutputStream out, DumpReport r) throws IOException {
            out.writeUTF(r.imageDir().toString());
            writeInts(out, r.pids());
            out.writeBoolean(r.leftRunning());
            DumpStats s = r.stats();
            out.writeInt(s.tasks());
            out.writeInt(s.threads());
            for (long v : new long[] {s.frozenMillis(), s.totalMillis(), s.pagesScanned(), s.pagesSkipped(),
                    s.pagesWritten(), s.zeroPages(), s.filledPages(), s.imageBytes(), s.copyMillis()}) {
                out.writeLong(v);
            }
            for (List<Long> round : List.of(r.roundPages(), r.roundZeroPages())) {
                out.writeInt(round.size());
                for (long p : round) out.writeLong(p);
            }
        }

        private static void writeInts(DataOutputStream out, List<Integer> v) throws IOException {
            out.writeInt(v.size());
            for (int i : v) out.writeInt(i);
        }

        @Override
        public void close() {
            try {
                if (server != null) {
                    server.close();
                    Files.deleteIfExists(path);
                }
            } catch (IOException ignored) {
                // going away anyway
            }
            claim.close(); // the claim goes last: the next agent finds no socket of ours
        }
    }
}
