package dev.cryo.cli;

import com.typesafe.config.Config;
import dev.cryo.actors.cluster.LocalAgent;
import dev.cryo.api.CryoException;
import dev.cryo.api.DumpReport;
import dev.cryo.api.DumpRequest;
import dev.cryo.api.RestoreReport;
import dev.cryo.api.RestoreRequest;
import dev.cryo.config.CryoConfig;
import dev.cryo.config.CryoSettings;
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
 * A plain {@code cryo dump} or {@code cryo restore}, run without building the command model:
 * picocli's classes (compiled for Java 5) can be neither archived for class-data sharing nor
 * verified quickly, and building the model was a good part of a cold command. Only plain command
 * lines take this way — the subcommand first, then flags of {@link #DUMP_FLAGS}/{@link
 * #RESTORE_FLAGS} and the options with a value, and settings that are valid; anything else (a
 * global option, help, a typo, a bad setting) goes through picocli, which also gives every error
 * message. The options are the same as picocli's (a test holds them to the commands' model), and
 * the work is the commands' own: a running local agent takes a dump or a detached restore
 * ({@link #viaAgent}), else it runs in this process ({@link #here}).
 */
final class PlainCommandLine {
    static final Set<String> DUMP_FLAGS = Set.of("-R", "--leave-running", "-s", "--leave-stopped", "--shell-job", "--tcp-established",
            "--tcp-close", "--ext-unix-sk", "--file-locks", "--no-progress", "--pre-copy", "--tcp-skip-in-flight",
            "--skip-in-flight");
    static final Set<String> DUMP_VALUES = Set.of("-t", "--tree", "-D", "--images-dir");
    static final Set<String> RESTORE_FLAGS = Set.of("-d", "--restore-detached", "-s", "--leave-stopped", "--tcp-close", "--no-progress",
            "--tcp-established", "--tcp-lock-elsewhere", "--shell-job", "--ext-unix-sk", "--file-locks");
    static final Set<String> RESTORE_VALUES = Set.of("-D", "--images-dir", "--pidfile");

    private final boolean dump;
    private final Map<String, String> values;
    private final Set<String> flags;
    /** cryo's own settings (not Pekko's): all the agent's way needs. */
    private final Config cryoConfig;

    private PlainCommandLine(boolean dump, Map<String, String> values, Set<String> flags, Config cryoConfig) {
        this.dump = dump;
        this.values = values;
        this.flags = flags;
        this.cryoConfig = cryoConfig;
    }

    /** The exit code of the command run by {@link #viaAgent} or {@link #here}; empty: run it through picocli. */
    static Optional<Integer> run(String[] args, PrintWriter out, PrintWriter err) {
        Optional<PlainCommandLine> plain = parse(args);
        if (plain.isEmpty()) {
            return Optional.empty();
        }
        Optional<Integer> viaAgent = plain.get().viaAgent(out, err);
        return viaAgent.isPresent() ? viaAgent : plain.get().here(out, err);
    }

    /** The exit code when a local agent took the command; empty when the caller must run it another way. */
    static Optional<Integer> tryAgent(String[] args, PrintWriter out, PrintWriter err) {
        return parse(args).flatMap(p -> p.viaAgent(out, err));
    }

    /** A plain command line, or empty: picocli's to run (and to say what is wrong). */
    static Optional<PlainCommandLine> parse(String[] args) {
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
        if (!values.containsKey("--images-dir") || (dump && !values.containsKey("--tree"))) {
            return Optional.empty();
        }
        if (dump) {
            try {
                if (Integer.parseInt(values.get("--tree")) <= 0) {
                    return Optional.empty();
                }
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }
        try {
            Path.of(values.get("--images-dir"));
            if (values.containsKey("--pidfile")) {
                Path.of(values.get("--pidfile"));
            }
            // whatever is wrong with the settings is picocli's way to report
            return Optional.of(new PlainCommandLine(dump, values, flags,
                    CryoConfig.loadCryoOnly(Optional.empty(), Map.of())));
        } catch (InvalidSettingsException | com.typesafe.config.ConfigException | java.nio.file.InvalidPathException e) {
            return Optional.empty();
        }
    }

    /**
     * Handed to a running local agent: a dump, or a detached restore (a waited-for root must be
     * this process's child). Reads only the two settings this way needs, without building and
     * checking all of {@link CryoSettings} (the agent works with its own).
     */
    Optional<Integer> viaAgent(PrintWriter out, PrintWriter err) {
        if (!dump && !flags.contains("--restore-detached")) {
            return Optional.empty();
        }
        Path socket;
        boolean leaveRunning;
        try {
            String local = cryoConfig.getString("cryo.cluster.local-socket");
            socket = local.isBlank() ? null : Path.of(local);
            leaveRunning = cryoConfig.getBoolean("cryo.dump.leave-running");
        } catch (com.typesafe.config.ConfigException | java.nio.file.InvalidPathException e) {
            return Optional.empty();
        }
        try {
            if (dump) {
                DumpRequest request = dumpRequest(leaveRunning);
                Optional<DumpReport> r = LocalAgent.dump(socket, request);
                if (r.isEmpty()) {
                    return Optional.empty();
                }
                DumpCommand.writeStats(r.get());
                DumpCommand.print(out, request, r.get());
                return Optional.of(0);
            }
            Optional<RestoreReport> r = LocalAgent.restore(socket, restoreRequest());
            if (r.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(RestoreCommand.finishDetached(out, err, r.get(), pidFile()));
        } catch (CryoException e) {
            LogSetup.failure(err, (dump ? "dump" : "restore") + " failed: " + e.getMessage(), e);
            return Optional.of(1);
        } catch (IOException e) {
            LogSetup.failure(err, e.getMessage() == null ? e.toString() : e.getMessage(), e);
            return Optional.of(1);
        }
    }

    /**
     * In this process, as the command would run it after finding no agent: the whole settings
     * (Pekko's too), logging as configured, an actor system. Empty when the settings are not
     * valid (picocli reports them).
     */
    Optional<Integer> here(PrintWriter out, PrintWriter err) {
        CryoSettings settings;
        Config config;
        try {
            settings = CryoSettings.create(cryoConfig);
            config = dev.cryo.api.LocalReference.load(Optional.empty(), Map.of());
        } catch (InvalidSettingsException | com.typesafe.config.ConfigException e) {
            return Optional.empty();
        }
        LogSetup.configure(LogSetup.levelFor(0, settings.log().level().configName()), settings.log().file().orElse(null),
                true);
        try {
            if (dump) {
                return Optional.of(DumpCommand.dumpHere(config, settings, dumpRequest(settings.dump().leaveRunning()),
                        !flags.contains("--no-progress"), out, err));
            }
            return Optional.of(RestoreCommand.restoreHere(config, settings, restoreRequest(),
                    flags.contains("--restore-detached") || settings.restore().detached(),
                    !flags.contains("--no-progress"), pidFile(), out, err));
        } catch (Exception e) { // as picocli's execution handler reports a command's exception
            LogSetup.failure(err, e.getMessage() == null ? e.toString() : e.getMessage(), e);
            return Optional.of(1);
        }
    }

    private DumpRequest dumpRequest(boolean leaveRunningSetting) {
        return new DumpRequest(Pid.of(Integer.parseInt(values.get("--tree"))),
                Path.of(values.get("--images-dir")).toAbsolutePath(),
                flags.contains("--leave-running") || leaveRunningSetting,
                flags.contains("--shell-job"), new DumpProgress(), flags.contains("--pre-copy"),
                new SocketDumpState.Options(flags.contains("--tcp-established"), flags.contains("--tcp-close"),
                        flags.contains("--ext-unix-sk"), flags.contains("--tcp-skip-in-flight")),
                flags.contains("--leave-stopped"));
    }

    private RestoreRequest restoreRequest() {
        return new RestoreRequest(Path.of(values.get("--images-dir")).toAbsolutePath(), flags.contains("--tcp-close"),
                new DumpProgress()).leavingStopped(flags.contains("--leave-stopped"))
                .lockElsewhere(flags.contains("--tcp-lock-elsewhere"));
    }

    private Path pidFile() {
        String pidFile = values.get("--pidfile");
        return pidFile == null ? null : Path.of(pidFile);
    }

    /** The long name of an option, as the shortcut keys it. */
    private static String canonical(String name) {
        return switch (name) {
            case "-t" -> "--tree";
            case "-D" -> "--images-dir";
            case "-R" -> "--leave-running";
            case "-s" -> "--leave-stopped";
            case "-d" -> "--restore-detached";
            case "--skip-in-flight" -> "--tcp-skip-in-flight";
            default -> name;
        };
    }
}
