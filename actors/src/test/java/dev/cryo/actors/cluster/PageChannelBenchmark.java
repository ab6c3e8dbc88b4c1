package dev.cryo.actors.cluster;

import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.StreamImageSink;
import dev.cryo.engine.model.codec.ModelCodecs;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The page channel's rate on loopback next to a plain socket and a plain TLS socket carrying as
 * many bytes (measured, not asserted): {@code mvn -B -o -pl actors -am test -Dbench=true
 * -Dtest=PageChannelBenchmark -Dsurefire.failIfNoSpecifiedTests=false} (MiB with
 * {@code -Dbench.channel.mib=512}). Figures under load are noise: compare the ratios of one run.
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class PageChannelBenchmark {
    @TempDir
    Path tmp;

    private static final int CHUNK_PAGES = 256; // 1 MiB chunks, as the dump's buffers

    @Test
    void channelNextToPlainSockets() throws Exception {
        int mib = Integer.getInteger("bench.channel.mib", 512);
        long bytes = (long) mib << 20;
        SSLContext tls = ClusterKeys.init(tmp.resolve("keys")).sslContext();
        ActorTestKit kit = ActorTestKit.create();
        try {
            StringBuilder out = new StringBuilder("\npage channel on loopback, " + mib + " MiB, " + java.time.Instant.now() + "\n");
            for (int round = 0; round < 2; round++) { // the first round warms the JIT
                double channel = channel(kit, tls, mib);
                double plain = plain(null, bytes, null);
                double plainTls = plain(tls, bytes, null);
                double aes128 = plain(tls, bytes, new String[] {"TLS_AES_128_GCM_SHA256"});
                out.append(String.format(Locale.ROOT, "round %d: page channel %.0f MiB/s, plain TCP %.0f MiB/s, plain TLS %.0f MiB/s, TLS AES-128 %.0f MiB/s (channel/plain %.2f)%n",
                        round + 1, channel, plain, plainTls, aes128, channel / plain));
            }
            System.out.println(out);
        } finally {
            kit.shutdownTestKit();
        }
    }

    private double channel(ActorTestKit kit, SSLContext tls, int mib) throws Exception {
        String id = UUID.randomUUID().toString();
        Path target = Files.createDirectories(tmp.resolve(id)).resolve(ImageFormat.IMAGE_FILE);
        CompletableFuture<String> outcome = new CompletableFuture<>();
        PageChannel.Server server = new PageChannel.Server(kit.system(), tls, "127.0.0.1", 0, 1L << 40,
                ImageFormat.DEFAULT_MAX_CHUNK, Duration.ofSeconds(30), new PageChannel.Receiver() {
                    @Override
                    public Path target(String i) {
                        return i.equals(id) ? target : null;
                    }

                    @Override
                    public void received(String i, String failure) {
                        outcome.complete(failure == null ? "ok" : failure);
                    }
                });
        long t0 = System.nanoTime();
        PageChannel.Sender s = PageChannel.connect(kit.system(), tls, "127.0.0.1", server.port(), id,
                Duration.ofSeconds(10), Duration.ofSeconds(30));
        StreamImageSink sink = new StreamImageSink(s.channel(), "bench", ModelCodecs.ALL, ImageOptions.defaults());
        ByteBuffer pages = ByteBuffer.allocateDirect(CHUNK_PAGES * 4096);
        for (int i = 0; i < pages.capacity(); i += 8) pages.putLong(i, i * 0x9E3779B97F4A7C15L);
        for (int c = 0; c < mib; c++) {
            pages.clear();
            sink.writePages(1, 0x7f0000000000L + (long) c * pages.capacity(), CHUNK_PAGES, pages);
        }
        sink.commit();
        assertEquals("ok", outcome.get(120, TimeUnit.SECONDS));
        long nanos = System.nanoTime() - t0;
        Files.delete(target);
        return mib / (nanos / 1e9);
    }

    /** A plain socket (tls null) or a JDK TLS socket with the same keys: a thread reads and discards. */
    private static double plain(SSLContext tls, long bytes, String[] suites) throws Exception {
        try (ServerSocket ss = tls == null ? new ServerSocket(0, 1, InetAddress.getLoopbackAddress())
                : tls.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            if (ss instanceof SSLServerSocket s) {
                s.setEnabledProtocols(new String[] {"TLSv1.3"});
                s.setNeedClientAuth(true);
                if (suites != null) s.setEnabledCipherSuites(suites);
            }
            CompletableFuture<Long> got = CompletableFuture.supplyAsync(() -> {
                try (Socket c = ss.accept(); InputStream in = c.getInputStream()) {
                    byte[] buf = new byte[1 << 20];
                    long n = 0;
                    for (int r; (r = in.read(buf)) > 0; ) n += r;
                    return n;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long t0 = System.nanoTime();
            try (Socket c = tls == null ? new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort())
                    : tls.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), ss.getLocalPort());
                 OutputStream o = c.getOutputStream()) {
                if (c instanceof SSLSocket s) {
                    s.setEnabledProtocols(new String[] {"TLSv1.3"});
                    if (suites != null) s.setEnabledCipherSuites(suites);
                }
                byte[] buf = new byte[1 << 20];
                for (long n = 0; n < bytes; n += buf.length) o.write(buf);
            }
            assertEquals(bytes, got.get(120, TimeUnit.SECONDS));
            return (bytes >> 20) / ((System.nanoTime() - t0) / 1e9);
        }
    }
}
