package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
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
 * How long a restore of one process holding many fds takes (real41: 12,000 unix sockets took 80 s
 * at load 30), by kind: connected unix socket pairs with a byte queued each way, pipes with a byte,
 * files. Measured, never asserted: {@code mvn -B -o verify -Pbench -pl integration-tests -am
 * -DskipDeb=true -Dtest=ManyFdsRestoreBenchmark} ({@code -Dbench.fds.count=4000},
 * {@code -Dbench.fds.kinds=unix,pipe,file}). Dump (killing) and restore run in this JVM, warm after
 * the first kind; the figure is cryo's own "Restored ... in N ms", printed with the load average.
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class ManyFdsRestoreBenchmark {
    @TempDir
    Path tmp;

    private static final Pattern RESTORED = Pattern.compile("in (\\d+) ms");

    @Test
    void restoreOfManyFds() throws Exception {
        int n = Integer.getInteger("bench.fds.count", 4000);
        List<String> rows = new ArrayList<>();
        for (String kind : System.getProperty("bench.fds.kinds", "unix,pipe,file").split(",")) {
            Path dir = Files.createDirectories(tmp.resolve(kind));
            try (DetachedProcess p = Workloads.program(tmp.resolve(kind + ".out"), "manyfds", kind, Integer.toString(n), dir.toString())) {
                Path img = tmp.resolve("img-" + kind);
                Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "--no-progress");
                assertEquals(0, dump.code(), dump.toString());
                String load = load();
                long start = System.nanoTime();
                Cli restore = Cli.run("restore", "-D", img.toString(), "-d");
                long wall = (System.nanoTime() - start) / 1_000_000;
                assertEquals(0, restore.code(), restore.toString());
                Matcher m = RESTORED.matcher(restore.out());
                assertTrue(m.find(), restore.out());
                String out = RestoreTest.checkAndReap(DetachedProcess.restored(p.pid(), p.output()));
                assertTrue(out.contains("PASS"), out);
                rows.add(String.format(Locale.ROOT, "%-5s %6d fds: restored in %6s ms (cryo's figure), %6d ms wall, load %s",
                        kind, n, m.group(1), wall, load));
            }
        }
        System.out.println("\ncryo restore of one process with many fds, this machine, " + java.time.Instant.now());
        rows.forEach(System.out::println);
    }

    private static String load() throws Exception {
        return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    }
}
