package dev.cryo.cli;

import dev.cryo.actors.cluster.AgentClient;
import dev.cryo.actors.cluster.AgentProtocol;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code cryo agents}: the cluster's members, their agents' names, state and address; then the lazy restores
 * ({@code restore -d --lazy-pages} through an agent) whose pages are still coming.
 */
@Command(name = "agents", mixinStandardHelpOptions = true, description = "List the cluster's agents as an agent sees them.")
final class AgentsCommand implements Callable<Integer> {
    @ParentCommand
    CryoCli parent;

    @Mixin
    ClusterOptions.Client agent = new ClusterOptions.Client();

    private final PrintWriter out;
    private final PrintWriter err;

    AgentsCommand(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() {
        try (AgentClient client = agent.connect(parent)) {
            AgentProtocol.AgentList list = client.ask(AgentProtocol.ListAgents::new, Duration.ofSeconds(30));
            out.printf(Locale.ROOT, "%-16s %-24s %s%n", "NAME", "STATE", "ADDRESS");
            for (int i = 0; i < list.names().size(); i++) {
                out.printf(Locale.ROOT, "%-16s %-24s %s%n", list.names().get(i), list.statuses().get(i),
                        list.addresses().get(i));
            }
            if (!list.lazy().isEmpty()) {
                out.println();
                out.println("Lazy restores whose pages an agent is still bringing in:");
                out.printf(Locale.ROOT, "%-16s %-9s %-24s %-22s %s%n", "AGENT", "ROOT PID", "PAGES IN / TOTAL", "RUNNING SINCE", "IMAGE");
                long now = System.currentTimeMillis();
                for (AgentProtocol.LazyServed l : list.lazy()) {
                    String since = java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss").format(
                            java.time.Instant.ofEpochMilli(l.sinceMillis()).atZone(java.time.ZoneId.systemDefault()))
                            + " (" + Math.max(0, (now - l.sinceMillis()) / 1000) + " s)";
                    out.printf(Locale.ROOT, "%-16s %-9d %-24s %-22s %s%n", l.agent(), l.rootPid(),
                            l.pagesIn() + " / " + l.pagesTotal(), since, l.imageDir());
                }
            }
            out.flush();
            return 0;
        } catch (IOException e) {
            err.println("cryo: agents: " + e.getMessage());
            return 1;
        }
    }
}
