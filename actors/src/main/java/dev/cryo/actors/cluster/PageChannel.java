package dev.cryo.actors.cluster;

import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.TLSClosing;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;
import org.apache.pekko.stream.javadsl.StreamConverters;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The page channel between agents: a Pekko Streams TCP connection with TLS 1.3 and mutual
 * authentication (the cluster's keys on both ends), outside Artery, carrying one image in the image
 * file format. Back-pressure runs end to end: the dump's writes block on the stream's demand,
 * which follows TCP's window, which follows the receiver's reads. The stream opens with the
 * migration id (36 ASCII bytes), then the image's bytes until the sender completes.
 */
public final class PageChannel {
    private static final Logger log = LoggerFactory.getLogger(PageChannel.class);
    static final int ID_LENGTH = 36;
    private static final String[] PROTOCOLS = {"TLSv1.3"};
    /**
     * AES-128-GCM first: the JDK's default order puts AES-256 first, and the cipher is what bounds
     * this channel (both ends encrypt or decrypt every byte; AES-128 runs 10 rounds to AES-256's 14).
     * Both are AEAD ciphers of TLS 1.3; a peer without the first falls back to the second.
     */
    private static final String[] SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"};
    /**
     * Bytes in flight are bounded, not only back-pressured: a pre-copy round ends when its bytes are
     * queued here, and whatever the queues still hold when the tree freezes drains inside the
     * downtime (1 MiB stream elements, 16 per stage boundary, and autotuned socket buffers held tens
     * of MiB: ~0.6 s of a busy 1 GiB migration's downtime). Elements of 256 KiB, two per boundary,
     * 1 MiB socket buffers on both ends.
     */
    private static final int ELEMENT = 256 << 10, SOCKET_BUFFER = 1 << 20;
    /** Receipts queued on the back direction (the newest always gets in: the oldest go when it is full). */
    private static final int RECEIPTS = 16;

    private PageChannel() {}

    private static SSLEngine engine(SSLContext tls, boolean client) {
        SSLEngine e = tls.createSSLEngine();
        e.setUseClientMode(client);
        e.setEnabledProtocols(PROTOCOLS);
        e.setEnabledCipherSuites(SUITES);
        if (!client) {
            e.setNeedClientAuth(true); // only holders of the cluster's keys get past the handshake
        }
        return e;
    }

    /** Opens a channel to host:port for image {@code id}. Closing the returned channel ends the image. */
    public static Sender connect(ActorSystem<?> system, SSLContext tls, String host, int port, String id,
                                 Duration connectTimeout, Duration ioTimeout) throws IOException {
        Receipts[] receipts = new Receipts[1]; // made once the output stream exists; receipts come only after the image starts
        var tcp = Tcp.get(system).outgoingConnectionWithTls(new InetSocketAddress(host, port), () -> engine(tls, true),
                Optional.empty(), List.of(org.apache.pekko.io.TcpSO.sendBufferSize(SOCKET_BUFFER)),
                Optional.of(connectTimeout), Optional.of(ioTimeout), session -> Optional.empty(), TLSClosing.eagerClose());
        Pair<Pair<Pair<OutputStream, UniqueKillSwitch>, CompletionStage<Tcp.OutgoingConnection>>, CompletionStage<Done>> m =
                StreamConverters.asOutputStream(ioTimeout)
                        .viaMat(KillSwitches.single(), Keep.both())
                        .viaMat(tcp, Keep.both())
                        .toMat(Sink.foreach(b -> receipts[0].take(b)), Keep.both())
                        .addAttributes(org.apache.pekko.stream.Attributes.inputBuffer(2, 2))
                        .run(Materializer.matFromSystem(system));
        // big writes make big stream elements (the channel adapter alone writes 8 KiB at a time)
        OutputStream out = new java.io.BufferedOutputStream(m.first().first().first(), ELEMENT);
        UniqueKillSwitch kill = m.first().first().second();
        receipts[0] = new Receipts(out, ioTimeout);
        m.second().whenComplete((done, failure) -> receipts[0].ended(failure));
        try {
            m.first().second().toCompletableFuture().get(connectTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            out.write(id.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        } catch (ExecutionException e) {
            kill.abort(e.getCause());
            throw new IOException(e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            kill.abort(e);
            throw new IOException("no connection within " + connectTimeout.toSeconds() + " s");
        } catch (InterruptedException e) {
            kill.abort(e);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        return new Sender(kill, Channels.newChannel(out), receipts[0]);
    }

    /**
     * The sending end. {@link #cut()} aborts the stream at once, which fails a write blocked on a
     * dead link (the dump then resumes the tree).
     */
    public record Sender(UniqueKillSwitch kill, WritableByteChannel channel, dev.cryo.engine.image.Delivery delivery) {
        public void cut() {
            kill.abort(new IOException("the page channel was cut"));
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
    }

    /** Accepts connections on host:port (0 picks one) until the actor system stops; one thread per incoming image. */
    public static final class Server {
        private final int port;

        public Server(ActorSystem<?> system, SSLContext tls, String host, int port, long maxBytes, long maxChunk,
                      Duration ioTimeout, Receiver receiver) throws IOException {
            Materializer mat = Materializer.matFromSystem(system);
            CompletionStage<Tcp.ServerBinding> binding = Tcp.get(system)
                    .bindWithTls(host, port, () -> engine(tls, false), 16,
                            List.of(org.apache.pekko.io.TcpSO.receiveBufferSize(SOCKET_BUFFER)), Optional.of(ioTimeout),
                            session -> Optional.empty(), TLSClosing.eagerClose())
                    .to(Sink.foreach(c -> accept(c, mat, maxBytes, maxChunk, ioTimeout, receiver)))
                    .run(mat);
            try {
                this.port = binding.toCompletableFuture().get(30, TimeUnit.SECONDS).localAddress().getPort();
            } catch (ExecutionException e) {
                throw new IOException("cannot listen on " + host + ":" + port + ": " + e.getCause().getMessage(), e.getCause());
            } catch (TimeoutException | InterruptedException e) {
                throw new IOException("cannot listen on " + host + ":" + port + ": " + e);
            }
        }

        public int port() {
            return port;
        }

        /** The incoming bytes become a blocking InputStream (bounded buffer: back-pressure) read by a thread of its own. */
        private static void accept(Tcp.IncomingConnection c, Materializer mat, long maxBytes, long maxChunk,
                                   Duration ioTimeout, Receiver receiver) {
            // the back direction carries receipts: how much of the image is taken in (see Receipts)
            // when receipts come faster than they leave, the oldest queued go: each says all the earlier ones did and more
            Pair<InputStream, SourceQueueWithComplete<ByteString>> m = c.handleWith(
                    Flow.fromSinkAndSourceMat(StreamConverters.asInputStream(ioTimeout),
                            Source.<ByteString>queue(RECEIPTS, OverflowStrategy.dropHead()), Keep.both()), mat);
            String from = String.valueOf(c.remoteAddress());
            // only receipts go back: that side stays open until the image is read (completing it closes the connection)
            Thread t = new Thread(() -> {
                try {
                    serve(m.first(), from, maxBytes, maxChunk, receiver, taken -> m.second().offer(Receipts.receipt(taken)));
                } finally {
                    m.second().complete();
                }
            }, "cryo-page-receiver");
            t.setDaemon(true);
            t.start();
        }

        /** {@code receipts}: how much is taken in, for the sender. */
        private static void serve(InputStream in, String from, long maxBytes, long maxChunk, Receiver receiver,
                                  java.util.function.LongConsumer receipts) {
            String id = null;
            try (in) {
                byte[] idBytes = in.readNBytes(ID_LENGTH);
                if (idBytes.length < ID_LENGTH) {
                    return;
                }
                id = new String(idBytes, StandardCharsets.US_ASCII);
                Path target = receiver.target(id);
                if (target == null) {
                    log.warn("page channel: {} sent an image nobody asked for ({}); refused", from, id);
                    return;
                }
                long total = ImageArrival.receive(in, target, maxBytes, maxChunk, from, receiver.memory(id), receipts);
                log.debug("page channel: image {} received and verified, {} bytes", id, total);
                receiver.received(id, null);
            } catch (IOException | RuntimeException e) {
                if (id != null) {
                    receiver.received(id, "receiving the image failed: " + e.getMessage());
                } else {
                    log.warn("page channel: connection from {} failed: {}", from, e.getMessage());
                }
            }
        }
    }
}
