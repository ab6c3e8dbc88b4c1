package dev.cryo.kernel.testing;

import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * A test workload started detached from the JVM: a shell runs it in the background under setsid
 * and prints its pid, then exits. The workload's parent is init, never this JVM, so the JDK's
 * process reaper cannot steal its ptrace stops.
 */
public final class DetachedProcess implements AutoCloseable {
    private final Pid pid;
    private final Path output;

    private DetachedProcess(Pid pid, Path output) {
        this.pid = pid;
        this.output = output;
    }

    /** A view of a process that was restored from an image: same pid, same output file. */
    public static DetachedProcess restored(Pid pid, Path output) {
        return new DetachedProcess(pid, output);
    }

    public static DetachedProcess start(Path output, String... command) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("sh", "-c",
                "cd \"$1\"; shift; setsid \"$@\" </dev/null >\"$OUT\" 2>&1 & echo $!", "sh",
                output.toAbsolutePath().getParent().toString()));
        cmd.addAll(List.of(command));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("OUT", output.toAbsolutePath().toString());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0 || out.isEmpty()) {
            throw new IOException("could not start " + String.join(" ", command) + ": " + out);
        }
        return new DetachedProcess(Pid.of(Integer.parseInt(out)), output);
    }

    public Pid pid() {
        return pid;
    }

    public Path output() {
        return output;
    }

    public String outputText() throws IOException {
        return Files.exists(output) ? Files.readString(output) : "";
    }

    /** Waits until the workload has printed {@code text}. */
    public void awaitOutput(String text, Duration timeout) throws IOException, InterruptedException {
        try {
            awaitCondition(() -> {
                try {
                    return outputText().contains(text);
                } catch (IOException e) {
                    return false;
                }
            }, timeout, "output of pid " + pid + " to contain '" + text + "'");
        } catch (AssertionError e) { // say what it printed and where its tree waits (a workload hung once before ready)
            throw new AssertionError(e.getMessage() + "; it printed '" + outputText() + "'; " + where(pid.value(), 0), e);
        }
    }

    /** The state, wait channel and syscall of {@code pid} and of its descendants (a few levels). */
    private static String where(int pid, int depth) {
        String proc = "/proc/" + pid;
        StringBuilder b = new StringBuilder("pid ").append(pid);
        try {
            String stat = Files.readString(Path.of(proc + "/stat"));
            b.append(" state ").append(stat.charAt(stat.lastIndexOf(')') + 2))
                    .append(" wchan ").append(Files.readString(Path.of(proc + "/wchan")))
                    .append(" syscall ").append(Files.readString(Path.of(proc + "/syscall")).strip());
            for (String c : Files.readString(Path.of(proc + "/task/" + pid + "/children")).trim().split(" ")) {
                if (!c.isEmpty() && depth < 3) {
                    b.append("; ").append(where(Integer.parseInt(c), depth + 1));
                }
            }
        } catch (IOException | RuntimeException gone) {
            b.append(" gone");
        }
        return b.toString();
    }

    public static void awaitCondition(BooleanSupplier condition, Duration timeout, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    /**
     * Waits until this process is in a namespace of kind {@code kind} ("net", "mnt"...) other than the caller's: a
     * process started as {@code unshare --net ...} may not have called unshare(2) yet, and a link moved to its pid's
     * namespace before then stays in the caller's (and outlives the test).
     */
    public void awaitNamespaceOfItsOwn(String kind, Duration timeout) throws InterruptedException {
        Path ours = Path.of("/proc/self/ns/" + kind), its = Path.of("/proc/" + pid + "/ns/" + kind);
        awaitCondition(() -> {
            try {
                return !Files.readSymbolicLink(its).equals(Files.readSymbolicLink(ours));
            } catch (IOException e) {
                return false;
            }
        }, timeout, "pid " + pid + " in a " + kind + " namespace of its own");
    }

    /** A check that fails, rather than answers false, while what it asks is not up yet (a server not listening yet). */
    @FunctionalInterface
    public interface Probe {
        boolean holds() throws Exception;
    }

    /**
     * As {@link #awaitCondition(BooleanSupplier, Duration, String)}, a probe that throws (or whose helper's assertion
     * fails) counting as "not yet"; the timeout names the last such failure. A name of its own: as an overload, every
     * zero-argument lambda would fit both.
     */
    public static void awaitProbe(Probe probe, Duration timeout, String what) throws InterruptedException {
        Throwable[] last = {null};
        try {
            awaitCondition(() -> {
                try {
                    return probe.holds();
                } catch (Exception | AssertionError e) {
                    last[0] = e;
                    return false;
                }
            }, timeout, what);
        } catch (AssertionError e) {
            throw last[0] == null ? e : new AssertionError(e.getMessage() + " (last try: " + last[0] + ")", last[0]);
        }
    }

    /** The state letter from /proc/PID/stat (R, S, t, Z...), or 'X' when the process is gone. */
    public char state() {
        return stateOf(pid.value());
    }

    /**
     * Waits until pid sleeps again (state S): a task let go by a tracer (a dump that failed or left it
     * running, a probe) is runnable (R) until it gets a CPU and goes back into its wait, which under load
     * takes a while; one left stopped (t, T) or gone never sleeps and fails here, naming its state.
     */
    public static void awaitSleeping(int pid) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        char state;
        while ((state = stateOf(pid)) != 'S') {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for pid " + pid + " to sleep again (state " + state + ")");
            }
            Thread.sleep(10);
        }
    }

    public void awaitSleeping() throws InterruptedException {
        awaitSleeping(pid.value());
    }

    /** The state letter of {@code pid} (X when it is gone). */
    public static char stateOf(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2);
        } catch (IOException e) {
            return 'X';
        }
    }

    public boolean alive() {
        char s = state();
        return s != 'X' && s != 'Z';
    }

    /**
     * Kills the workload, its descendants and whatever else is left in the session it leads (started
     * under setsid; a restored one keeps it): a background child its shell left, or the init of a pid
     * namespace whose unshare dies, is reparented out of the tree and went on running after the suite.
     */
    @Override
    public void close() {
        int root = pid.value();
        java.util.List<ProcessHandle> doomed = new java.util.ArrayList<>();
        ProcessHandle.of(root).ifPresent(h -> {
            doomed.add(h);
            h.descendants().forEach(doomed::add);
        });
        if (sessionOf(root) == root || doomed.isEmpty()) {
            try (java.util.stream.Stream<Path> procs = Files.list(Path.of("/proc"))) {
                procs.map(d -> d.getFileName().toString()).filter(n -> n.matches("\\d+")).mapToInt(Integer::parseInt)
                        .filter(n -> n != root && sessionOf(n) == root)
                        .forEach(n -> ProcessHandle.of(n).ifPresent(doomed::add));
            } catch (IOException e) {
                // the tree itself still goes
            }
        }
        long self = ProcessHandle.current().pid();
        doomed.stream().filter(h -> h.pid() != self).forEach(ProcessHandle::destroyForcibly);
    }

    /** The session of {@code pid}, or -1 when it is gone. */
    private static int sessionOf(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[3]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
