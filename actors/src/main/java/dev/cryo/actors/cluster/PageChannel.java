package dev.cryo.actors.cluster;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The page channel between agents: a TCP connection with TLS 1.3 and mutual authentication (the
 * cluster's keys on both ends), outside Artery, carrying one image in the image file format. TCP's
 * flow control is the back-pressure: a writer blocks while the receiver is behind. The stream
 * opens with the migration id (36 ASCII bytes), then the image's bytes until the sender closes.
 */
public final class PageChannel {
    private static final Logger log = LoggerFactory.getLogger(PageChannel.class);
    static final int ID_LENGTH = 36;
    private static final String[] PROTOCOLS = {"TLSv1.3"};

    private PageChannel() {}

    /** Opens a channel to host:port for image {@code id}. Closing the returned channel ends the image. */
    public static Sender connect(SSLContext tls, String host, int port, String id, int timeoutMillis) throws IOException {
        Socket plain = new Socket();
        try {
            plain.connect(new InetSocketAddress(host, port), timeoutMillis);
            plain.setSoTimeout(timeoutMillis);
            SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(plain, host, port, true);
            s.setEnabledProtocols(PROTOCOLS);
            s.startHandshake();
            OutputStream out = new BufferedOutputStream(s.getOutputStream(), 1 << 20);
            out.write(id.getBytes(StandardCharsets.US_ASCII));
            return new Sender(plain, Channels.newChannel(out));
        } catch (IOException | RuntimeException e) {
            plain.close();
            throw e;
        }
    }

    /**
     * The sending end. {@link #cut()} closes the TCP socket under the TLS layer at once, which fails
     * a write blocked on a dead link (closing the TLS socket would wait for that very write).
     */
    public record Sender(Socket socket, WritableByteChannel channel) {
        public void cut() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /** What the receiving agent does with an incoming image. */
    public interface Receiver {
        /** Where image {@code id} goes, or null to refuse it (unknown id). */
        Path target(String id);

        /** The image is complete on disk (or failed: message non-null). */
        void received(String id, String failure);
    }

    /** Accepts connections on host:port (0 picks one) until closed; one thread per incoming image. */
    public static final class Server implements AutoCloseable {
        private final SSLServerSocket socket;
        private final Thread acceptor;
        private final long maxBytes;
        private final long maxChunk;

        public Server(SSLContext tls, String host, int port, long maxBytes, long maxChunk, int timeoutMillis,
                      Receiver receiver) throws IOException {
            this.maxBytes = maxBytes;
            this.maxChunk = maxChunk;
            socket = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
            socket.setEnabledProtocols(PROTOCOLS);
            socket.setNeedClientAuth(true); // only holders of the cluster's keys get past the handshake
            socket.bind(new InetSocketAddress(host, port));
            acceptor = new Thread(() -> {
                while (!socket.isClosed()) {
                    try {
                        SSLSocket c = (SSLSocket) socket.accept();
                        c.setSoTimeout(timeoutMillis);
                        Thread t = new Thread(() -> serve(c, receiver), "cryo-page-receiver");
                        t.setDaemon(true);
                        t.start();
                    } catch (IOException e) {
                        if (!socket.isClosed()) {
                            log.warn("page channel: accept failed: {}", e.getMessage());
                        }
                    }
                }
            }, "cryo-page-channel");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        public int port() {
            return socket.getLocalPort();
        }

        private void serve(SSLSocket c, Receiver receiver) {
            String id = null;
            try (c; InputStream in = c.getInputStream()) {
                c.startHandshake();
                byte[] idBytes = in.readNBytes(ID_LENGTH);
                if (idBytes.length < ID_LENGTH) {
                    return;
                }
                id = new String(idBytes, StandardCharsets.US_ASCII);
                Path target = receiver.target(id);
                if (target == null) {
                    log.warn("page channel: {} sent an image nobody asked for ({}); refused", c.getRemoteSocketAddress(), id);
                    return;
                }
                long total = ImageArrival.receive(in, target, maxBytes, maxChunk, String.valueOf(c.getRemoteSocketAddress()));
                log.debug("page channel: image {} received and verified, {} bytes", id, total);
                receiver.received(id, null);
            } catch (IOException | RuntimeException e) {
                if (id != null) {
                    receiver.received(id, "receiving the image failed: " + e.getMessage());
                } else {
                    log.warn("page channel: connection from {} failed: {}", c.getRemoteSocketAddress(), e.getMessage());
                }
            }
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
