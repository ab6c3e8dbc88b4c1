package dev.cryo.cli;

import dev.cryo.engine.files.PrivateModes;
import dev.cryo.api.Cryo;
import dev.cryo.api.CryoException;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;

/**
 * {@code cryo demo}: cryo's main job end to end on a built-in workload that needs nothing but
 * bash — a counter is started, dumped (and so killed), restored, and seen to carry on from
 * exactly where it stopped.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Start a small counter, dump it, restore it, and show it carries on where it stopped.")
final class DemoCommand implements Callable<Integer> {
    @ParentCommand
    CryoCli parent;

    @Option(names = "--keep", description = "Keep the demo directory (image, counter file) afterwards.")
    boolean keep;

    private final PrintWriter out;
    private final PrintWriter err;

    DemoCommand(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() throws Exception {
        if (!Files.isExecutable(Path.of("/bin/bash"))) {
            err.println("cryo: the demo needs /bin/bash");
            return 1;
        }
        Path dir = Files.createTempDirectory("cryo-demo-", PrivateModes.DIR_ATTRIBUTE);
        Path script = dir.resolve("counter.sh");
        try (InputStream in = DemoCommand.class.getResourceAsStream("/demo/counter.sh")) {
            Files.write(script, in.readAllBytes());
        }
        Path counts = dir.resolve("count.txt");
        Pid pid = Spawner.spawn("/bin/bash", List.of("bash", script.toString()), List.of("PATH=/usr/bin:/bin"), true);
        int restored = -1;
        try (Cryo cryo = Cryo.create(parent.localConfig())) {
            out.printf("Started a counter: bash, pid %s, writing 1, 2, 3... every 200 ms to %s%n", pid, counts);
            waitForCount(counts, 8);
            out.println("  it counts:      " + String.join(" ", lines(counts)));
            Path image = dir.resolve("image");
            DumpReport d = cryo.dump(new DumpRequest(pid, image, false, false, new dev.cryo.engine.dump.DumpProgress()))
                    .toCompletableFuture().join();
            List<String> before = lines(counts);
            out.printf(Locale.ROOT, "Dumped it into %s (frozen %d ms, image %s); the dump killed it.%n", image,
                    d.stats().frozenMillis(), Sizes.human(d.stats().imageBytes()));
            Thread.sleep(600);
            out.printf("  600 ms later it is gone, and the file still ends at %s%n", before.get(before.size() - 1));
            RestoreReport r = cryo.restore(new RestoreRequest(image)).toCompletableFuture().join();
            restored = r.rootPid();
            out.printf(Locale.ROOT, "Restored it: pid %d again, in %d ms.%n", r.rootPid(), r.totalMillis());
            waitForCount(counts, before.size() + 6);
            List<String> after = lines(counts);
            out.println("  it carries on:  " + String.join(" ", after.subList(before.size() - 3, after.size())));
            String verdict = verify(after);
            out.println(verdict == null ? "Checked: " + after.size() + " numbers, no gap, no repeat." : "FAILED: " + verdict);
            out.flush();
            return verdict == null ? 0 : 1;
        } catch (CompletionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            LogSetup.failure(err, "demo failed: " + (cause instanceof CryoException ? cause.getMessage() : cause), cause);
            return 1;
        } finally {
            for (int p : restored > 0 ? List.of(restored) : List.of(pid.value())) {
                try {
                    Sys.kill(Pid.of(p), Signals.SIGKILL);
                    Sys.wait4(p, 0);
                } catch (RuntimeException ignored) {
                    // already gone
                }
            }
            if (!keep) {
                deleteTree(dir);
            } else {
                out.println("Kept " + dir);
            }
        }
    }

    private static List<String> lines(Path f) throws IOException {
        return Files.exists(f) ? Files.readAllLines(f).stream().filter(s -> !s.isBlank()).toList() : List.of();
    }

    private static void waitForCount(Path f, int n) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (lines(f).size() < n) {
            if (System.nanoTime() > deadline) {
                throw new CryoException("the counter stopped counting (" + lines(f).size() + " lines in " + f + ")");
            }
            Thread.sleep(50);
        }
    }

    /** Null when the file is exactly 1, 2, ..., N. */
    static String verify(List<String> lines) {
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).equals(Integer.toString(i + 1))) {
                return "line " + (i + 1) + " is '" + lines.get(i) + "'";
            }
        }
        return null;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
