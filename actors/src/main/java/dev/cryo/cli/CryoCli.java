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

    private void loadSettings() {
        config = CryoConfig.loadConfig(Optional.ofNullable(configFile), overrides);
        settings = CryoSettings.create(config);
    }

    /** The merged configuration (cryo's and Pekko's), loaded once options are parsed. */
    Config config() {
        return config;
    }

    CryoSettings settings() {
        return settings;
    }

    int verbosity() {
        return verbose.length;
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
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
        CommandLine cl = new CommandLine(top);
        cl.addSubcommand(new CheckCommand(out));
        cl.addSubcommand(new DumpCommand(out, err));
        cl.addSubcommand(new ShowCommand(out));
        cl.addSubcommand(new RestoreCommand(out, err));
        cl.addSubcommand(new DemoCommand(out, err));
        cl.addSubcommand(new KeysCommand());
        cl.addSubcommand(new AgentCommand(out, err));
        cl.addSubcommand(new AgentsCommand(out, err));
        cl.addSubcommand(new MigrateCommand(out, err));
        return cl;
    }

    /** Runs the CLI with the given streams and returns the exit code (used by tests, too). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CryoCli top = new CryoCli();
        CommandLine cl = commandLine(top, out, err);
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
                    top.logFile != null ? top.logFile : log.file().orElse(null));
            return new CommandLine.RunLast().execute(parsed);
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            LogSetup.failure(commandLine.getErr(), ex.getMessage() == null ? ex.toString() : ex.getMessage(), ex);
            return 1;
        });
        return cl.execute(args);
    }
}
