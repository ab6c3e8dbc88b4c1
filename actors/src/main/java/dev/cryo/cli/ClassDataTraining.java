package dev.cryo.cli;

import dev.cryo.api.Cryo;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Sys;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

/**
 * The run the launchers archive the classes of (class-data sharing, {@code -XX:ArchiveClassesAtExit}):
 * it loads what a dump or a restore loads — the command model and its help, the settings, the
 * actor system, the native bindings — and then dumps and restores a process of its own (a
 * {@code sleep}) the way a plain {@code cryo dump} and {@code cryo restore -d} do, so the classes
 * of the frozen window and the lambdas of the actors are archived too (without them a cold
 * command loaded some 800 classes from the jar, most of them while the tree was frozen). Every
 * later cryo command maps those classes instead of loading them. Without the rights to trace,
 * that part fails quietly and the archive holds the rest.
 */
public final class ClassDataTraining {
    private ClassDataTraining() {}

    public static void main(String[] args) {
        PrintWriter sink = new PrintWriter(new StringWriter());
        for (String command : new String[] {"dump", "restore", "show", "check", "migrate"}) {
            CryoCli.run(new String[] {command, "--help"}, sink, sink);
        }
        // a plain dump's own way (no command model), up to its settings
        PlainCommandLine.parse(new String[] {"dump", "-t", "1", "-D", "/nonexistent"});
        try (Cryo cryo = Cryo.create()) {
            cryo.settings();
        }
        try {
            dumpAndRestoreASleep(sink);
        } catch (Exception | LinkageError e) {
            // no ptrace rights, no /bin/sh: the archive holds what loaded so far
        }
        System.exit(0);
    }

    /** {@code cryo dump -t PID -D DIR} of a sleep, then {@code cryo restore -D DIR -d}, then the restored sleep is killed. */
    private static void dumpAndRestoreASleep(PrintWriter sink) throws Exception {
        Path dir = Files.createTempDirectory("cryo-training");
        int sleep = -1;
        try {
            // started through a shell that exits: the sleep is not this JVM's child (its reaper would steal ptrace stops)
            Process sh = new ProcessBuilder("/bin/sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $!").start();
            sleep = Integer.parseInt(new String(sh.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim());
            sh.waitFor();
            String img = dir.resolve("image").toString();
            PlainCommandLine.parse(new String[] {"dump", "-t", Integer.toString(sleep), "-D", img, "--no-progress"})
                    .flatMap(p -> p.here(sink, sink));
            Path pidFile = dir.resolve("pid");
            PlainCommandLine.parse(new String[] {"restore", "-D", img, "-d", "--pidfile", pidFile.toString(), "--no-progress"})
                    .flatMap(p -> p.here(sink, sink));
            if (Files.exists(pidFile)) {
                Sys.kill(Pid.of(Integer.parseInt(Files.readString(pidFile).trim())), Signals.SIGKILL);
            }
        } finally {
            if (sleep > 0 && Sys.exists(Pid.of(sleep))) {
                Sys.kill(Pid.of(sleep), Signals.SIGKILL);
            }
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
