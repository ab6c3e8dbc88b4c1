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
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Migration speed between two hosts ({@link TwoHosts}: namespaces joined by a veth pair), measured
 * not asserted: {@code mvn -B -o -pl integration-tests -am verify -DskipDeb=true -Dbench=true
 * -Dtest=MigrationBenchmark -Dsurefire.failIfNoSpecifiedTests=false} (sizes in MiB with
 * {@code -Dbench.migrate.sizes=64,256}, dirtying rate with {@code -Dbench.migrate.rate=10}).
 * For each size: an idle workload (bigmem) and a busy one (dirtier), pre-copy; per migration the
 * rounds and their bytes, the downtime and its split, the total time; and the effective rate of
 * the page channel (bytes sent over the total time) next to a plain TCP copy of as many bytes over
 * the same link.
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class MigrationBenchmark {
    @TempDir
    Path tmp;

    private static final Pattern ROUND = Pattern.compile("round (\\d+)(?: \\(frozen\\))?: ([0-9.]+ \\w+)");
    private static final Pattern SUMMARY = Pattern.compile(
            "downtime (\\d+) ms \\(frozen dump and send (\\d+) ms, restore on b (\\d+) ms\\), total (\\d+) ms, ([0-9.]+ \\w+) sent");

    @Test
    void migrationSpeed() throws Exception {
        assumeTrue(Files.exists(TwoHosts.JAR), "the packaged CLI " + TwoHosts.JAR + " is built by `mvn verify`");
        int rate = Integer.getInteger("bench.migrate.rate", 10);
        List<String> rows = new ArrayList<>();
        // -Dbench.migrate.logs=DIR: both agents log at debug level (stage timings) and their logs are kept in DIR
        String logs = System.getProperty("bench.migrate.logs");
        TwoHosts started = null;
        try (TwoHosts hosts = logs == null ? new TwoHosts(tmp).start() : new TwoHosts(tmp).start("-vv")) {
            started = hosts;
            for (String size : System.getProperty("bench.migrate.sizes", "64,256").split(",")) {
                int mib = Integer.parseInt(size.trim());
                for (boolean busy : new boolean[] {false, true}) {
                    Path dir = Files.createDirectories(tmp.resolve(mib + (busy ? "-busy" : "-idle")));
                    try (DetachedProcess p = busy ? hosts.dirtierOnA(dir, mib, rate) : hosts.bigmemOnA(dir, mib)) {
                        TwoHosts.CliRun m = hosts.cliOnA("migrate", "-t", p.pid().toString(), "--to", "b", "--agent",
                                hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy");
                        assertEquals(0, m.code(), m.toString());
                        rows.add(row(mib + " MiB " + (busy ? "dirtying " + rate + " MiB/s" : "idle"), m.out(), hosts));
                        hosts.killMigrated(p.pid().value());
                    }
                }
            }
        } finally { // kept when a migration fails too
            if (logs != null && started != null) {
                Files.createDirectories(Path.of(logs));
                Files.copy(started.logA, Path.of(logs, "agent-a.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.copy(started.logB, Path.of(logs, "agent-b.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        System.out.println("\nmigration (pre-copy) over a veth link, this machine, " + java.time.Instant.now());
        System.out.printf(Locale.ROOT, "%-26s %-44s %9s %9s %9s %9s %11s %11s%n", "workload", "rounds (bytes each)",
                "downtime", "dump+send", "restore", "total", "channel", "plain TCP");
        rows.forEach(System.out::println);
    }

    private static String row(String what, String out, TwoHosts hosts) throws Exception {
        List<String> rounds = new ArrayList<>();
        Matcher r = ROUND.matcher(out);
        while (r.find()) rounds.add(r.group(2));
        Matcher s = SUMMARY.matcher(out);
        if (!s.find()) throw new AssertionError("no summary in: " + out);
        long total = Long.parseLong(s.group(4));
        long bytes = parseBytes(s.group(5));
        double channel = bytes / (1024.0 * 1024) / (total / 1000.0);
        double plain = hosts.plainTcpMiBPerSecond(bytes);
        return String.format(Locale.ROOT, "%-26s %-44s %6s ms %6s ms %6s ms %6d ms %6.0f MiB/s %6.0f MiB/s", what,
                rounds.size() + ": " + String.join(", ", rounds), s.group(1), s.group(2), s.group(3), total, channel, plain);
    }

    private static long parseBytes(String human) {
        String[] p = human.split(" ");
        double v = Double.parseDouble(p[0]);
        long unit = switch (p[1]) {
            case "KiB" -> 1L << 10;
            case "MiB" -> 1L << 20;
            case "GiB" -> 1L << 30;
            default -> 1;
        };
        return (long) (v * unit);
    }
}
