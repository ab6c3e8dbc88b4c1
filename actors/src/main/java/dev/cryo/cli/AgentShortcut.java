package dev.cryo.cli;

import dev.cryo.actors.cluster.LocalAgent;
import dev.cryo.api.CryoException;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoConfig;
import dev.cryo.config.InvalidSettingsException;
import dev.cryo.engine.dump.DumpProgress;
import dev.cryo.engine.files.SocketDumpState;
import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code cryo dump} and {@code cryo restore -d} handed to a running local agent without building
 * the command model: picocli's classes (compiled for Java 5) can be neither archived for class-data
 * sharing nor verified quickly, and building the model was most of what a cold JVM did before it
 * could send the agent its request. Only plain command lines take this way — the subcommand first,
 * then flags of {@link #DUMP_FLAGS}/{@link #RESTORE_FLAGS} and the options with a value — and only
 * when an agent listens; anything else (a global option, help, a typo, no agent) goes through picocli
 * as before, which also gives every error message. The options are the same as picocli's (a test
 * holds them to the commands' model).
 */
final class AgentShortcut {
    static final Set<String> DUMP_FLAGS = Set.of("-R", "--leave-running", "--shell-job", "--tcp-established",
            "--tcp-close", "--ext-unix-sk", "--file-locks", "--no-progress", "--pre-copy");
    static final Set<String> DUMP_VALUES = Set.of("-t", "--tree", "-D", "--images-dir");
    static final Set<String> RESTORE_FLAGS = Set.of("-d", "--restore-detached", "--tcp-close", "--no-progress",
            "--tcp-established", "--shell-job", "--ext-unix-sk", "--file-locks");
    static final Set<String> RESTORE_VALUES = Set.of("-D", "--images-dir", "--pidfile");

    private AgentShortcut() {}

    /** The exit code when the agent took the command; empty when the caller must run it the usual way. */
    static Optional<Integer> tryRun(String[] args, PrintWriter out, PrintWriter err) {
        if (args.length == 0 || !(args[0].equals("dump") || args[0].equals("restore"))) {
            return Optional.empty();
        }
        boolean dump = args[0].equals("dump");
        Map<String, String> values = new java.util.HashMap<>();
        Set<String> flags = new java.util.HashSet<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            int eq = a.startsWith("--") ? a.indexOf('=') : -1;
            String name = eq > 0 ? a.substring(0, eq) : a;
            if ((dump ? DUMP_VALUES : RESTORE_VALUES).contains(name)) {
                String value = eq > 0 ? a.substring(eq + 1) : (i + 1 < args.length ? args[++i] : null);
                if (value == null || value.isEmpty() || values.put(canonical(name), value) != null) {
                    return Optional.empty(); // missing or repeated: picocli says what is wrong
                }
            } else if (eq < 0 && (dump ? DUMP_FLAGS : RESTORE_FLAGS).contains(a)) {
                flags.add(canonical(a));
            } else {
                return Optional.empty();
            }
        }
        if (!values.containsKey("--images-dir") || (dump && !values.containsKey("--tree"))
                || (!dump && !flags.contains("--restore-detached"))) {
            return Optional.empty(); // a waited-for restore must be this process's child
        }
        // the two settings this way reads, without building and checking all of CryoSettings (the
        // agent works with its own): whatever is wrong with them is picocli's way to report
        Path socket;
        boolean leaveRunning;
        try {
            com.typesafe.config.Config c = CryoConfig.loadCryoOnly(Optional.empty(), Map.of());
            String local = c.getString("cryo.cluster.local-socket");
            socket = local.isBlank() ? null : Path.of(local);
            leaveRunning = c.getBoolean("cryo.dump.leave-running");
        } catch (InvalidSettingsException | com.typesafe.config.ConfigException | java.nio.file.InvalidPathException e) {
            return Optional.empty();
        }
        try {
            if (dump) {
                int pid;
                try {
                    pid = Integer.parseInt(values.get("--tree"));
                } catch (NumberFormatException e) {
                    return Optional.empty();
                }
                if (pid <= 0) {
                    return Optional.empty();
                }
                DumpRequest request = new DumpRequest(Pid.of(pid), Path.of(values.get("--images-dir")).toAbsolutePath(),
                        flags.contains("--leave-running") || leaveRunning,
                        flags.contains("--shell-job"), new DumpProgress(), flags.contains("--pre-copy"),
                        new SocketDumpState.Options(flags.contains("--tcp-established"), flags.contains("--tcp-close"),
                                flags.contains("--ext-unix-sk")));
                Optional<DumpReport> r = LocalAgent.dump(socket, request);
                if (r.isEmpty()) {
                    return Optional.empty();
                }
                DumpCommand.writeStats(r.get());
                DumpCommand.print(out, pid, r.get());
            } else {
                RestoreRequest request = new RestoreRequest(Path.of(values.get("--images-dir")).toAbsolutePath(),
                        flags.contains("--tcp-close"), new DumpProgress());
                Optional<RestoreReport> r = LocalAgent.restore(socket, request);
                if (r.isEmpty()) {
                    return Optional.empty();
                }
                String pidFile = values.get("--pidfile");
                return Optional.of(RestoreCommand.finishDetached(out, err, r.get(), pidFile == null ? null : Path.of(pidFile)));
            }
            return Optional.of(0);
        } catch (CryoException e) {
            LogSetup.failure(err, (dump ? "dump" : "restore") + " failed: " + e.getMessage(), e);
            return Optional.of(1);
        } catch (IOException e) {
            LogSetup.failure(err, e.getMessage() == null ? e.toString() : e.getMessage(), e);
            return Optional.of(1);
        }
    }

    /** The long name of an option, as the shortcut keys it. */
    private static String canonical(String name) {
        return switch (name) {
            case "-t" -> "--tree";
            case "-D" -> "--images-dir";
            case "-R" -> "--leave-running";
            case "-d" -> "--restore-detached";
            default -> name;
        };
    }
}
