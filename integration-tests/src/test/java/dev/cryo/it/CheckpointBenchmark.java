package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoConfig;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Dump and restore speed, measured not asserted:
 * {@code mvn -B install -DskipTests && mvn -B test -pl integration-tests -Dbench=true -Dtest=CheckpointBenchmark}
 * (sizes with {@code -Dbench.sizes=256,1024,4096}). Each workload is dumped and restored with one
 * region actor and with the default, and each figure stands next to the plain copy of the same
 * bytes in the same run: write + fsync of the image size for a dump; reading the image file into
 * fresh memory for a restore.
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class CheckpointBenchmark {
    private static final Path DIR = Path.of(System.getProperty("bench.dir", "target/bench")).toAbsolutePath();
    private final List<String> rows = new ArrayList<>();

    @Test
    void checkpointSpeed() throws Exception {
        Files.createDirectories(DIR);
        for (String size : System.getProperty("bench.sizes", "256,1024,4096").split(",")) {
            int mib = Integer.parseInt(size.trim());
            try (DetachedProcess p = Workloads.bigmem(DIR, mib)) {
                measure(mib + " MiB, 1 process", p);
            }
        }
        String four = TestPrograms.compile("/c/bigmem.c") + " 256";
        try (DetachedProcess tree = DetachedProcess.start(DIR.resolve("tree4.out"), "sh", "-c",
                four + " & " + four + " & " + four + " & " + four + " & wait")) {
            DetachedProcess.awaitCondition(() -> {
                try {
                    return tree.outputText().split("ready", -1).length == 5;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofMinutes(2), "4 bigmem processes to be ready");
            measure("4 x 256 MiB, tree", tree);
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-20s %-8s %-8s %9s %9s %9s %11s %7s%n", "workload", "step", "regions",
                "ms", "frozen", "MiB", "plain copy", "ratio");
        rows.forEach(System.out::println);
    }

    private void measure(String label, DetachedProcess p) throws Exception {
        Path keep = DIR.resolve("img-" + label.replaceAll("\\W+", "_"));
        for (String regions : new String[]{"1", "0"}) {
            Path img = regions.equals("0") ? keep : DIR.resolve("img-tmp");
            deleteTree(img);
            long t0 = System.nanoTime();
            DumpReport d;
            try (Cryo cryo = Cryo.create(config(regions))) {
                t0 = System.nanoTime();
                // the last dump kills the workload, so its image can be restored
                d = cryo.dump(DumpRequest.of(p.pid().value(), img).leavingRunning(regions.equals("1")))
                        .toCompletableFuture().join();
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            long copy = writeAndSyncMillis(d.stats().imageBytes());
            row(label, "dump", regions, ms, d.stats().frozenMillis(), d.stats().imageBytes(), copy);
            if (regions.equals("1")) {
                deleteTree(img);
            }
        }
        int root = p.pid().value();
        DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + root)) || zombie(root),
                Duration.ofSeconds(30), "pid " + root + " to be gone");
        for (String regions : new String[]{"1", "0"}) {
            long t0;
            RestoreReport r;
            try (Cryo cryo = Cryo.create(config(regions))) {
                t0 = System.nanoTime();
                r = cryo.restore(new RestoreRequest(keep)).toCompletableFuture().join();
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            long bytes = Files.size(keep.resolve("image.cryo"));
            long copy = readIntoFreshMemoryMillis(keep.resolve("image.cryo"));
            row(label, "restore", regions, ms, 0, bytes, copy);
            for (int pid : r.pids()) {
                try {
                    Sys.kill(Pid.of(pid), Signals.SIGKILL);
                } catch (RuntimeException ignored) {
                    // gone
                }
            }
            Cryo.waitFor(r.rootPid());
            for (int pid : r.pids()) {
                DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)) || zombie(pid),
                        Duration.ofSeconds(30), "restored pid " + pid + " to be gone");
            }
            Thread.sleep(3000); // init reaps the restored children every couple of seconds: their pids must be free
        }
        deleteTree(keep);
    }

    private static boolean zombie(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
        } catch (Exception e) {
            return false;
        }
    }

    private static com.typesafe.config.Config config(String regions) {
        return CryoConfig.loadConfig(Optional.empty(), Map.of("cryo.parallelism.regions", regions));
    }

    private void row(String label, String step, String regions, long ms, long frozen, long bytes, long copy) {
        rows.add(String.format(Locale.ROOT, "%-20s %-8s %-8s %9d %9s %9d %8d ms %6.2fx", label, step,
                regions.equals("1") ? "1" : "default", ms, step.equals("dump") ? Long.toString(frozen) : "-",
                bytes >> 20, copy, ms / (double) Math.max(1, copy)));
    }

    /** Writes and fsyncs the same number of bytes from a direct buffer: the floor of any dump. */
    private static long writeAndSyncMillis(long bytes) throws Exception {
        Path f = DIR.resolve("plain-copy.bin");
        ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20);
        for (int i = 0; i < buf.capacity(); i += 8) {
            buf.putLong(i, i * 0x9E3779B97F4A7C15L);
        }
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long done = 0; done < bytes; done += buf.capacity()) {
                buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
            ch.force(true);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        Files.delete(f);
        return ms;
    }

    /** Reads the image file into freshly allocated memory: the floor of any restore into new pages. */
    private static long readIntoFreshMemoryMillis(Path image) throws Exception {
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            long left = ch.size();
            long pos = 0;
            while (left > 0) {
                ByteBuffer fresh = ByteBuffer.allocateDirect((int) Math.min(left, 1 << 30));
                while (fresh.hasRemaining()) {
                    int n = ch.read(fresh, pos);
                    if (n <= 0) {
                        break;
                    }
                    pos += n;
                }
                left -= fresh.capacity();
            }
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static void deleteTree(Path dir) throws Exception {
        if (Files.exists(dir)) {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
            }
        }
    }
}
