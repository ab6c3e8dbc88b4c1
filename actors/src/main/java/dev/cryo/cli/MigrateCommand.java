package dev.cryo.cli;

import dev.cryo.actors.cluster.AgentClient;
import dev.cryo.actors.cluster.AgentProtocol;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code cryo migrate -t PID --to NAME}: live migration through the agents. */
@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = "Move the process tree rooted at PID to the agent NAME; the source stays frozen until the tree "
                + "runs there, and resumes as it was if anything fails.")
final class MigrateCommand implements Callable<Integer> {
    @ParentCommand
    CryoCli parent;

    @Option(names = {"-t", "--tree"}, required = true, paramLabel = "PID", description = "Root of the tree to move.")
    int pid;

    @Option(names = "--to", required = true, paramLabel = "NAME", description = "The destination agent's name.")
    String to;

    @Mixin
    ClusterOptions.Client agent = new ClusterOptions.Client();

    @ArgGroup(exclusive = true)
    PreCopy preCopy;

    static final class PreCopy {
        @Option(names = "--pre-copy", description = "Copy memory while the tree runs, then freeze it for the rest (default).")
        boolean on;

        @Option(names = "--no-pre-copy", description = "Freeze the tree first and send everything frozen.")
        boolean off;
    }

    @Option(names = "--tcp-established", description = "Take established TCP connections along.")
    boolean tcpEstablished;

    @Option(names = "--max-downtime", paramLabel = "MS", description = "What the frozen round's pages may take to send, "
            + "estimated from the pre-copy rounds: rounds that stop shrinking above it go on with the tree throttled "
            + "(default: cryo.pre-copy.max-downtime, 100 ms; 0: no bound).")
    Long maxDowntime;

    private final PrintWriter out;
    private final PrintWriter err;

    MigrateCommand(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() {
        boolean pre = preCopy == null || !preCopy.off;
        if (maxDowntime != null && maxDowntime < 0) {
            err.println("cryo: migrate: --max-downtime must not be negative, got " + maxDowntime);
            return 2;
        }
        long bound = maxDowntime == null ? -1 : maxDowntime;
        Duration timeout = parent.settings().cluster().migrateTimeout().plusSeconds(120);
        try (AgentClient client = agent.connect(parent)) {
            AgentProtocol.MigrateResult r = client.ask(
                    reply -> new AgentProtocol.Migrate(pid, to, pre, tcpEstablished, bound, reply), timeout);
            if (!r.ok()) {
                err.println("cryo: migrate failed: " + r.message());
                return 1;
            }
            out.printf(Locale.ROOT, "Migrated pid %d to %s (pids there: %s)%n", pid, to, r.pids());
            for (int i = 0; i < r.roundBytes().size(); i++) {
                boolean last = i == r.roundBytes().size() - 1;
                long zero = i < r.roundZeroPages().size() ? r.roundZeroPages().get(i) : 0;
                out.printf(Locale.ROOT, "  round %d%s: %s%s%n", i + 1, last ? " (frozen)" : "", Sizes.human(r.roundBytes().get(i)),
                        zero == 0 ? "" : " and " + zero + " zero or one-byte page" + (zero == 1 ? "" : "s") + " (not sent)");
            }
            out.printf(Locale.ROOT, "  downtime %d ms (frozen dump and send %d ms, restore on %s %d ms), total %d ms, %s sent%n",
                    r.downtimeMillis(), r.frozenSendMillis(), to, r.restoreMillis(), r.totalMillis(), Sizes.human(r.bytes()));
            if (!r.message().isEmpty()) {
                r.message().lines().forEach(l -> out.println("  note: " + l));
            }
            out.flush();
            return 0;
        } catch (IOException e) {
            err.println("cryo: migrate: " + e.getMessage());
            return 1;
        }
    }
}
