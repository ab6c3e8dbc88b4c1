package dev.cryo.it;

import dev.cryo.actors.cluster.ClusterKeys;
import dev.cryo.actors.cluster.PageChannel;
import dev.cryo.actors.cluster.StagingDirs;
import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.StreamImageSink;
import dev.cryo.engine.model.codec.ModelCodecs;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Both ends of {@link MigrationBenchmark}'s page channel figures, each run as a JVM of its own inside
 * one of {@link TwoHosts}' namespaces (as the agents are):
 * <ul>
 * <li>{@code serve IP PORT KEYS DIR}: the page channel's receiver on PORT (images staged in DIR, as
 * an agent stages them, then deleted), a plain TCP sink on PORT+1 and a plain JDK TLS sink on
 * PORT+2; one line per transfer: {@code done KIND BYTES CPU_NANOS} (this JVM's CPU time for it; the
 * channel's line adds its receiving thread's CPU, how often that thread waited, its user and system
 * ms, the JVM's minor page faults and its collectors' ms).
 * <li>{@code send KIND IP PORT KEYS MIB}: KIND channel (an image of MIB MiB of 1 MiB page chunks
 * through StreamImageSink, timed until b's receipt for its last byte: checked and stored), tcp
 * (the same bytes over a plain socket, until b has read them all) or tls (a plain JDK TLS socket,
 * same keys and cipher suite); {@link #WARM_ROUNDS} warm-up transfers of as many bytes first (a warm sender, as an
 * agent is; {@code -Dbench.channel.warm.mib} makes them smaller); prints {@code sent KIND BYTES NANOS CPU_NANOS}.
 * <li>{@code cipher MIB}: one core's AES-128-GCM encryption of 16 KiB records and CRC32C, MiB per CPU-second.
 * </ul>
 */
public final class ChannelProbe {
    private static final String SUITE = "TLS_AES_128_GCM_SHA256";
    /** Pages per chunk of the channel's image (-Dbench.channel.pages; bigmem's pattern makes chunks of 3-7). */
    private static final int CHUNK_PAGES = Math.max(1, Math.min(256, Integer.getInteger("bench.channel.pages", 256)));

    /**
     * Transfers before the measured one (-Dbench.channel.warm.rounds), each as large unless
     * -Dbench.channel.warm.mib says otherwise; the receiver says "done" for each. The page channel's
     * per-read and per-batch methods (TlsLink's reads, the staging Tee, the socket's reads and writes,
     * JSSE's record reading) run 4,000-8,000 times per GiB and reach the server compiler's thresholds
     * only in the second to fourth GiB: after one warm-up GiB, C2 still compiled during the measured
     * one (the sender's CPU for it 0.95 s, 0.57 s after three; the receiver's 1.82 and 1.10, one run
     * each at load 17), a fresh JVM's cost and not an agent's that has sent images before.
     */
    static final int WARM_ROUNDS = Integer.getInteger("bench.channel.warm.rounds", 3);

    /** TLS records each way through the channel's engine before the first image, as an agent's WarmUp passes. */
    private static final int TLS_WARM_UP = 4000;

    private ChannelProbe() {}

    public static void main(String[] a) throws Exception {
        int code = 1; // the actor system's threads would keep a failed probe alive
        try {
            switch (a[0]) {
                case "serve" -> serve(a[1], Integer.parseInt(a[2]), Path.of(a[3]), Path.of(a[4]));
                case "send" -> send(a[1], a[2], Integer.parseInt(a[3]), Path.of(a[4]), Integer.parseInt(a[5]));
                case "cipher" -> cipher(Integer.parseInt(a[1]));
                default -> throw new IllegalArgumentException(a[0]);
            }
            code = 0;
        } catch (Throwable t) {
            t.printStackTrace();
        } finally {
            System.exit(code);
        }
    }

    /** This JVM's CPU since {@code c0} split by thread (JVM threads, the compilers among them, are the rest). */
    private static java.util.Map<Long, Long> threadTimes() {
        java.lang.management.ThreadMXBean tm = ManagementFactory.getThreadMXBean();
        java.util.Map<Long, Long> m = new java.util.HashMap<>();
        for (long id : tm.getAllThreadIds()) m.put(id, tm.getThreadCpuTime(id));
        return m;
    }

    private static String threadCpu(long c0, java.util.Map<Long, Long> before) {
        java.lang.management.ThreadMXBean tm = ManagementFactory.getThreadMXBean();
        StringBuilder sb = new StringBuilder();
        long java = 0;
        for (java.lang.management.ThreadInfo t : tm.getThreadInfo(tm.getAllThreadIds())) {
            if (t == null) continue;
            long c = tm.getThreadCpuTime(t.getThreadId()) - before.getOrDefault(t.getThreadId(), 0L);
            java += c;
            if (c > 50_000_000) sb.append(t.getThreadName()).append('=').append(c / 1_000_000).append("ms ");
        }
        return sb + "process=" + (cpu() - c0) / 1_000_000 + "ms (since the round) javaThreadsTotal=" + java / 1_000_000 + "ms";
    }

    static long cpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * {@code -Dbench.profile=LIB:FILE}: async-profiler's CPU samples of the measured transfer alone,
     * by thread, written collapsed to FILE-KIND-SIDE (LIB: its libasyncProfiler.so; its jar must be on
     * the class path). The sender's last transfer, and the receiver's first measured image.
     */
    private static void profile(boolean start, String kind, String side) {
        String p = System.getProperty("bench.profile");
        if (p == null) return;
        int colon = p.lastIndexOf(':');
        try {
            Class<?> c = Class.forName("one.profiler.AsyncProfiler");
            Object profiler = c.getMethod("getInstance", String.class).invoke(null, p.substring(0, colon));
            c.getMethod("execute", String.class).invoke(profiler, start ? "start,event=cpu,interval=1ms,threads"
                    : "stop,collapsed,file=" + p.substring(colon + 1) + "-" + kind + "-" + side);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("-Dbench.profile: " + e, e);
        }
    }

    /**
     * The calling thread's user and system CPU (ms) from /proc/thread-self/stat, this process's minor
     * page faults, and the collectors' time (ms): where b's CPU per GiB goes, row after row.
     */
    private static long[] detail() {
        long[] d = new long[4];
        try {
            String t = Files.readString(Path.of("/proc/thread-self/stat"));
            String[] f = t.substring(t.lastIndexOf(')') + 2).split(" ");
            long tick = 10; // ms per clock tick (USER_HZ 100)
            d[0] = Long.parseLong(f[11]) * tick;
            d[1] = Long.parseLong(f[12]) * tick;
            String p = Files.readString(Path.of("/proc/self/stat"));
            d[2] = Long.parseLong(p.substring(p.lastIndexOf(')') + 2).split(" ")[7]);
        } catch (java.io.IOException | RuntimeException e) {
            // reported as 0
        }
        for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) d[3] += Math.max(0, gc.getCollectionTime());
        return d;
    }

    /** The calling thread's voluntary context switches: how often the receiving thread waited (for the socket, mostly). */
    private static long wakeUps() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/thread-self/status"))) {
                if (l.startsWith("voluntary_ctxt_switches:")) return Long.parseLong(l.substring(l.indexOf(':') + 1).trim());
            }
        } catch (java.io.IOException | NumberFormatException e) {
            // reported as -1
        }
        return -1;
    }

    private static synchronized void report(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static void serve(String ip, int port, Path keys, Path dir) throws Exception {
        SSLContext tls = ClusterKeys.load(keys).sslContext();
        PageChannel.warmUp(tls, TLS_WARM_UP); // as an agent does at its start (WarmUp)
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "probe");
        long[] started = new long[3];
        long[][] before = new long[1][];
        int[] images = new int[1];
        java.util.Map<String, Path> dirs = new java.util.concurrent.ConcurrentHashMap<>();
        // -Dbench.stage.keep: an agent's cryo.cluster.keep-staged (bytes; 0 keeps none, the default)
        StagingDirs.keepUpTo(Long.getLong("bench.stage.keep", 0L));
        new PageChannel.Server(system, tls, ip, port, 1L << 40, ImageFormat.DEFAULT_MAX_CHUNK, Duration.ofSeconds(30),
                new PageChannel.Receiver() {
                    @Override
                    public Path target(String id) {
                        if (++images[0] == WARM_ROUNDS + 1) profile(true, "channel", "b");
                        started[0] = cpu();
                        started[1] = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
                        started[2] = wakeUps();
                        before[0] = detail();
                        try { // as an agent stages it (and keeps its file for the next: StagingDirs)
                            Path in = StagingDirs.create(dir, "in-");
                            dirs.put(id, in);
                            return in.resolve(ImageFormat.IMAGE_FILE);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }

                    @Override
                    public void received(String id, String failure) {
                        long used = cpu() - started[0];
                        long thread = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - started[1];
                        long wakeUps = wakeUps() - started[2];
                        long[] after = detail();
                        StringBuilder more = new StringBuilder();
                        for (int i = 0; i < after.length; i++) more.append(' ').append(after[i] - before[0][i]);
                        Path in = dirs.remove(id);
                        long bytes = 0;
                        try {
                            bytes = Files.size(in.resolve(ImageFormat.IMAGE_FILE));
                        } catch (java.io.IOException e) {
                            // reported below
                        }
                        StagingDirs.delete(in);
                        if (images[0] == WARM_ROUNDS + 1) profile(false, "channel", "b");
                        report(failure == null ? "done channel " + bytes + " " + used + " " + thread + " " + wakeUps + more : "failed channel " + failure);
                    }
                });
        startSink(new ServerSocket(), ip, port + 1, "tcp");
        SSLServerSocket s = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
        s.setEnabledProtocols(new String[] {"TLSv1.3"});
        s.setEnabledCipherSuites(new String[] {SUITE});
        s.setNeedClientAuth(true);
        startSink(s, ip, port + 2, "tls");
        report("ready");
        Thread.sleep(Long.MAX_VALUE); // until killed
    }

    /** Reads and discards each connection's bytes, then closes (the sender waits for that close). */
    private static void startSink(ServerSocket ss, String ip, int port, String kind) throws Exception {
        ss.setReuseAddress(true);
        ss.bind(new InetSocketAddress(ip, port));
        Thread t = new Thread(() -> {
            byte[] buf = new byte[1 << 20];
            while (true) {
                try (Socket c = ss.accept(); InputStream in = c.getInputStream()) {
                    long c0 = cpu();
                    long n = 0;
                    for (int r; (r = in.read(buf)) > 0; ) n += r;
                    report("done " + kind + " " + n + " " + (cpu() - c0));
                } catch (Exception e) {
                    report("failed " + kind + " " + e);
                }
            }
        }, "sink-" + kind);
        t.setDaemon(true);
        t.start();
    }

    private static void send(String kind, String ip, int port, Path keys, int mib) throws Exception {
        SSLContext tls = ClusterKeys.load(keys).sslContext();
        ActorSystem<Void> system = kind.equals("channel") ? ActorSystem.create(Behaviors.empty(), "probe") : null;
        if (kind.equals("channel")) {
            PageChannel.warmUp(tls, TLS_WARM_UP); // as an agent does at its start (WarmUp)
        }
        // the first rounds warm the JIT up (see WARM_ROUNDS): the channel's sender is an agent that has
        // sent images before
        int warm = WARM_ROUNDS;
        for (int round = 0; round <= warm; round++) {
            int m = round < warm ? Math.min(mib, Integer.getInteger("bench.channel.warm.mib", mib)) : mib;
            java.util.Map<Long, Long> times = threadTimes();
            if (round == warm) profile(true, kind, "a");
            long c0 = cpu();
            long t0 = System.nanoTime();
            long bytes = switch (kind) {
                case "channel" -> channel(system, tls, ip, port, m);
                case "tcp" -> plain(new Socket(), ip, port + 1, (long) m << 20);
                case "tls" -> plain(tls.getSocketFactory().createSocket(), ip, port + 2, (long) m << 20);
                default -> throw new IllegalArgumentException(kind);
            };
            long nanos = System.nanoTime() - t0;
            if (round == warm) profile(false, kind, "a");
            if (round == warm && Boolean.getBoolean("bench.threads")) {
                report("threads " + threadCpu(c0, times));
            }
            if (round == 0 && Boolean.getBoolean("bench.threads")) { // a fresh JVM's first transfer
                report("first " + kind + " " + bytes + " " + nanos + " " + (cpu() - c0));
            }
            if (round == warm) {
                report("sent " + kind + " " + bytes + " " + nanos + " " + (cpu() - c0));
            }
        }
    }

    private static long channel(ActorSystem<Void> system, SSLContext tls, String ip, int port, int mib) throws Exception {
        PageChannel.Sender s = PageChannel.connect(system, tls, ip, port, UUID.randomUUID().toString(),
                Duration.ofSeconds(10), Duration.ofSeconds(30));
        StreamImageSink sink = new StreamImageSink(s.channel(), "probe", ModelCodecs.ALL, ImageOptions.defaults(), s.delivery());
        ByteBuffer pages = ByteBuffer.allocateDirect(256 * 4096);
        for (int i = 0; i < pages.capacity(); i += 8) pages.putLong(i, i * 0x9E3779B97F4A7C15L);
        int per = CHUNK_PAGES;
        for (long at = 0, end = (long) mib << 20; at < end; at += (long) per * 4096) {
            pages.clear().limit(per * 4096);
            sink.writePages(1, 0x7f0000000000L + at, per, pages);
        }
        sink.commit();
        long bytes = sink.bytesWritten();
        s.delivery().await(bytes); // b has checked and stored the last byte
        return bytes;
    }

    private static long plain(Socket c, String ip, int port, long bytes) throws Exception {
        try (c) {
            c.connect(new InetSocketAddress(ip, port));
            if (c instanceof SSLSocket s) {
                s.setEnabledProtocols(new String[] {"TLSv1.3"});
                s.setEnabledCipherSuites(new String[] {SUITE});
            }
            OutputStream o = c.getOutputStream();
            byte[] buf = new byte[1 << 20];
            for (int i = 0; i < buf.length; i += 8) ByteBuffer.wrap(buf).putLong(i, i * 0x9E3779B97F4A7C15L);
            for (long n = 0; n < bytes; n += buf.length) o.write(buf);
            o.flush();
            c.shutdownOutput();
            c.getInputStream().read(); // b closes once it has read everything
        }
        return bytes;
    }

    /**
     * MiB per CPU-second of this thread, not per wall second: at load 33 the wall clock gave 168 MiB/s
     * for AES-GCM where the thread's own CPU does ~2,700 (the thread waited for a core). The last of
     * three rounds (the first ones compile).
     */
    private static void cipher(int mib) throws Exception {
        byte[] key = new byte[16], iv = new byte[12], in = new byte[16 << 10], out = new byte[(16 << 10) + 16];
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
        CRC32C crc = new CRC32C();
        java.lang.management.ThreadMXBean tm = ManagementFactory.getThreadMXBean();
        double aes = 0, crcRate = 0;
        for (int round = 0; round < 3; round++) {
            long t0 = tm.getCurrentThreadCpuTime();
            for (long n = 0; n < (long) mib << 20; n += in.length) {
                ByteBuffer.wrap(iv).putLong(4, n); // a fresh nonce per record, as TLS does
                gcm.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, iv));
                gcm.doFinal(in, 0, in.length, out, 0);
            }
            aes = mib / ((tm.getCurrentThreadCpuTime() - t0) / 1e9);
            t0 = tm.getCurrentThreadCpuTime();
            for (long n = 0; n < (long) mib << 20; n += in.length) crc.update(in, 0, in.length);
            crcRate = mib / ((tm.getCurrentThreadCpuTime() - t0) / 1e9);
        }
        report(String.format(Locale.ROOT, "cipher %.0f %.0f", aes, crcRate));
    }
}
