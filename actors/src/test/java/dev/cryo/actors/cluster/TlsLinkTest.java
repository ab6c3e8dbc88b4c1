package dev.cryo.actors.cluster;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.net.ssl.SSLContext;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.*;

/** {@link TlsLink} between two real sockets on loopback, both ends with the cluster's keys. */
class TlsLinkTest {
    @TempDir
    static Path tmp;
    static SSLContext tls;

    @BeforeAll
    static void keys() throws Exception {
        tls = ClusterKeys.init(tmp.resolve("keys")).sslContext();
    }

    /** Runs {@code server} on the accepted end of a fresh connection; returns the client's raw socket. */
    private static Socket pair(ServerSocket ss, CompletableFuture<Socket> accepted) throws IOException {
        return pair(ss, accepted, new Socket());
    }

    /** As above, with the client's socket {@code c} (not connected yet). */
    private static Socket pair(ServerSocket ss, CompletableFuture<Socket> accepted, Socket c) throws IOException {
        CompletableFuture.runAsync(() -> {
            try {
                accepted.complete(ss.accept());
            } catch (IOException e) {
                accepted.completeExceptionally(e);
            }
        });
        c.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), ss.getLocalPort()));
        c.setSoTimeout(30_000);
        return c;
    }

    /** A loopback connection with a link at each end, both handshakes done; closing it closes the sockets. */
    private record Linked(ServerSocket listener, Socket raw, TlsLink client, TlsLink server) implements AutoCloseable {
        static Linked open() throws Exception {
            return open(false);
        }

        /** {@code writeBehind}: the client's link writes through a thread of its own ({@link WriteBehind}). */
        static Linked open(boolean writeBehind) throws Exception {
            return open(writeBehind, new Socket());
        }

        /** As above, over the client's socket {@code raw} (not connected yet). */
        static Linked open(boolean writeBehind, Socket raw) throws Exception {
            ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
            CompletableFuture<Socket> accepted = new CompletableFuture<>();
            Socket c = pair(ss, accepted, raw);
            // the server's handshake runs while the client makes its own
            CompletableFuture<TlsLink> server = CompletableFuture.supplyAsync(() -> {
                try {
                    Socket s = accepted.get(30, TimeUnit.SECONDS);
                    s.setSoTimeout(30_000);
                    return TlsLink.open(s, PageChannel.engine(tls, false, null, 0));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            TlsLink client = TlsLink.open(c, PageChannel.engine(tls, true, "127.0.0.1", ss.getLocalPort()), writeBehind);
            return new Linked(ss, c, client, server.get(30, TimeUnit.SECONDS));
        }

        @Override
        public void close() throws IOException {
            raw.close();
            listener.close();
        }
    }

    @ParameterizedTest(name = "the client writing behind: {0}, the server reading into direct buffers: {1}")
    @org.junit.jupiter.params.provider.CsvSource({"false,false", "true,false", "true,true"})
    void bytesGoBothWaysAtOnceAndTheHalfCloseLetsTheAnswerComeBack(boolean writeBehind, boolean direct) throws Exception {
        try (Linked link = Linked.open(writeBehind)) {
            TlsLink client = link.client(), server = link.server();
            // the server reads 24 MiB in writes of odd sizes and answers a count per MiB while the client still writes
            CompletableFuture<Long> read = CompletableFuture.supplyAsync(() -> {
                try (DataOutputStream back = new DataOutputStream(server.output())) {
                    InputStream in = server.input();
                    CRC32C crc = new CRC32C();
                    byte[] buf = new byte[70_001];
                    // direct reads of room for several records, one, less than one: decrypted into it or copied
                    ByteBuffer into = ByteBuffer.allocateDirect(buf.length);
                    int[] rooms = {70_001, 16_704, 16_703, 3, 40_000}; // 16,704: the engine's application buffer size
                    long n = 0;
                    for (int r, k = 0; (r = direct ? readInto(in, into.clear().limit(rooms[k++ % rooms.length]), buf)
                            : in.read(buf)) > 0; ) {
                        crc.update(buf, 0, r);
                        if ((n + r) >> 20 != n >> 20) {
                            back.writeLong(n + r);
                            back.flush();
                        }
                        n += r;
                    }
                    back.writeLong(crc.getValue());
                    back.flush();
                    server.close();
                    return n;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            CompletableFuture<long[]> answers = CompletableFuture.supplyAsync(() -> {
                long[] got = new long[2];
                try (DataInputStream d = new DataInputStream(client.input())) {
                    while (true) {
                        long v = d.readLong();
                        got[0]++;
                        got[1] = v;
                    }
                } catch (EOFException end) {
                    return got; // the server's close_notify
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            CRC32C crc = new CRC32C();
            byte[] data = new byte[(24 << 20) + 12_345];
            for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 31 + (i >> 13));
            crc.update(data);
            for (int at = 0, step = 1; at < data.length; at += step, step = step * 7 % 400_009 + 1) {
                client.output().write(data, at, Math.min(step, data.length - at));
            }
            client.shutdownOutput();
            assertEquals(data.length, read.get(60, TimeUnit.SECONDS));
            long[] got = answers.get(60, TimeUnit.SECONDS);
            assertEquals(25, got[0]); // 24 counts, then the checksum
            assertEquals(crc.getValue(), got[1]);
        }
    }

    @Test
    void aRecordReadWhileTheWriterEndsItsDirectionIsNoFailure() throws Exception {
        // the sender's receipt thread reads while its writer ends the image: the engine says NEED_WRAP
        // between closeOutbound and the close_notify's wrap, and the writer may have stopped by the time
        // the reader acts on it; that moment is made here (the writer stopped without its wrap)
        try (Linked link = Linked.open(true)) {
            TlsLink client = link.client(), server = link.server();
            client.output().write(new byte[100]);
            client.output().flush();
            assertEquals(100, server.input().readNBytes(100).length);
            client.engine().closeOutbound();
            assertEquals(javax.net.ssl.SSLEngineResult.HandshakeStatus.NEED_WRAP, client.engine().getHandshakeStatus());
            java.lang.reflect.Field out = TlsLink.class.getDeclaredField("out");
            out.setAccessible(true);
            java.lang.reflect.Method stop = out.getType().getDeclaredMethod("stop");
            stop.setAccessible(true);
            stop.invoke(out.get(client));
            DataOutputStream back = new DataOutputStream(server.output());
            back.writeLong(42);
            back.flush();
            assertEquals(42, new DataInputStream(client.input()).readLong()); // failed: "the connection is closed for writing"
            server.close();
        }
    }

    @Test
    void aSocketClosedOnceTheEndIsOutIsNoFailure() throws Exception {
        // the receiver reads the close_notify, closes, and the sender's receipt thread closes the socket
        // on that, all before the writer's TCP half-close: made here by a socket closed at that call,
        // once the receiver has read to the end
        CompletableFuture<Integer> received = new CompletableFuture<>();
        Socket closedFirst = new Socket() {
            @Override
            public void shutdownOutput() throws IOException {
                try {
                    received.get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new IOException(e);
                }
                close();
                super.shutdownOutput(); // "Socket is closed"
            }
        };
        try (Linked link = Linked.open(true, closedFirst)) {
            TlsLink client = link.client(), server = link.server();
            CompletableFuture.runAsync(() -> {
                try {
                    received.complete(server.input().readAllBytes().length);
                } catch (IOException e) {
                    received.completeExceptionally(e);
                }
            });
            client.output().write(new byte[100_000]);
            client.shutdownOutput(); // failed: "Socket is closed"
            assertEquals(100_000, received.get(30, TimeUnit.SECONDS)); // the end came: close_notify
            assertTrue(closedFirst.isClosed());
            assertThrows(java.net.SocketException.class, closedFirst::shutdownInput); // other calls still fail
            server.close();
        }
        awaitWriters(0);
    }

    /** A read as the arriving image's reader makes it (into its direct buffer), copied out to {@code buf}. */
    private static int readInto(InputStream in, ByteBuffer into, byte[] buf) throws IOException {
        int r = ((java.nio.channels.ReadableByteChannel) in).read(into);
        into.flip().get(buf, 0, Math.max(r, 0));
        return r;
    }

    @Test
    void aConnectionEndedWithoutCloseNotifyIsNoEnd() throws Exception {
        // a cut (or an attacker's FIN) must not pass for the sender's end of the image
        try (Linked link = Linked.open()) {
            TlsLink client = link.client(), server = link.server();
            client.output().write(new byte[100_000]);
            link.raw().shutdownOutput(); // TCP's end only
            byte[] buf = new byte[1 << 16];
            long n = 0;
            IOException e = null;
            try {
                for (int r; (r = server.input().read(buf)) > 0; ) n += r;
            } catch (IOException thrown) {
                e = thrown;
            }
            assertEquals(100_000, n);
            assertNotNull(e, "read to a FIN without close_notify as if it were the end");
            assertTrue(e.getMessage().contains("close_notify"), e.getMessage());
            server.close();
        }
    }

    @ParameterizedTest(name = "the client writing behind: {0}")
    @ValueSource(booleans = {false, true})
    void aPeerWithOtherKeysGetsNoConnection(boolean writeBehind) throws Exception {
        SSLContext other = ClusterKeys.init(tmp.resolve("other-" + writeBehind)).sslContext();
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Socket> accepted = new CompletableFuture<>();
            Socket c = pair(ss, accepted);
            CompletableFuture<String> server = CompletableFuture.supplyAsync(() -> {
                try (Socket s = accepted.get(30, TimeUnit.SECONDS)) {
                    s.setSoTimeout(30_000);
                    TlsLink.open(s, PageChannel.engine(tls, false, null, 0));
                    return "opened";
                } catch (Exception e) {
                    return "refused";
                }
            });
            // the client refuses the server's certificate: its alert ends the server's handshake too
            assertThrows(IOException.class, () -> TlsLink.open(c, PageChannel.engine(other, true, "127.0.0.1", ss.getLocalPort()), writeBehind));
            assertEquals("refused", server.get(20, TimeUnit.SECONDS));
            c.close();
        }
    }

    @Test
    void aSinkClosedUnderTheIdleWriterAfterItsLastWriteIsNoFailureOfThatWrite() throws Exception {
        // the receiver reads the image's end, answers and closes, and this end's reader closes the socket,
        // all before the writer's caller wakes from its wait for the close_notify to be in the kernel
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        java.io.ByteArrayOutputStream kernel = new java.io.ByteArrayOutputStream();
        WriteBehind w = new WriteBehind(closed::get, b -> {
            kernel.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
            closed.set(true);
        }, 2, ByteBuffer::allocate, 16, "cryo-test-writer");
        ByteBuffer b = w.take();
        b.put(new byte[] {1, 2, 3});
        w.submit(b);
        for (int i = 0; i < 100 && Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("cryo-test-writer")); i++) {
            Thread.sleep(20); // the thread saw the socket closed and ended: the order CI met
        }
        w.awaitWritten(); // the 3 bytes are in: no failure
        assertEquals(3, kernel.size());
        assertThrows(IOException.class, w::take); // the next write does fail
    }

    @Test
    @org.junit.jupiter.api.Timeout(120) // a writer gone without a word leaves the next write waiting for good
    void aWriteBehindsFailureComesBackToTheWriterAndItsThreadEnds() throws Exception {
        int before = writers();
        try (Linked link = Linked.open(true)) {
            assertEquals(before + 1, writers());
            link.client().output().write(new byte[300_000]);
            link.client().output().flush(); // in the kernel: the server reads it all
            assertEquals(300_000, link.server().input().readNBytes(300_000).length);
            // the peer goes: the writer's own thread meets the reset, the next write or flush says it
            link.server().close();
            IOException e = assertThrows(IOException.class, () -> {
                for (int i = 0; i < 1000; i++) { // bounded: 1 MiB each
                    link.client().output().write(new byte[1 << 20]);
                    link.client().output().flush();
                }
            });
            assertNotNull(e.getMessage());
            link.client().close();
            awaitWriters(before);
        }
        try (Linked link = Linked.open(true)) {
            // the socket closed under an idle writer (as an abort does): the thread ends, a write fails at once
            assertEquals(before + 1, writers());
            link.raw().close();
            awaitWriters(before);
            assertThrows(IOException.class, () -> link.client().output().write(new byte[1 << 20]));
        }
    }

    private static int writers() {
        return (int) Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("cryo-page-writer")).count();
    }

    /** Bounded: an idle writer looks at its socket once a second. */
    private static void awaitWriters(int n) throws InterruptedException {
        for (int i = 0; i < 100 && writers() > n; i++) {
            Thread.sleep(100);
        }
        assertEquals(n, writers(), "a write-behind thread outlived its connection");
    }
}
