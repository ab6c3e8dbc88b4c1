package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import dev.cryo.kernel.testing.TestPrograms;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How long {@code cryo dump --pre-copy} keeps a mostly idle tree frozen (issue 10's goal: 1 GiB in at
 * most 50 ms), measured, never asserted: {@code mvn -B -o verify -Pbench -pl integration-tests -am
 * -DskipDeb=true -Dbench=true -Dtest=PreCopyBenchmark} ({@code -Dbench.precopy.mib=1024},
 * {@code -Dbench.precopy.repeats=5}). bigmem is dumped with --leave-running again and again from this
 * JVM (warm, as through an agent; the first dump warms it up and is shown apart), images on /dev/shm;
 * the frozen time is cryo's own figure, printed with the load average of the moment
 * ({@code -Dbench.precopy.verbose=true}: with the freeze's steps from the debug log).
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class PreCopyBenchmark {
    @TempDir
    Path tmp;

    private static final Pattern FROZEN = Pattern.compile("frozen (\\d+) ms, total (\\d+) ms");

    @Test
    void preCopyDumpFrozenTime() throws Exception {
        int mib = Integer.getInteger("bench.precopy.mib", 1024);
        int repeats = Integer.getInteger("bench.precopy.repeats", 5);
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "cryo-precopy-");
        List<String> rows = new ArrayList<>();
        try (DetachedProcess p = Workloads.ready(DetachedProcess.start(tmp.resolve("bigmem.out"),
                TestPrograms.compile("/c/bigmem.c", "-O2").toString(), Integer.toString(mib)))) {
            for (int i = 0; i <= repeats; i++) {
                Path img = shm.resolve("img-" + i);
                List<String> args = new ArrayList<>();
                Path log = tmp.resolve("dump-" + i + ".log");
                if (Boolean.getBoolean("bench.precopy.verbose")) {
                    // the freeze's steps: the debug log goes to a file (in-process, it never reached dump.err())
                    args.addAll(List.of("-vv", "--log-file", log.toString()));
                }
                args.addAll(List.of("dump", "--pre-copy", "-R", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress"));
                Cli dump = Cli.run(args.toArray(String[]::new));
                assertEquals(0, dump.code(), dump.toString());
                Matcher m = FROZEN.matcher(dump.out());
                assertTrue(m.find(), dump.out());
                rows.add(String.format(Locale.ROOT, "%-8s frozen %4s ms, total %5s ms, load %s",
                        i == 0 ? "warm-up" : "dump " + i, m.group(1), m.group(2), load()));
                if (Files.exists(log)) {
                    Files.readAllLines(log).stream().filter(l -> l.contains("state collected") || l.contains(" at +")
                            || l.contains("frozen smaps") || l.contains("seized in") || l.contains("task itself ran")
                            || l.contains("the tree was frozen")).forEach(l -> rows.add("    " + l));
                }
                deleteTree(img);
            }
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        } finally {
            deleteTree(shm);
        }
        System.out.println("\ncryo dump --pre-copy -R of bigmem " + mib + " MiB (mostly idle), this machine, "
                + java.time.Instant.now());
        rows.forEach(System.out::println);
    }

    /**
     * CRIU's iterative dump: {@code cryo pre-dump} of predumped (1 GiB, {@code -Dbench.precopy.mib}), 256 pages
     * rewritten and 1 MiB mapped, then {@code dump -R --prev-images-dir}: its frozen time against a whole
     * {@code dump -R} of the same tree just before ({@code -Dbench.precopy.repeats}, 3 by default).
     */
    @Test
    void preDumpThenDumpFrozenTime() throws Exception {
        int mib = Integer.getInteger("bench.precopy.mib", 1024);
        int repeats = Integer.getInteger("bench.precopy.repeats", 3);
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "cryo-predump-");
        List<String> rows = new ArrayList<>();
        Pattern rounds = Pattern.compile("pages per round: (\\[[0-9, ]+])");
        Pattern holder = Pattern.compile("\\(by pid (\\d+)\\)");
        try (DetachedProcess p = Workloads.program(tmp.resolve("predumped.out"), "predumped", Integer.toString(mib), "256")) {
            for (int i = 0; i <= repeats; i++) {
                String pid = p.pid().toString();
                Cli whole = Cli.run("dump", "-R", "-t", pid, "-D", shm.resolve("whole").toString(), "--no-progress");
                assertEquals(0, whole.code(), whole.toString());
                Cli pre = Cli.run("pre-dump", "-t", pid, "-D", shm.resolve("pre").toString(), "--no-progress");
                assertEquals(0, pre.code(), pre.toString());
                Matcher h = holder.matcher(pre.out());
                assertTrue(h.find(), pre.out());
                dev.cryo.kernel.Sys.kill(p.pid(), dev.cryo.kernel.Signals.SIGUSR1);
                p.awaitOutput("wrote " + (i + 1) + "\n", java.time.Duration.ofSeconds(30));
                Cli after = Cli.run("dump", "-R", "-t", pid, "-D", shm.resolve("after").toString(), "--prev-images-dir",
                        "../pre", "--no-progress");
                dev.cryo.engine.dump.TrackingHolder.kill(dev.cryo.kernel.Pid.of(Integer.parseInt(h.group(1))));
                assertEquals(0, after.code(), after.toString());
                Matcher w = FROZEN.matcher(whole.out()), f = FROZEN.matcher(after.out()), r = rounds.matcher(after.out());
                assertTrue(w.find() && f.find() && r.find(), whole.out() + after.out());
                rows.add(String.format(Locale.ROOT, "%-8s whole dump frozen %4s ms; dump after the pre-dump frozen %4s ms, "
                        + "total %5s ms, pages per round %s; load %s", i == 0 ? "warm-up" : "dump " + i, w.group(1),
                        f.group(1), f.group(2), r.group(1), load()));
                deleteTree(shm.resolve("whole"));
                deleteTree(shm.resolve("pre"));
                deleteTree(shm.resolve("after"));
            }
            String out = Workloads.check(p);
            assertTrue(out.contains("PASS"), out);
        } finally {
            deleteTree(shm);
        }
        System.out.println("\ncryo pre-dump, 256 pages written, dump -R --prev-images-dir of predumped " + mib
                + " MiB, this machine, " + java.time.Instant.now());
        rows.forEach(System.out::println);
    }

    private static String load() throws Exception {
        return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    }

    private static void deleteTree(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return;
        }
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
