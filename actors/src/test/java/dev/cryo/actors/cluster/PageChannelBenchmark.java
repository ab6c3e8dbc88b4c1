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
 * many bytes, and the CPU both ends spend per GiB (measured, not asserted): {@code mvn -B -o -pl
 * actors -am test -Dbench=true -Dtest=PageChannelBenchmark -Dsurefire.failIfNoSpecifiedTests=false}
 * (MiB with {@code -Dbench.channel.mib=512}, rounds with {@code -Dbench.channel.rounds=2}). Also the
 * channel's {@link TlsLink} alone. Figures under load are noise: compare the ratios of one round.
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class PageChannelBenchmark {
    @TempDir
    Path tmp;

    private static final int CHUNK_PAGES = 256; // 1 MiB chunks, as the dump's buffers
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    @Test
    void channelNextToPlainSockets() throws Exception {
        int mib = Integer.getInteger("bench.channel.mib", 512);
        long bytes = (long) mib << 20;
        SSLContext tls = ClusterKeys.init(tmp.resolve("keys")).sslContext();
        ActorTestKit kit = ActorTestKit.create();
        try {
            StringBuilder out = new StringBuilder("\npage channel on loopback, " + mib + " MiB, " + java.time.Instant.now() + "\n");
            out.append(String.format(Locale.ROOT, "%-6s %-26s %8s %7s %10s  %s%n", "round", "copy", "MiB/s", "x TCP", "CPU-s/GiB",
                    "(both ends; of it the sealing and the receiving thread)"));
            Row[] all = {
                new Row("page channel", () -> channel(kit, tls, mib), true),
                new Row("plain TCP", () -> plain(null, bytes, null), false),
                new Row("the channel's TLS link", () -> link(tls, bytes), true),
                new Row("JDK TLS socket", () -> plain(tls, bytes, null), false),
                new Row("JDK TLS socket, AES-128", () -> plain(tls, bytes, new String[] {"TLS_AES_128_GCM_SHA256"}), false),
            };
            // -Dbench.channel.rows=0,2: only these rows (by number, as listed), for more rounds of them in a slot
            String only = System.getProperty("bench.channel.rows", "0,1,2,3,4");
            Row[] rows = java.util.Arrays.stream(only.split(",")).map(i -> all[Integer.parseInt(i.trim())]).toArray(Row[]::new);
            int tcp = java.util.Arrays.asList(rows).indexOf(all[1]); // the ratio's base, if run
            // -Dbench.channel.rounds; the first warms the JIT; each round starts one row later (drift spreads over all)
            int rounds = Integer.getInteger("bench.channel.rounds", 2);
            for (int round = 0; round < rounds; round++) {
                if (round == 1) profile("start,event=cpu,interval=1ms,threads");
                String[] lines = new String[rows.length];
                double[] rates = new double[rows.length];
                for (int k = 0; k < rows.length; k++) {
                    int i = (k + round) % rows.length;
                    double[] r = timed(rows[i].transfer(), bytes);
                    rates[i] = r[0];
                    lines[i] = String.format(Locale.ROOT, "%8.0f %%7.2f %10.2f  %s", r[0], r[1], rows[i].threads() ? threads(bytes) : "");
                }
                String load = Files.readString(Path.of("/proc/loadavg")).trim();
                for (int i = 0; i < rows.length; i++) {
                    out.append(String.format(Locale.ROOT, "%-6d %-26s %s%n", round + 1, rows[i].name(),
                            String.format(Locale.ROOT, lines[i], tcp < 0 ? Double.NaN : rates[i] / rates[tcp])));
                }
                out.append("       load ").append(load).append('\n');
            }
            profile("stop,collapsed,file=%s");
            System.out.println(out);
        } finally {
            kit.shutdownTestKit();
        }
    }

    /**
     * {@code -Dbench.profile=LIB:FILE}: async-profiler's CPU samples by thread of the warm rounds (all
     * but the first), collapsed into FILE (LIB: its libasyncProfiler.so; its jar on the class path).
     */
    private static void profile(String command) throws ReflectiveOperationException {
        String p = System.getProperty("bench.profile");
        if (p == null) {
            return;
        }
        int colon = p.lastIndexOf(':');
        Class<?> c = Class.forName("one.profiler.AsyncProfiler");
        Object profiler = c.getMethod("getInstance", String.class).invoke(null, p.substring(0, colon));
        c.getMethod("execute", String.class).invoke(profiler, String.format(command, p.substring(colon + 1)));
    }

    private interface Transfer {
        void run() throws Exception;
    }

    /** {@code threads}: the transfer times its sealing and receiving threads ({@link #senderCpu}, {@link #receiverCpu}). */
    private record Row(String name, Transfer transfer, boolean threads) {}

    /** MiB/s and CPU-s per GiB of the whole JVM (both ends are here) for {@code bytes} moved by {@code t}. */
    private static double[] timed(Transfer t, long bytes) throws Exception {
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long c0 = os.getProcessCpuTime(), t0 = System.nanoTime();
        t.run();
        double secs = (System.nanoTime() - t0) / 1e9, cpu = (os.getProcessCpuTime() - c0) / 1e9;
        return new double[] {(bytes >> 20) / secs, cpu / (bytes / (double) (1L << 30))};
    }

    /**
     * CPU of the last transfer's encrypting thread (the channel's: the image's writer, which also
     * frames and checksums) and receiving thread (the channel's: reads, decrypts, checks; its staging
     * file is written by another); the sender's writer, the staging writer, GC and JIT are the rest.
     */
    private static volatile long senderCpu, receiverCpu;

    private static String threads(long bytes) {
        double gib = bytes / (double) (1L << 30);
        return String.format(Locale.ROOT, "(%.2f, %.2f)", senderCpu / 1e9 / gib, receiverCpu / 1e9 / gib);
    }

    /** The channel's {@link TlsLink}, writing behind as the channel's sender does; a thread reads and discards. */
    private static void link(SSLContext tls, long bytes) throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Long> got = CompletableFuture.supplyAsync(() -> {
                try (Socket c = ss.accept()) {
                    c.setSoTimeout(30_000);
                    javax.net.ssl.SSLEngine e = PageChannel.engine(tls, false, null, 0);
                    InputStream in = TlsLink.open(c, e).input();
                    byte[] buf = new byte[1 << 20];
                    long n = 0, c0 = THREADS.getCurrentThreadCpuTime();
                    for (int r; (r = in.read(buf)) > 0; ) n += r;
                    receiverCpu = THREADS.getCurrentThreadCpuTime() - c0;
                    return n;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            try (Socket c = new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
                c.setSoTimeout(30_000);
                long c0 = THREADS.getCurrentThreadCpuTime();
                javax.net.ssl.SSLEngine e = PageChannel.engine(tls, true, "127.0.0.1", ss.getLocalPort());
                TlsLink t = TlsLink.open(c, e, true);
                OutputStream o = t.output();
                byte[] buf = new byte[1 << 20];
                for (long n = 0; n < bytes; n += buf.length) o.write(buf);
                t.shutdownOutput();
                senderCpu = THREADS.getCurrentThreadCpuTime() - c0;
                assertEquals(bytes, got.get(120, TimeUnit.SECONDS));
            }
        }
    }

    private void channel(ActorTestKit kit, SSLContext tls, int mib) throws Exception {
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
                        receiverCpu = THREADS.getCurrentThreadCpuTime(); // the connection's own thread: all of it
                        outcome.complete(failure == null ? "ok" : failure);
                    }
                });
        long c0 = THREADS.getCurrentThreadCpuTime();
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
        senderCpu = THREADS.getCurrentThreadCpuTime() - c0;
        assertEquals("ok", outcome.get(120, TimeUnit.SECONDS));
        server.close();
        Files.delete(target);
    }

    /** A plain socket (tls null) or a JDK TLS socket with the same keys: a thread reads and discards. */
    private static void plain(SSLContext tls, long bytes, String[] suites) throws Exception {
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
        }
    }
}
