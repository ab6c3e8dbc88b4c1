package dev.cryo.actors.cluster;

import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLParameters;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Semaphore;

/**
 * The page channel between agents: a TCP connection with TLS 1.3 and mutual authentication (the
 * cluster's keys on both ends), outside Artery, carrying one image in the image file format. The
 * stream opens with the migration id (36 ASCII bytes), then the image's bytes until the sender
 * half-closes; the back direction carries receipts (see {@link Receipts}), then, once the image is
 * restored, "running" ({@link Running}) before the receiver closes.
 *
 * <p>Blocking sockets with the JDK's TLS engine driven by {@link TlsLink} (large writes and reads,
 * not SSLSocket's call per record), one thread per direction and end, not Pekko Streams: Pekko's TLS
 * stage (an actor wrapping one 16 KiB record per message, each copied twice between heap buffers
 * and ByteStrings, with several actor hops per record each way) moved 80-110 MiB/s on loopback
 * here where a plain JDK TLS socket moved 450-700 MiB/s and plain Streams TCP alone ~0.5 GB/s. The
 * dump's writer thread encrypts and a thread of the connection's own hands the records to the kernel
 * meanwhile ({@link WriteBehind}: the kernel's send costs about what the cipher does, and on one
 * thread the two took turns); the receiver's thread reads, decrypts and checks while a thread of its
 * own writes the staging file (see {@link ImageArrival.Tee}). Back-pressure is
 * TCP's own (a full window blocks the kernel write, then the encrypting thread waits for a free
 * buffer); bytes in flight are bounded by the socket buffers (1 MiB each end) plus the sender's two
 * encrypted batches (256 KiB each): whatever is queued when the tree freezes drains inside the downtime.
 */
public final class PageChannel {
    private static final Logger log = LoggerFactory.getLogger(PageChannel.class);
    static final int ID_LENGTH = 36;
    private static final String[] PROTOCOLS = {"TLSv1.3"};
    /**
     * AES-128-GCM first: the JDK's default order puts AES-256 first, and the cipher is a good part of
     * this channel's cost (both ends encrypt or decrypt every byte; AES-128 runs 10 rounds to
     * AES-256's 14). Both are AEAD ciphers of TLS 1.3; a peer without the first falls back to the
     * second. No ChaCha20 (no intrinsic on Java 17: ~0.2 GiB/s).
     */
    private static final String[] SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"};
    /** Socket buffers of both ends: what is in flight when a round ends (see the class comment). */
    private static final int SOCKET_BUFFER = 1 << 20;
    /** The sender's writes: one JSSE call encrypts up to this many bytes (as 16 KiB records). */
    private static final int WRITE_BUFFER = 256 << 10;
    /** A gathered write of at least this many bytes is encrypted from the caller's buffers, not copied first (one TLS record). */
    private static final int DIRECT_WRITE = 16 << 10;
    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
    /** Connections being received at once (each has a thread); more are closed at once. */
    private static final int MAX_CONNECTIONS = 32;
    /** On the back direction, in place of a receipt (whose counts are never negative): {@link Running} follows. */
    private static final long RUNNING = -1;
    /**
     * The receiver's receipt waits this long for more of the image first: on a link slower than
     * the receiver (1 Gbit/s) most reads wait a moment, and a receipt each time made 1,000-13,000 per
     * GiB (a TLS record each way and a wake-up of the sender's receipt thread each, where a fast link
     * needs 10-100); a round's end (the sender waiting for it) hears it this much later.
     */
    static final int RECEIPT_DELAY_MILLIS = 1;
    /** More pids than this in a "running" is no answer of an agent's. */
    private static final int MAX_PIDS = 1 << 16;

    /**
     * The image's tree runs on the receiver's host: the receiving agent says it on this channel's
     * back direction, where the sender's receipt thread is reading anyway, as soon as the restore
     * ends (also through Artery: a message there crosses two actor hops and the remoting's own
     * threads, 6-9 ms quiet and tens of ms under load, all of it downtime as the source counts it).
     * Back direction: {@code RUNNING}, the restore's ms, the count of pids and the pids, 8 bytes each.
     */
    public record Running(long restoreMillis, java.util.List<Integer> pids) {}

    private PageChannel() {}

    /** An engine as the channel uses it: TLS 1.3, its cipher suites, the client authenticated too. */
    static SSLEngine engine(SSLContext tls, boolean client, String host, int port) {
        SSLEngine e = client ? tls.createSSLEngine(host, port) : tls.createSSLEngine();
        e.setUseClientMode(client);
        e.setSSLParameters(parameters(e.getSSLParameters(), client));
        return e;
    }

    private static SSLParameters parameters(SSLParameters p, boolean client) {
        p.setProtocols(PROTOCOLS);
        p.setCipherSuites(SUITES);
        if (!client) {
            p.setNeedClientAuth(true); // only holders of the cluster's keys get past the handshake
        }
        return p;
    }

    /**
     * Runs this JVM's TLS record path (JSSE's records, AES-GCM both ways) through two engines in
     * memory, {@code records} small records each way, so that the JIT has compiled it before the
     * first image. Cold, the first few hundred MiB of an agent's first migration went through GCM
     * code run interpreted, then without its intrinsics. Two JDK TLS sockets on loopback at load
     * 24-32, the first 256 MiB: 5.8-8.2 CPU-s/GiB sending and 3.7-6.0 receiving cold, 2.6-2.9 and
     * 3.2-3.3 after 4000 records each way (about 0.6 and 1 when warm). Small records: the compiler
     * counts calls, not bytes.
     */
    public static void warmUp(SSLContext tls, int records) throws IOException {
        SSLEngine client = tls.createSSLEngine(), server = tls.createSSLEngine();
        client.setUseClientMode(true);
        client.setSSLParameters(parameters(client.getSSLParameters(), true));
        server.setUseClientMode(false);
        server.setSSLParameters(parameters(server.getSSLParameters(), false));
        int net = Math.max(client.getSession().getPacketBufferSize(), server.getSession().getPacketBufferSize()) * 4;
        ByteBuffer toServer = ByteBuffer.allocate(net).flip(), toClient = ByteBuffer.allocate(net).flip();
        ByteBuffer data = ByteBuffer.allocate(1024);
        ByteBuffer in = ByteBuffer.allocate(Math.max(client.getSession().getApplicationBufferSize(),
                server.getSession().getApplicationBufferSize()));
        client.beginHandshake();
        server.beginHandshake();
        for (int i = 0; handshaking(client) || handshaking(server); i++) {
            if (i == 1000) {
                throw new IOException("no TLS handshake between two engines in memory");
            }
            handshakeStep(client, toServer, toClient, in);
            handshakeStep(server, toClient, toServer, in);
        }
        for (int i = 0; i < records; i++) {
            pass(client, server, data, toServer, in);
            pass(server, client, data, toClient, in);
        }
        // a stream's end, as the destination reads an image's: its alert's classes were loaded in the first downtime
        client.closeOutbound();
        toServer.compact();
        client.wrap(ByteBuffer.allocate(0), toServer);
        toServer.flip();
        server.unwrap(toServer, in.clear());
    }

    private static boolean handshaking(SSLEngine e) {
        HandshakeStatus h = e.getHandshakeStatus();
        return h != HandshakeStatus.NOT_HANDSHAKING && h != HandshakeStatus.FINISHED;
    }

    /** What one engine of the pair can do now; {@code out} and {@code peer} hold records not yet read. */
    private static void handshakeStep(SSLEngine e, ByteBuffer out, ByteBuffer peer, ByteBuffer in) throws IOException {
        for (int k = 0; k < 50; k++) {
            switch (e.getHandshakeStatus()) {
                case NEED_WRAP -> {
                    out.compact();
                    e.wrap(ByteBuffer.allocate(0), out);
                    out.flip();
                }
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    if (!peer.hasRemaining()) {
                        return;
                    }
                    e.unwrap(peer, in.clear());
                }
                case NEED_TASK -> {
                    for (Runnable t; (t = e.getDelegatedTask()) != null; ) {
                        t.run();
                    }
                }
                default -> {
                    return;
                }
            }
        }
    }

    private static void pass(SSLEngine from, SSLEngine to, ByteBuffer data, ByteBuffer net, ByteBuffer in) throws IOException {
        net.compact();
        from.wrap(data.clear(), net);
        net.flip();
        while (net.hasRemaining() && to.unwrap(net, in.clear()).bytesConsumed() > 0) {
            // a post-handshake message (a session ticket) may come before the record
        }
    }

    /** Opens a channel to host:port for image {@code id}. Closing the returned channel ends the image. */
    public static Sender connect(ActorSystem<?> system, SSLContext tls, String host, int port, String id,
                                 Duration connectTimeout, Duration ioTimeout) throws IOException {
        Socket raw = new Socket();
        try {
            raw.setSendBufferSize(SOCKET_BUFFER);
            raw.setTcpNoDelay(true); // receipts and a round's last bytes go at once
            raw.connect(new InetSocketAddress(host, port), (int) Math.max(1, connectTimeout.toMillis()));
            raw.setSoTimeout((int) Math.max(1, connectTimeout.toMillis()));
            TlsLink link = TlsLink.open(raw, engine(tls, true, host, port), true); // encrypts while the kernel sends
            raw.setSoTimeout((int) Math.max(1, ioTimeout.toMillis())); // receipts: see Sender.readReceipts
            Sender sender = new Sender(system, raw, link, ioTimeout);
            sender.out.write(id.getBytes(StandardCharsets.US_ASCII));
            sender.out.flush();
            return sender;
        } catch (IOException | RuntimeException e) {
            abort(raw);
            if (e instanceof java.net.SocketTimeoutException) {
                throw new IOException("no TLS connection within " + connectTimeout.toSeconds() + " s", e);
            }
            throw e;
        }
    }

    /** Closes at once with a reset (a blocked write or read fails), without the TLS goodbye that could block. */
    private static void abort(Socket raw) {
        try {
            if (!raw.isClosed()) {
                raw.setSoLinger(true, 0);
            }
        } catch (IOException ignored) {
            // closing anyway
        }
        try {
            raw.close();
        } catch (IOException ignored) {
            // nothing more to do
        }
    }

    /**
     * The sending end: {@link #channel()} takes the image (closing it half-closes the connection:
     * the receiver sees the end), {@link #delivery()} hears the receiver's receipts, {@link #cut()}
     * aborts at once, which fails a write blocked on a dead link (the dump then resumes the tree).
     * A write that makes no progress for the io timeout is cut the same way.
     */
    public static final class Sender {
        private final Socket raw;
        private final TlsLink link;
        private final OutputStream out;
        private final Receipts receipts;
        private final Channel channel = new Channel();
        private final Cancellable watchdog;
        private volatile long writingSince; // 0: not in a write
        private volatile long endedAt; // when the image's end went out (nanoTime | 1); 0: not yet
        private final long silenceBound;
        private volatile String cutReason;
        private volatile java.util.function.Consumer<Running> onRunning = r -> { };

        private Sender(ActorSystem<?> system, Socket raw, TlsLink link, Duration ioTimeout) {
            this.raw = raw;
            this.link = link;
            this.out = link.output();
            this.receipts = new Receipts(this::flush, ioTimeout);
            this.silenceBound = ioTimeout.toNanos();
            InputStream in = link.input();
            Thread reader = new Thread(() -> readReceipts(in), "cryo-page-receipts");
            reader.setDaemon(true);
            reader.start();
            long bound = ioTimeout.toNanos();
            Duration tick = Duration.ofMillis(Math.max(100, Math.min(1000, ioTimeout.toMillis() / 4)));
            watchdog = system.scheduler().scheduleAtFixedRate(tick, tick, () -> {
                long since = writingSince;
                if (since != 0 && System.nanoTime() - since > bound) {
                    cut("no progress on the page channel for " + ioTimeout.toSeconds() + " s");
                }
            }, system.executionContext());
        }

        /**
         * Receipts until the receiver closes. While the image is being written, silence is no failure
         * (the writes' watchdog bounds a dead link); once it is all sent, a receiver silent for the io
         * timeout since the end is let go. The read's timeout counts from the read's start, which may be
         * long before the end: a small image written for ~5 s at load 35 was let go at once after its end,
         * and the receiver's last receipt failed with a broken pipe (PageChannelTest).
         */
        private void readReceipts(InputStream in) {
            String failure = null;
            try (DataInputStream d = new DataInputStream(in)) {
                while (true) {
                    try {
                        long v = d.readLong();
                        if (v == RUNNING) {
                            onRunning.accept(readRunning(d));
                        } else {
                            receipts.taken(v);
                        }
                    } catch (java.net.SocketTimeoutException silent) {
                        long ended = endedAt;
                        if (ended != 0 && System.nanoTime() - ended >= silenceBound) {
                            failure = "no receipt from the receiver since the image ended";
                            return;
                        }
                    }
                }
            } catch (EOFException end) {
                // the receiver closed: all it had to say is said
            } catch (IOException e) {
                failure = cutReason != null ? cutReason : e.getMessage();
            } finally {
                receipts.ended(failure);
                watchdog.cancel();
                abort(raw);
            }
        }

        private static Running readRunning(DataInputStream d) throws IOException {
            long millis = d.readLong(), n = d.readLong();
            if (n < 0 || n > MAX_PIDS) {
                throw new IOException("the receiver said \"running\" with " + n + " pids");
            }
            java.util.List<Integer> pids = new java.util.ArrayList<>();
            for (long i = 0; i < n; i++) {
                pids.add((int) d.readLong());
            }
            return new Running(millis, java.util.List.copyOf(pids));
        }

        /** Who hears the receiver's "running" (on the receipt thread); set before the image ends. */
        public void onRunning(java.util.function.Consumer<Running> listener) {
            onRunning = listener;
        }

        public WritableByteChannel channel() {
            return channel;
        }

        public dev.cryo.engine.image.Delivery delivery() {
            return receipts;
        }

        public void cut() {
            cut("the page channel was cut");
        }

        private void cut(String why) {
            cutReason = why;
            watchdog.cancel();
            abort(raw);
        }

        /**
         * The image's bytes (the writer's thread encrypts). Small writes (chunk headers, records, a
         * few pages) are gathered in a buffer first; a large gathered write (a chunk's header and
         * pages) is encrypted straight from the writer's buffers, behind what is gathered, where every
         * byte was copied into the buffer first.
         */
        private final class Channel implements GatheringByteChannel {
            private final byte[] buf = new byte[WRITE_BUFFER];
            private final ByteBuffer gathered = ByteBuffer.wrap(buf);
            private final ByteBuffer[] pair = new ByteBuffer[3]; // what is gathered, then a chunk's header and payload
            private int fill;
            private boolean open = true;

            @Override
            public int write(ByteBuffer src) throws IOException {
                checkOpen();
                int n = src.remaining();
                while (src.hasRemaining()) {
                    int k = Math.min(buf.length - fill, src.remaining());
                    src.get(buf, fill, k);
                    fill += k;
                    if (fill == buf.length) {
                        push();
                    }
                }
                return n;
            }

            @Override
            public long write(ByteBuffer[] srcs) throws IOException {
                return write(srcs, 0, srcs.length);
            }

            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
                checkOpen();
                long n = 0;
                for (int i = offset; i < offset + length; i++) {
                    n += srcs[i].remaining();
                }
                if (n < DIRECT_WRITE || length > pair.length - 1) {
                    for (int i = offset; i < offset + length; i++) {
                        write(srcs[i]);
                    }
                    return n;
                }
                pair[0] = gathered.limit(fill).position(0);
                System.arraycopy(srcs, offset, pair, 1, length);
                java.util.Arrays.fill(pair, 1 + length, pair.length, EMPTY);
                guarded(() -> link.write(pair));
                fill = 0;
                java.util.Arrays.fill(pair, null);
                return n;
            }

            private void checkOpen() throws IOException {
                if (!open) {
                    throw new ClosedChannelException();
                }
            }

            void push() throws IOException {
                push(false);
            }

            /** {@code settle}: returns once all is in the kernel (the link's writer hands it over). */
            void push(boolean settle) throws IOException {
                if (fill == 0 && !settle) {
                    return;
                }
                guarded(() -> {
                    if (fill > 0) {
                        out.write(buf, 0, fill);
                        fill = 0;
                    }
                    if (settle) {
                        out.flush();
                    }
                });
            }

            /** A dead link blocks here: the watchdog cuts it, and the cut's reason is what fails. */
            private void guarded(Io io) throws IOException {
                writingSince = System.nanoTime() | 1;
                try {
                    io.run();
                } catch (IOException e) {
                    throw cutReason != null ? new IOException(cutReason, e) : e;
                } finally {
                    writingSince = 0;
                }
            }

            @Override
            public boolean isOpen() {
                return open;
            }

            /** The end of the image: the receiver reads to its end; receipts still come back until it closes. */
            @Override
            public void close() throws IOException {
                if (!open) {
                    return;
                }
                open = false;
                try {
                    push(true);
                    writingSince = System.nanoTime() | 1;
                    link.shutdownOutput();
                    if (cutReason != null) { // cut meanwhile: the end may not have gone out
                        throw new IOException(cutReason);
                    }
                    endedAt = System.nanoTime() | 1;
                } catch (IOException e) {
                    cut(cutReason != null ? cutReason : e.getMessage());
                    throw e;
                } finally {
                    writingSince = 0;
                }
            }
        }

        /** Buffered bytes out now (a round's end waits for their receipt). */
        void flush() throws IOException {
            channel.push(true);
        }
    }

    private interface Io {
        void run() throws IOException;
    }

    /**
     * "Running" on the back direction once the restore has ended well; nothing if not within the io
     * timeout. Never fails: the image is received already, and Artery says "running" too.
     */
    private static void tellRunning(OutputStream back, java.util.concurrent.CompletableFuture<Running> restored,
                                    Duration ioTimeout) {
        Running r;
        try {
            r = restored.get(ioTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            return; // Artery says it
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (r == null) {
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(Long.BYTES * (3 + r.pids().size()));
        b.putLong(RUNNING).putLong(r.restoreMillis()).putLong(r.pids().size());
        r.pids().forEach(p -> b.putLong(p));
        try {
            back.write(b.array());
            back.flush();
        } catch (IOException e) {
            log.debug("page channel: \"running\" not sent back ({}); Artery says it", e.getMessage());
        }
    }

    /** What the receiving agent does with an incoming image. */
    public interface Receiver {
        /** Where image {@code id} goes, or null to refuse it (unknown id). */
        Path target(String id);

        /** The image is complete on disk and verified (or failed: message non-null). */
        void received(String id, String failure);

        /** Where the root's pages are placed as they arrive (null: nowhere, the restore writes them all). */
        default dev.cryo.engine.restore.ArrivingMemory memory(String id) {
            return null;
        }

        /**
         * Asked before {@link #received}: completed with the tree running once image {@code id} is
         * restored (null if it is not: the sender hears that through Artery); null: nothing to wait for.
         */
        default java.util.concurrent.CompletableFuture<Running> restored(String id) {
            return null;
        }

        /** After {@link #restored}'s answer: "running" is written back, or will not be (failed, timed out). */
        default void told(String id) {
        }
    }

    /**
     * Accepts TLS connections on host:port (0 picks one) until the actor system stops; one thread per
     * incoming image. Nothing is read before the handshake has authenticated the peer with the
     * cluster's keys; a silent peer is dropped after the io timeout, in the handshake too.
     */
    public static final class Server {
        private final ServerSocket listener; // TCP: each connection is made TLS over it (see serve)
        private final Semaphore slots = new Semaphore(MAX_CONNECTIONS);

        public Server(ActorSystem<?> system, SSLContext tls, String host, int port, long maxBytes, long maxChunk,
                      Duration ioTimeout, Receiver receiver) throws IOException {
            this(system, tls, host, port, maxBytes, maxChunk, ioTimeout, () -> receiver);
        }

        /**
         * {@code receivers}: asked once per connection; null until the handler exists (an agent's
         * channel listens before its actor runs): a connection then is refused.
         */
        public Server(ActorSystem<?> system, SSLContext tls, String host, int port, long maxBytes, long maxChunk,
                      Duration ioTimeout, java.util.function.Supplier<Receiver> receivers) throws IOException {
            ServerSocket l = new ServerSocket();
            try {
                l.setReuseAddress(true);
                l.setReceiveBufferSize(SOCKET_BUFFER); // before bind: accepted sockets inherit it, window scale included
                l.bind(new InetSocketAddress(host, port), 16);
            } catch (IOException e) {
                l.close();
                throw new IOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
            }
            listener = l;
            Thread acceptor = new Thread(() -> acceptAll(tls, maxBytes, maxChunk, ioTimeout, receivers), "cryo-page-acceptor");
            acceptor.setDaemon(true);
            acceptor.start();
            system.getWhenTerminated().whenComplete((done, failure) -> close());
        }

        public int port() {
            return listener.getLocalPort();
        }

        /** Stops accepting (the actor system's end does it too); images being received go on. */
        public void close() {
            try {
                listener.close();
            } catch (IOException ignored) {
                // closed anyway
            }
        }

        private void acceptAll(SSLContext tls, long maxBytes, long maxChunk, Duration ioTimeout,
                               java.util.function.Supplier<Receiver> receivers) {
            while (!listener.isClosed()) {
                Socket s;
                try {
                    s = listener.accept();
                } catch (IOException e) {
                    if (!listener.isClosed()) {
                        log.warn("page channel: accept failed: {}", e.getMessage());
                    }
                    continue;
                }
                if (!slots.tryAcquire()) {
                    log.warn("page channel: {} connections at once already; {} closed", MAX_CONNECTIONS, s.getRemoteSocketAddress());
                    abort(s);
                    continue;
                }
                Thread t = new Thread(() -> {
                    try {
                        serve(tls, s, maxBytes, maxChunk, ioTimeout, receivers.get());
                    } finally {
                        slots.release();
                    }
                }, "cryo-page-receiver");
                t.setDaemon(true);
                t.start();
            }
        }

        /**
         * One connection: TLS in server mode over the accepted TCP socket; a receipt is due only before
         * a read that would wait ({@link #RECEIPT_DELAY_MILLIS}).
         */
        private static void serve(SSLContext tls, Socket raw, long maxBytes, long maxChunk, Duration ioTimeout,
                                  Receiver receiver) {
            String from = String.valueOf(raw.getRemoteSocketAddress());
            String id = null;
            try {
                raw.setTcpNoDelay(true);
                raw.setSoTimeout((int) Math.max(1, ioTimeout.toMillis())); // a silent link fails the read
                TlsLink link = TlsLink.open(raw, engine(tls, false, null, 0));
                InputStream in = link.input();
                OutputStream back = link.output();
                byte[] idBytes = in.readNBytes(ID_LENGTH);
                if (idBytes.length < ID_LENGTH) {
                    link.close();
                    return;
                }
                id = new String(idBytes, StandardCharsets.US_ASCII);
                Path target = receiver == null ? null : receiver.target(id);
                if (target == null) {
                    log.warn("page channel: {} sent an image nobody asked for ({}); refused", from, id);
                    abort(raw);
                    return;
                }
                // the back direction carries receipts: how much of the image is taken in (see Receipts)
                byte[] receipt = new byte[Receipts.SIZE];
                dev.cryo.engine.restore.ArrivingMemory memory = receiver.memory(id);
                long total = ImageArrival.receive(in, target, maxBytes, maxChunk, from, memory, taken -> {
                    try {
                        if (memory != null && !memory.sourceFrozen()) {
                            // this end is idle, and a pre-copy round may end with this receipt and
                            // the freeze follow: no young collection in the frozen window (HeapRoom)
                            dev.cryo.actors.HeapRoom.make();
                        }
                        ByteBuffer.wrap(receipt).putLong(0, taken);
                        back.write(receipt);
                        back.flush();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }, () -> {
                    try {
                        return link.awaitInput(RECEIPT_DELAY_MILLIS);
                    } catch (IOException e) {
                        return false; // the read that follows fails the same way
                    }
                });
                log.debug("page channel: image {} received and verified, {} bytes", id, total);
                var restored = receiver.restored(id);
                receiver.received(id, null);
                if (restored != null) {
                    try {
                        tellRunning(back, restored, ioTimeout);
                    } finally {
                        receiver.told(id);
                    }
                }
                link.close();
            } catch (IOException | RuntimeException e) {
                String why = e instanceof java.io.UncheckedIOException u ? u.getCause().getMessage() : e.getMessage();
                if (e instanceof java.net.SocketTimeoutException) {
                    why = "nothing came for " + ioTimeout.toSeconds() + " s";
                }
                boolean closed = raw.isClosed();
                abort(raw);
                if (id != null && receiver != null) {
                    receiver.received(id, "receiving the image failed: " + why);
                } else if (!(e instanceof SocketException && closed)) {
                    log.warn("page channel: connection from {} failed: {}", from, why);
                }
            }
        }
    }
}
