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

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * Dump and restore speed, measured, never asserted. Run it with the {@code bench} profile:
 * <pre>mvn -B verify -Pbench -pl integration-tests -am -DskipDeb=true</pre>
 * ({@code -Dbench.sizes=16,256,1024,4096} for the 4 GiB row, {@code -Dbench.repeats=5}).
 *
 * <p>Workloads are processes holding N MiB of random bytes ({@code randmem.c}, every page present,
 * none zero) and a tree of 4 such processes of 64 MiB under a shell; images go to /dev/shm. Each is
 * dumped (leave-running) and restored with one region actor and with the default, medians of
 * {@code bench.repeats}; frozen time is cryo's own figure (the one stats.json carries). Each figure
 * stands next to a plain copy of the same bytes in the same run, so the ratios stay comparable on a
 * shared, loaded machine: for a dump, writing the image's size into a fresh file on the same
 * filesystem; for a restore, copying the image file into a fresh file (read + write into new pages).
 * Then the command line, as a user runs it (the {@code ./cryo} launcher, a cold JVM each time):
 * wall and peak RSS of dump and restore, for a small process and the largest size, and once for
 * {@code bench.rss-mib} (4096 by default, 0 skips it): cryo's own memory must stay bounded whatever
 * the size of the tree.
 */
@EnabledIfSystemProperty(named = "bench", matches = "true")
class CheckpointBenchmark {
    private static final Path DIR = Path.of(System.getProperty("bench.dir", "/dev/shm/cryo-bench")).toAbsolutePath();
    private static final int REPEATS = Integer.getInteger("bench.repeats", 3);
    private static final int RSS_MIB = Integer.getInteger("bench.rss-mib", 4096);
    private static final Path LAUNCHER = Path.of("../cryo").toAbsolutePath().normalize();
    private final List<String> rows = new ArrayList<>();
    private final List<String> cliRows = new ArrayList<>();

    @Test
    void checkpointSpeed() throws Exception {
        deleteTree(DIR);
        Files.createDirectories(DIR);
        String loadBefore = load();
        String randmem = TestPrograms.compile("/c/randmem.c").toString();
        List<Integer> sizes = Arrays.stream(System.getProperty("bench.sizes", "16,256,1024").split(","))
                .map(String::trim).filter(x -> !x.isEmpty()).map(Integer::parseInt).toList();
        try (Cryo one = Cryo.create(config("1")); Cryo dflt = Cryo.create(config("0"))) {
            warmUp(randmem, one, dflt);
            for (int mib : sizes) {
                measure(mib + " MiB", () -> randmem(randmem, mib), one, dflt);
            }
            if (Boolean.parseBoolean(System.getProperty("bench.tree", "true"))) {
                String w = randmem + " 64";
                measure("tree 4 x 64 MiB", () -> tree(w), one, dflt);
            }
        }
        if (Boolean.parseBoolean(System.getProperty("bench.cli", "true"))) {
            // untimed: the launcher's first run builds the jar's class-data archive (its JVM's RSS would count)
            timedCommand(LAUNCHER.toString(), "--version");
            cli(randmem, 16, REPEATS);
            int largest = sizes.stream().mapToInt(Integer::intValue).max().orElse(16);
            if (largest > 16) {
                cli(randmem, largest, REPEATS);
            }
            if (RSS_MIB > largest) {
                cli(randmem, RSS_MIB, 1); // for its peak RSS: one run
            }
            if (Boolean.parseBoolean(System.getProperty("bench.agent", "true"))) {
                throughAgent(randmem, 16, REPEATS);
            }
        }
        String report = String.format(Locale.ROOT, "%n%s%n%-16s %-7s %8s %8s %8s %8s %8s %7s %7s %7s %7s%n",
                "cryo benchmark: images on " + DIR + ", medians of " + REPEATS + "; load average before: "
                        + loadBefore + ", after: " + load() + "; " + Runtime.getRuntime().availableProcessors() + " cores",
                "workload", "regions", "dump ms", "frozen", "restore", "write ms", "copy ms", "dump/w", "froz/w",
                "rest/c", "froz GB/s")
                + String.join("\n", rows)
                + String.format(Locale.ROOT, "%n%ncommand line (./cryo, cold JVM each time), medians of %d" + (RSS_MIB > 0 ? " (" + RSS_MIB + " MiB: one run)" : "") + ":%n%-16s %-8s %9s %12s%n",
                REPEATS, "workload", "step", "wall ms", "peak RSS MiB")
                + String.join("\n", cliRows) + "\n";
        System.out.println(report);
        Path out = Path.of("target/bench-results.txt").toAbsolutePath();
        Files.writeString(out, report);
        System.out.println("(also in " + out + ")");
        deleteTree(DIR);
    }

    private interface Start {
        DetachedProcess start() throws Exception;
    }

    private static DetachedProcess randmem(String exe, int mib) throws Exception {
        DetachedProcess p = DetachedProcess.start(DIR.resolve("randmem-" + mib + ".out"), exe, Integer.toString(mib));
        p.awaitOutput("ready", Duration.ofMinutes(2));
        return p;
    }

    private static DetachedProcess tree(String worker) throws Exception {
        DetachedProcess tree = DetachedProcess.start(DIR.resolve("tree.out"), "sh", "-c",
                worker + " & " + worker + " & " + worker + " & " + worker + " & wait");
        DetachedProcess.awaitCondition(() -> {
            try {
                return tree.outputText().split("ready", -1).length == 5;
            } catch (Exception e) {
                return false;
            }
        }, Duration.ofMinutes(2), "4 randmem processes to be ready");
        return tree;
    }

    /** One dump and restore per actor setting, so neither pays the first run's class loading. */
    private void warmUp(String randmem, Cryo one, Cryo dflt) throws Exception {
        for (Cryo cryo : List.of(one, dflt)) {
            Path img = DIR.resolve("warm-up");
            try (DetachedProcess p = randmem(randmem, 16)) {
                cryo.dump(DumpRequest.of(p.pid().value(), img).leavingRunning(false)).toCompletableFuture().join();
                awaitGone(List.of(p.pid().value()));
            }
            killRestored(cryo.restore(new RestoreRequest(img)).toCompletableFuture().join());
            deleteTree(img);
        }
    }

    private void measure(String label, Start start, Cryo one, Cryo dflt) throws Exception {
        for (Cryo cryo : List.of(one, dflt)) {
            String regions = cryo == one ? "1" : "default";
            try {
                measure(label, start, cryo, regions);
            } catch (Exception | AssertionError e) { // a row says what went wrong; the rest still runs
                rows.add(String.format(Locale.ROOT, "%-16s %-7s FAILED: %s", label, regions, e.getMessage()));
                System.out.println(rows.get(rows.size() - 1));
            }
        }
    }

    /** A fresh workload: dumped (leave-running) REPEATS times, then killed, and its image restored REPEATS times. */
    private void measure(String label, Start start, Cryo cryo, String regions) throws Exception {
        long[] dump = new long[REPEATS], frozen = new long[REPEATS], write = new long[REPEATS];
        long[] restore = new long[REPEATS], copy = new long[REPEATS];
        Path img = DIR.resolve("img");
        long imageBytes = 0;
        String verdict = "";
        try (DetachedProcess p = start.start()) {
            for (int i = 0; i < REPEATS; i++) {
                deleteTree(img);
                long t0 = System.nanoTime();
                DumpReport d = cryo.dump(DumpRequest.of(p.pid().value(), img).leavingRunning(true))
                        .toCompletableFuture().join();
                dump[i] = (System.nanoTime() - t0) / 1_000_000;
                frozen[i] = d.stats().frozenMillis();
                imageBytes = Files.size(img.resolve("image.cryo"));
                long bytes = imageBytes;
                write[i] = timed(() -> writeFresh(bytes));
            }
            List<Integer> pids = allPids(p.pid().value());
            pids.forEach(Workloads::killQuietly);
            awaitGone(pids);
            for (int i = 0; i < REPEATS; i++) {
                long t0 = System.nanoTime();
                RestoreReport r;
                try {
                    r = cryo.restore(new RestoreRequest(img)).toCompletableFuture().join();
                } catch (java.util.concurrent.CompletionException e) {
                    if (!String.valueOf(e.getMessage()).contains("is in use")) {
                        throw e;
                    }
                    Thread.sleep(3000); // a pid of the last restore not reaped yet: once more, timed again
                    t0 = System.nanoTime();
                    r = cryo.restore(new RestoreRequest(img)).toCompletableFuture().join();
                }
                restore[i] = (System.nanoTime() - t0) / 1_000_000;
                if (i == REPEATS - 1 && !label.startsWith("tree")) {
                    verdict = verify(r, p.output()); // changes the output file: the image is not restored again
                }
                killRestored(r);
                copy[i] = timed(() -> copyFresh(img.resolve("image.cryo")));
            }
        }
        long w = median(write), c = median(copy);
        rows.add(String.format(Locale.ROOT, "%-16s %-7s %8d %8d %8d %8d %8d %7.2f %7.2f %7.2f %7.2f", label,
                regions, median(dump), median(frozen), median(restore), w, c, median(dump) / (double) Math.max(1, w),
                median(frozen) / (double) Math.max(1, w), median(restore) / (double) Math.max(1, c),
                imageBytes / 1e6 / Math.max(1, median(frozen))) + verdict);
        System.out.println(rows.get(rows.size() - 1));
        deleteTree(img);
    }

    /** The restored workload checks its own bytes (SIGUSR2 → PASS/FAIL): a fast but wrong restore is no figure. */
    private static String verify(RestoreReport r, Path output) throws Exception {
        long until = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        for (int i = 0; System.nanoTime() < until; i++) {
            if (i % 20 == 0) { // again every second: a signal sent as the restore returns may be lost (see the report)
                Sys.kill(Pid.of(r.rootPid()), Signals.SIGUSR2);
            }
            String o = Files.readString(output);
            if (o.contains("PASS")) {
                return "";
            }
            if (o.contains("FAIL")) {
                return "  RESTORED WRONG: " + o.trim().replace('\n', ' ');
            }
            Thread.sleep(50);
        }
        String state = Files.exists(Path.of("/proc/" + r.rootPid())) ? Files.readString(Path.of("/proc/" + r.rootPid() + "/stat")) : "gone";
        return "  NO VERDICT (" + state.trim() + ")";
    }

    /** Dump and restore through the launcher, a cold JVM each time, with wall time and peak RSS. */
    private void cli(String randmem, int mib, int repeats) {
        try {
            cliRows(randmem, mib, repeats);
        } catch (Exception | AssertionError e) {
            cliRows.add(String.format(Locale.ROOT, "%-16s FAILED: %s", mib + " MiB", e.getMessage()));
        }
    }

    private void cliRows(String randmem, int mib, int repeats) throws Exception {
        cliRows(randmem, mib, repeats, Map.of(), "");
    }

    /** {@code how}: the rows' label after the step, null for a run that adds no row (a warm-up). */
    private void cliRows(String randmem, int mib, int repeats, Map<String, String> env, String how) throws Exception {
        long[] dump = new long[repeats], dumpRss = new long[repeats], restore = new long[repeats], restoreRss = new long[repeats];
        Path img = DIR.resolve("cli-img");
        Path pidfile = DIR.resolve("cli.pid");
        try (DetachedProcess p = randmem(randmem, mib)) {
            for (int i = 0; i < repeats; i++) {
                deleteTree(img);
                long[] r = timedCommand(env, LAUNCHER.toString(), "dump", "-t", p.pid().toString(), "-D", img.toString(),
                        "-R", "--no-progress");
                dump[i] = r[0];
                dumpRss[i] = r[1];
            }
            Workloads.killQuietly(p.pid().value());
            awaitGone(List.of(p.pid().value()));
        }
        for (int i = 0; i < repeats; i++) {
            Files.deleteIfExists(pidfile);
            long[] r = timedCommand(env, LAUNCHER.toString(), "restore", "-D", img.toString(), "-d", "--pidfile",
                    pidfile.toString());
            restore[i] = r[0];
            restoreRss[i] = r[1];
            int pid = Integer.parseInt(Files.readString(pidfile).trim());
            Workloads.killQuietly(pid);
            awaitGone(List.of(pid));
        }
        deleteTree(img);
        if (how == null) {
            return;
        }
        String suffix = how.isEmpty() ? "" : " (" + how + ")";
        cliRows.add(String.format(Locale.ROOT, "%-16s %-8s %9d %12d%s", mib + " MiB", "dump", median(dump),
                max(dumpRss) >> 10, suffix));
        cliRows.add(String.format(Locale.ROOT, "%-16s %-8s %9d %12d%s", mib + " MiB", "restore", median(restore),
                max(restoreRss) >> 10, suffix));
    }

    /**
     * The same dump and restore of a small process through the launcher, with a {@code cryo agent}
     * running on this host: the command hands its job to the agent's warm JVM over the local
     * socket. The agent is warmed up by one dump and restore first (a running agent has done some).
     */
    private void throughAgent(String randmem, int mib, int repeats) {
        Path sock = DIR.resolve("run/agent.sock");
        Path log = DIR.resolve("agent.log");
        Process agent = null;
        try {
            Path keys = DIR.resolve("keys");
            timedCommand(Map.of(), LAUNCHER.toString(), "keys", "init", keys.toString());
            int port = ThreadLocalRandom.current().nextInt(40000, 50000);
            Map<String, String> env = Map.of("CRYO_JAVA_OPTS", "-Dcryo.cluster.local-socket=" + sock);
            ProcessBuilder pb = new ProcessBuilder(LAUNCHER.toString(), "agent", "--name", "bench", "--bind",
                    "127.0.0.1:" + port, "--data-port", "0", "--keys", keys.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().putAll(env);
            agent = pb.start();
            Process a = agent;
            DetachedProcess.awaitCondition(() -> Files.exists(sock) || !a.isAlive(), Duration.ofMinutes(2),
                    "the agent to listen on " + sock);
            if (!agent.isAlive()) {
                throw new AssertionError("the agent ended: " + Files.readString(log));
            }
            cliRows(randmem, mib, 1, env, null); // warm-up of the agent's dump and restore, not counted
            cliRows(randmem, mib, repeats, env, "via agent");
            if (!Files.readString(log).contains("local request")) {
                throw new AssertionError("the commands did not go through the agent: " + Files.readString(log));
            }
        } catch (Exception | AssertionError e) {
            cliRows.add(String.format(Locale.ROOT, "%-16s FAILED through the agent: %s", mib + " MiB", e.getMessage()));
        } finally {
            if (agent != null) {
                agent.destroy(); // SIGTERM: the agent leaves and exits
                try {
                    if (!agent.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                        agent.destroyForcibly();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** {wall ms, peak RSS KiB} of a command, by /usr/bin/time; fails on a non-zero exit. */
    private static long[] timedCommand(String... command) throws Exception {
        return timedCommand(Map.of(), command);
    }

    private static long[] timedCommand(Map<String, String> env, String... command) throws Exception {
        Path times = DIR.resolve("time.txt");
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/time", "-o", times.toString(), "-f", "%e %M"));
        cmd.addAll(List.of(command));
        Path log = DIR.resolve("cli.log");
        // started through setsid: a restored tree must not be this JVM's child (ProcessBuilder's reaper)
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process proc = pb.start();
        if (proc.waitFor() != 0) {
            throw new AssertionError(String.join(" ", command) + " failed: " + Files.readString(log));
        }
        String[] f = Files.readString(times).trim().split("\\s+");
        return new long[] {Math.round(Double.parseDouble(f[f.length - 2]) * 1000), Long.parseLong(f[f.length - 1])};
    }

    private static void killRestored(RestoreReport r) throws Exception {
        r.pids().forEach(Workloads::killQuietly);
        Cryo.waitFor(r.rootPid());
        awaitGone(r.pids());
    }

    /** The root and its descendants, from /proc/PID/task/PID/children. */
    private static List<Integer> allPids(int root) throws IOException {
        List<Integer> out = new ArrayList<>(List.of(root));
        for (int i = 0; i < out.size(); i++) {
            Path children = Path.of("/proc/" + out.get(i) + "/task/" + out.get(i) + "/children");
            if (Files.exists(children)) {
                for (String c : Files.readString(children).trim().split("\\s+")) {
                    if (!c.isEmpty()) {
                        out.add(Integer.parseInt(c));
                    }
                }
            }
        }
        return out;
    }

    /** Until every pid is reaped: a restore needs its pids free. */
    private static void awaitGone(List<Integer> pids) throws Exception {
        for (int pid : pids) {
            DetachedProcess.awaitCondition(() -> !Files.exists(Path.of("/proc/" + pid)), Duration.ofSeconds(60),
                    "pid " + pid + " to be reaped");
        }
    }

    private static com.typesafe.config.Config config(String regions) {
        return CryoConfig.loadConfig(Optional.empty(), Map.of("cryo.parallelism.regions", regions));
    }

    private static long timed(LongSupplier op) {
        return op.getAsLong();
    }

    /** Writes {@code bytes} from a warm buffer into a new file: the floor of any dump into a file there. */
    private static long writeFresh(long bytes) {
        try {
            Path f = DIR.resolve("plain-write.bin");
            ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20);
            byte[] random = new byte[buf.capacity()];
            ThreadLocalRandom.current().nextBytes(random);
            buf.put(random).flip();
            long t0 = System.nanoTime();
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (long done = 0; done < bytes; done += buf.capacity()) {
                    buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Files.delete(f);
            return ms;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Copies the image into a new file (read, then write into new pages): the floor of any restore from it. */
    private static long copyFresh(Path image) {
        try {
            Path f = DIR.resolve("plain-copy.bin");
            ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20);
            long t0 = System.nanoTime();
            try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ);
                 FileChannel out = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                while (in.read(buf.clear()) > 0) {
                    buf.flip();
                    while (buf.hasRemaining()) {
                        out.write(buf);
                    }
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Files.delete(f);
            return ms;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static long median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static long max(long[] v) {
        return Arrays.stream(v).max().orElse(0);
    }

    private static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
            }
        }
    }
}
