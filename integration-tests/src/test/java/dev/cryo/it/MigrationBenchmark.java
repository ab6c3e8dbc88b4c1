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
 * {@code -Dbench.migrate.sizes=64,256}, dirtying rate with {@code -Dbench.migrate.rate=10}, one workload
 * with {@code -Dbench.migrate.workloads=busy}, migrations of each with {@code -Dbench.migrate.repeat=2}; a's link
 * shaped with {@code -Dbench.migrate.shape=100mbit} (tc tbf rate), and {@code -Dbench.migrate.max-downtime=0,100}
 * migrating each workload once per value in turn, A/B in one sitting: 0 is the pre-copy without its throttle).
 * For each size: an idle workload (bigmem) and a busy one (dirtier), pre-copy; per migration the
 * rounds and their bytes, the downtime and its split, the total time; and the effective rate of
 * the migration (bytes sent over the total time: dump, pre-copy rounds and restore included, so not
 * the channel's rate) next to a plain TCP copy of as many bytes over the same link.
 *
 * <p>{@link #pageChannelNextToPlainTcp} measures the page channel alone ({@link ChannelProbe}: a
 * synthetic image from a JVM in a to a JVM in b, timed to b's receipt for its last byte) next to a
 * plain TCP copy and a plain JDK TLS copy of as many bytes over the same veth link, unshaped and,
 * with {@code tc}, shaped to 1 Gbit/s and 10 Gbit/s (as two real hosts' link would be), with the CPU
 * both ends used per GiB ({@code -Dbench.channel.mib=1024}; pages per chunk {@code -Dbench.channel.pages=256}:
 * bigmem's zero pages make the migration's chunks 3-7 pages; {@code -Dbench.channel.links=10} the 10 Gbit/s rows alone). Unshaped, both ends share this
 * machine's cores: the CPU per GiB says what bounds each.
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
            String shape = System.getProperty("bench.migrate.shape");
            if (shape != null) {
                TwoHosts.sh("ip netns exec " + hosts.nsA + " tc qdisc replace dev " + hosts.linkA() + " root tbf rate " + shape
                        + " burst 256kb latency 100ms");
            }
            String[] bounds = System.getProperty("bench.migrate.max-downtime", "").split(",");
            for (String size : System.getProperty("bench.migrate.sizes", "64,256").split(",")) {
                int mib = Integer.parseInt(size.trim());
                for (boolean busy : new boolean[] {false, true}) {
                    if (!System.getProperty("bench.migrate.workloads", "idle,busy").contains(busy ? "busy" : "idle")) {
                        continue; // -Dbench.migrate.workloads=busy: the dirtier alone
                    }
                    for (int run = 0; run < Integer.getInteger("bench.migrate.repeat", 1); run++) {
                      for (String bound : bounds) {
                        Path dir = Files.createDirectories(tmp.resolve(mib + (busy ? "-busy" : "-idle") + run + "-" + bound));
                        try (DetachedProcess p = busy ? hosts.dirtierOnA(dir, mib, rate) : hosts.bigmemOnA(dir, mib)) {
                            List<String> args = new ArrayList<>(List.of("migrate", "-t", p.pid().toString(), "--to", "b",
                                    "--agent", hosts.ipA + ":" + TwoHosts.PORT, "--keys", hosts.keys.toString(), "--pre-copy"));
                            if (!bound.isBlank()) {
                                args.addAll(List.of("--max-downtime", bound.trim()));
                            }
                            TwoHosts.CliRun m = hosts.cliOnA(args.toArray(String[]::new));
                            assertEquals(0, m.code(), m.toString());
                            rows.add(row(mib + " MiB " + (busy ? "dirtying " + rate + " MiB/s" : "idle")
                                    + (bound.isBlank() ? "" : " bound " + bound.trim()), m.out(), hosts));
                            m.out().lines().filter(l -> l.contains("note: pre-copy")).forEach(l -> rows.add("    " + l.trim()));
                            hosts.killMigrated(p.pid().value());
                        }
                      }
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
                "downtime", "dump+send", "restore", "total", "sent/total", "plain TCP");
        rows.forEach(System.out::println);
    }

    /** The page channel alone next to plain TCP and plain TLS over the same link (see the class comment). */
    @Test
    void pageChannelNextToPlainTcp() throws Exception {
        int mib = Integer.getInteger("bench.channel.mib", 1024);
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> out = new ArrayList<>();
        try (TwoHosts hosts = new TwoHosts(tmp)) {
            Path staging = Files.createDirectories(tmp.resolve("staging")); // on disk, as an agent's staging directory
            String probe = javaBin + " -XX:-UsePerfData " + AGENT_JVM + " -Dbench.channel.pages=" + Integer.getInteger("bench.channel.pages", 256)
                    + " -Dbench.channel.warm.rounds=" + ChannelProbe.WARM_ROUNDS
                    + " -Dbench.stage.keep=" + Long.getLong("bench.stage.keep", 0L) // b's keep-staged (0: none)
                    + (System.getProperty("bench.profile") == null ? "" : " -Dbench.profile=" + System.getProperty("bench.profile"))
                    + " -cp " + cp + " " + ChannelProbe.class.getName();
            String cipher = TwoHosts.sh(probe + " cipher 1024").trim();
            String[] c = cipher.substring(cipher.lastIndexOf("cipher ")).split(" ");
            out.add(String.format(Locale.ROOT, "one core of this machine: AES-128-GCM (16 KiB records) %s MiB per CPU-second, CRC32C %s; %d cores, "
                    + "shared by both ends (and every other process) when unshaped", c[1], c[2], Runtime.getRuntime().availableProcessors()));
            Process server = new ProcessBuilder("ip", "netns", "exec", hosts.nsB, "/bin/bash", "-c", "exec " + probe + " serve "
                    + hosts.ipB + " " + CHANNEL_PORT + " " + hosts.keys + " " + staging).redirectErrorStream(true).start();
            try {
                java.io.BufferedReader lines = new java.io.BufferedReader(new java.io.InputStreamReader(server.getInputStream()));
                awaitLine(lines, "ready");
                out.add(String.format(Locale.ROOT, "%-12s %-13s %9s %10s %12s %15s   %s", "link", "copy", "MiB/s", "x TCP",
                        "cpu-s/GiB", "(a + b)", "load (1, 5, 15 min)"));
                String[][] links = {{"unshaped", null}, {"1 Gbit/s", "rate 1gbit burst 512kb latency 20ms"},
                        {"10 Gbit/s", "rate 10gbit burst 5mb latency 20ms"}};
                // -Dbench.channel.links=10: the 10 Gbit/s rows alone (a short quiet slot); "unshaped", "1", "10"
                List<String> only = List.of(System.getProperty("bench.channel.links", "unshaped,1,10").split(","));
                for (String[] link : links) {
                    if (!only.contains(link[0].split(" ")[0])) {
                        continue;
                    }
                    if (link[1] != null) {
                        try {
                            TwoHosts.sh("ip netns exec " + hosts.nsA + " tc qdisc replace dev " + hosts.linkA() + " root tbf " + link[1]);
                        } catch (Exception | AssertionError e) {
                            out.add(link[0] + ": not measured, tc failed: " + e.getMessage());
                            continue;
                        }
                    }
                    // twice (-Dbench.channel.rounds): the rows of one link show the noise, and any drift
                    for (int round = 0; round < Integer.getInteger("bench.channel.rounds", 2); round++) {
                        double tcp = 0;
                        for (String kind : new String[] {"tcp", "tls", "channel"}) {
                            String load = String.join(" ", java.util.Arrays.copyOf(Files.readString(Path.of("/proc/loadavg")).split(" "), 3));
                            String sent = lastLine(TwoHosts.sh("nsenter --net=/run/netns/" + hosts.nsA + " " + probe + " send "
                                    + kind + " " + hosts.ipB + " " + CHANNEL_PORT + " " + hosts.keys + " " + mib), "sent ");
                            String[] s = sent.split(" ");
                            // b's line for the measured transfer: the probe's warm-up transfers say "done" first
                            for (int w = 0; w < ChannelProbe.WARM_ROUNDS; w++) {
                                awaitLine(lines, "done " + kind + " ");
                            }
                            String[] d = awaitLine(lines, "done " + kind + " " + s[2] + " ").split(" ");
                            double bytes = Double.parseDouble(s[2]), gib = bytes / (1 << 30);
                            double rate = bytes / (1 << 20) / (Long.parseLong(s[3]) / 1e9);
                            double cpuA = Long.parseLong(s[4]) / 1e9 / gib, cpuB = Long.parseLong(d[3]) / 1e9 / gib;
                            if (kind.equals("tcp")) tcp = rate;
                            out.add(String.format(Locale.ROOT, "%-12s %-13s %9.0f %10.2f %12.2f %7.2f + %5.2f   %s", link[0],
                                    switch (kind) { case "tcp" -> "plain TCP"; case "tls" -> "JDK TLS"; default -> "page channel"; },
                                    rate, rate / tcp, cpuA + cpuB, cpuA, cpuB, load));
                            if (kind.equals("channel") && d.length >= 10) { // b's receiving thread: the bottleneck
                                out.add(String.format(Locale.ROOT, "%-26s b's receiving thread %.2f cpu-s/GiB (user %.2f, system %.2f), "
                                        + "%s waits, GC %.0f ms, %.0f page faults per GiB", "", Long.parseLong(d[4]) / 1e9 / gib,
                                        Long.parseLong(d[6]) / 1e3 / gib, Long.parseLong(d[7]) / 1e3 / gib, d[5],
                                        Double.parseDouble(d[9]), Long.parseLong(d[8]) / gib));
                            }
                        }
                    }
                }
            } finally {
                server.destroyForcibly();
            }
        }
        System.out.println("\npage channel over a veth link (" + mib + " MiB each; page channel: image framing, CRC32C, "
                + "staged on disk, timed to b's receipt), " + java.time.Instant.now());
        out.forEach(System.out::println);
    }

    private static final int CHANNEL_PORT = 25540;
    /**
     * Both probe JVMs run with the agent's heap settings (actors/src/deb/bin/cryo and ./cryo for
     * "agent"): they ran the default G1 with its growing heap, and b's receiving thread took page
     * faults in JSSE's per-record garbage as the heap grew (~8 % of its samples), which an agent's
     * fixed young generation does not.
     */
    private static final String AGENT_JVM = "-XX:+UseSerialGC -Xms192m -Xmn64m";

    private static String awaitLine(java.io.BufferedReader lines, String prefix) throws java.io.IOException {
        for (String l; (l = lines.readLine()) != null; ) {
            if (l.startsWith(prefix)) return l;
            if (l.startsWith("failed")) throw new AssertionError(l);
        }
        throw new AssertionError("the probe ended before '" + prefix + "'");
    }

    private static String lastLine(String text, String prefix) {
        String found = null;
        for (String l : text.split("\n")) {
            if (l.startsWith(prefix)) found = l;
        }
        if (found == null) throw new AssertionError("no '" + prefix + "' in: " + text);
        return found;
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
