package dev.cryo.cli;

import com.typesafe.config.Config;
import dev.cryo.config.CryoConfig;
import dev.cryo.config.CryoSettings;
import dev.cryo.config.InvalidSettingsException;
import dev.cryo.config.LogSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** The {@code cryo} command line: CRIU-like verbs on top of the same code the library exposes. */
@Command(name = "cryo", mixinStandardHelpOptions = true, versionProvider = CryoCli.Version.class,
        description = "Checkpoint/restore for Linux process trees.",
        subcommands = {CommandLine.HelpCommand.class})
public final class CryoCli implements Runnable {
    @Option(names = "-v", description = "More output: -v info, -vv debug, -vvv trace.")
    boolean[] verbose = new boolean[0];

    @Option(names = {"-o", "--log-file"}, paramLabel = "FILE", description = "Write the log to FILE instead of stderr.")
    Path logFile;

    @Option(names = "--config", paramLabel = "FILE", description = "Read settings from FILE (HOCON), over the defaults.")
    Path configFile;

    @Option(names = "-D", paramLabel = "KEY=VALUE", description = "Override one setting, e.g. -Dcryo.parallelism.tasks=1.")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    private Config config;
    private CryoSettings settings;

    /** cryo's settings only: a command that hands its job to the local agent needs no more. */
    private void loadSettings() {
        settings = CryoSettings.create(CryoConfig.loadCryoOnly(Optional.ofNullable(configFile), overrides));
    }

    /** The merged configuration of a cluster node or client (cryo's over every Pekko module's), loaded the first time a command needs it. */
    Config config() {
        if (config == null) {
            config = dev.cryo.api.ClusterReference.load(Optional.ofNullable(configFile), overrides);
        }
        return config;
    }

    private Config localConfig;

    /** The configuration of an actor system that stays on this host ({@link dev.cryo.api.LocalReference}). */
    Config localConfig() {
        if (localConfig == null) {
            localConfig = dev.cryo.api.LocalReference.load(Optional.ofNullable(configFile), overrides);
        }
        return localConfig;
    }

    CryoSettings settings() {
        return settings;
    }

    int verbosity() {
        return verbose.length;
    }

    public static void main(String[] args) {
        PrintWriter err = new PrintWriter(System.err, true);
        int code;
        try {
            code = execute(args, new PrintWriter(System.out, true), err);
        } catch (Throwable t) { // an Error no command handles (a native library that cannot load): one line, and an end
            LogSetup.failure(err, t.toString(), t);
            code = 1;
        }
        System.exit(code); // whatever threads are left
    }

    /**
     * The command line as {@code main} runs it (tests too): a plain dump or restore runs — or goes
     * to a running local agent — before picocli is even loaded ({@link PlainCommandLine}); anything
     * else through picocli ({@link #run}).
     */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        var notTaken = CriuOptionsNotTaken.find(args);
        if (notTaken.isPresent()) { // said before anything runs: a CRIU user's script stops here
            err.println("cryo: " + notTaken.get());
            err.flush();
            return 2;
        }
        args = CriuHabits.normalize(args);
        var plain = PlainCommandLine.run(args, out, err);
        return plain.isPresent() ? plain.get() : run(args, out, err);
    }

    /** {@code cryo --version}: the build and the image format versions it reads and writes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String reads = java.util.Arrays.stream(dev.cryo.engine.CryoVersion.READS).mapToObj(Integer::toString)
                    .collect(java.util.stream.Collectors.joining(", "));
            return new String[] {
                    "cryo " + dev.cryo.engine.CryoVersion.VERSION,
                    "image format: writes version " + dev.cryo.engine.image.ImageFormat.FORMAT_VERSION
                            + ", reads version " + reads,
                    "java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }

    /**
     * The whole command tree, as run and as documented: the man pages and shell completion are
     * generated from this same model ({@link CliDocs}), so they cannot drift from the commands.
     */
    static CommandLine commandLine(CryoCli top, PrintWriter out, PrintWriter err) {
        return commandLine(top, out, err, null);
    }

    /**
     * The command tree with only the subcommand {@code only} when it is one of them (picocli builds
     * each command's model by reflection, and its classes cannot be archived for class-data
     * sharing: building the eight a command does not use was a good part of a cold start); all of
     * them otherwise (help, usage, an unknown or missing command).
     */
    static CommandLine commandLine(CryoCli top, PrintWriter out, PrintWriter err, String only) {
        CommandLine cl = new CommandLine(top);
        java.util.Map<String, java.util.function.Supplier<Object>> all = new java.util.LinkedHashMap<>();
        all.put("check", () -> new CheckCommand(out));
        all.put("dump", () -> new DumpCommand(out, err));
        all.put("show", () -> new ShowCommand(out));
        all.put("restore", () -> new RestoreCommand(out, err));
        all.put("demo", () -> new DemoCommand(out, err));
        all.put("keys", KeysCommand::new);
        all.put("agent", () -> new AgentCommand(out, err));
        all.put("agents", () -> new AgentsCommand(out, err));
        all.put("migrate", () -> new MigrateCommand(out, err));
        if (only != null && all.containsKey(only)) {
            cl.addSubcommand(all.get(only).get());
        } else {
            all.values().forEach(c -> cl.addSubcommand(c.get()));
        }
        return cl;
    }

    /** The first word of the command line that is not an option of {@code cryo} itself or its value. */
    static String subcommand(String[] args) {
        int i = subcommandIndex(args);
        return i < 0 ? null : args[i];
    }

    /** Where {@link #subcommand} stands in {@code args}; -1 when there is none. */
    static int subcommandIndex(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-D") || a.equals("-o") || a.equals("--log-file") || a.equals("--config")) {
                i++; // its value follows
            } else if (a.equals("--")) {
                return -1;
            } else if (!a.startsWith("-")) {
                return i;
            }
        }
        return -1;
    }

    /** Runs a command line through picocli and returns the exit code ({@link #execute} rewrites CRIU habits first). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CryoCli top = new CryoCli();
        String sub = subcommand(args);
        CommandLine cl = commandLine(top, out, err, sub);
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionStrategy(parsed -> {
            try {
                top.loadSettings();
            } catch (InvalidSettingsException e) {
                err.println("cryo: " + e.getMessage());
                return 2;
            }
            LogSettings log = top.settings.log();
            LogSetup.configure(LogSetup.levelFor(top.verbosity(), log.level().configName()),
                    top.logFile != null ? top.logFile : log.file().orElse(null),
                    // these two may go to the local agent and then log nothing: set up logging when first used
                    "dump".equals(sub) || "restore".equals(sub));
            return new CommandLine.RunLast().execute(parsed);
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            LogSetup.failure(commandLine.getErr(), ex.getMessage() == null ? ex.toString() : ex.getMessage(), ex);
            return 1;
        });
        return cl.execute(args);
    }
}
