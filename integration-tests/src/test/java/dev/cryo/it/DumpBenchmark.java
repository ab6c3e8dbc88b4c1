package dev.cryo.it;

import dev.cryo.api.Cryo;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.config.CryoConfig;
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
 * Dump speed, measured not asserted: {@code mvn -B verify -Dbench=true -Dtest=DumpBenchmark
 * -pl integration-tests -am} (sizes with {@code -Dbench.sizes=256,1024,4096}). For each
 * workload it prints the dump time with one region copier and with the default, next to the time
 * to write and fsync the same number of bytes on the same filesystem, in the same run.
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class DumpBenchmark {
    private static final Path DIR = Path.of(System.getProperty("bench.dir", "target/bench")).toAbsolutePath();

    @Test
    void dumpSpeed() throws Exception {
        Files.createDirectories(DIR);
        List<String> rows = new ArrayList<>();
        for (String size : System.getProperty("bench.sizes", "256,1024,4096").split(",")) {
            int mib = Integer.parseInt(size.trim());
            try (DetachedProcess p = Workloads.bigmem(DIR, mib)) {
                rows.addAll(measure(mib + " MiB, 1 process", p));
            }
        }
        Path bigmem = TestPrograms.compile("/c/bigmem.c");
        String four = bigmem + " 256";
        try (DetachedProcess tree = DetachedProcess.start(DIR.resolve("tree4.out"), "sh", "-c",
                four + " & " + four + " & " + four + " & " + four + " & wait")) {
            DetachedProcess.awaitCondition(() -> {
                try {
                    return tree.outputText().split("ready", -1).length == 5;
                } catch (Exception e) {
                    return false;
                }
            }, Duration.ofMinutes(2), "4 bigmem processes to be ready");
            rows.addAll(measure("4 x 256 MiB, tree", tree));
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-22s %-12s %10s %10s %10s %12s %8s%n", "workload", "copiers", "dump ms",
                "frozen ms", "image MiB", "copy+fsync", "ratio");
        rows.forEach(System.out::println);
    }

    private static List<String> measure(String label, DetachedProcess p) throws Exception {
        List<String> rows = new ArrayList<>();
        for (String regions : new String[]{"1", "0"}) {
            Path img = DIR.resolve("img-" + label.replaceAll("\\W+", "_") + "-" + regions);
            deleteTree(img);
            var config = CryoConfig.loadConfig(Optional.empty(), Map.of("cryo.parallelism.regions", regions));
            DumpReport r;
            long t0 = System.nanoTime();
            try (Cryo cryo = Cryo.create(config)) {
                t0 = System.nanoTime();
                r = cryo.dump(DumpRequest.of(p.pid().value(), img).leavingRunning(true)).toCompletableFuture().join();
            }
            long dumpMs = (System.nanoTime() - t0) / 1_000_000;
            long bytes = r.stats().imageBytes();
            long copyMs = plainCopyMillis(bytes);
            rows.add(String.format(Locale.ROOT, "%-22s %-12s %10d %10d %10d %10d ms %7.2fx", label,
                    regions.equals("1") ? "1" : "default", dumpMs, r.stats().frozenMillis(), bytes >> 20, copyMs,
                    dumpMs / (double) Math.max(1, copyMs)));
            deleteTree(img);
        }
        return rows;
    }

    /** Writes and fsyncs the same number of bytes from a direct buffer: the floor of any dump. */
    private static long plainCopyMillis(long bytes) throws Exception {
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

    private static void deleteTree(Path dir) throws Exception {
        if (Files.exists(dir)) {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
            }
        }
    }
}
