package dev.cryo.cli;

import dev.cryo.actors.cluster.AgentNode;
import dev.cryo.actors.cluster.ClusterKeys;
import dev.cryo.config.ClusterSettings;
import dev.cryo.config.CryoSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code cryo agent}: a long-running cluster node on this host; stops cleanly on SIGTERM. */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = "Run this host's agent: a Pekko Cluster node (Artery over TLS) that migrations go to and from.")
final class AgentCommand implements Callable<Integer> {
    @ParentCommand
    CryoCli parent;

    @Option(names = "--name", paramLabel = "NAME", description = "This agent's name in the cluster (default: the host name).")
    String name;

    @Option(names = "--bind", paramLabel = "HOST:PORT", description = "Address to bind and advertise "
            + "(default: cryo.cluster.hostname and port).")
    String bind;

    @Option(names = "--seed", paramLabel = "HOST:PORT", description = "An agent to join; repeatable. None: start a new cluster.")
    List<String> seeds = new ArrayList<>();

    @Option(names = "--data-port", paramLabel = "PORT", description = "Port of the page channel (default: cryo.cluster.data-port).")
    Integer dataPort;

    @Mixin
    ClusterOptions.Keys keys = new ClusterOptions.Keys();

    private final PrintWriter out;
    private final PrintWriter err;

    AgentCommand(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() throws Exception {
        LogSetup.atLeastInfo("dev.cryo.actors.cluster");
        if (name == null) {
            name = java.net.InetAddress.getLocalHost().getHostName();
        }
        CryoSettings s = parent.settings();
        var overrides = new java.util.LinkedHashMap<String, String>();
        try {
            ClusterKeys k = keys.load(s);
            if (bind != null) {
                String[] hp = ClusterOptions.hostPort("--bind", bind);
                overrides.put("cryo.cluster.hostname", hp[0]);
                overrides.put("cryo.cluster.port", hp[1]);
            }
            for (String seed : seeds) {
                ClusterOptions.hostPort("--seed", seed);
            }
            if (dataPort != null) {
                overrides.put("cryo.cluster.data-port", dataPort.toString());
            }
            var config = parent.config();
            for (var e : overrides.entrySet()) {
                config = config.withValue(e.getKey(), com.typesafe.config.ConfigValueFactory.fromAnyRef(e.getValue()));
            }
            if (!seeds.isEmpty()) {
                config = config.withValue("cryo.cluster.seed-nodes", com.typesafe.config.ConfigValueFactory.fromIterable(seeds));
            }
            CryoSettings settings = CryoSettings.create(config);
            ClusterSettings c = settings.cluster();
            AgentNode node = AgentNode.start(config, settings, k, name);
            out.printf("agent %s running at %s:%d (cluster %s); stop it with SIGTERM%n", name, c.hostname(), c.port(),
                    c.seedNodes().isEmpty() ? "of its own" : "via " + String.join(", ", c.seedNodes()));
            out.flush();
            // cryo's settings turn Pekko's JVM shutdown hook off: SIGTERM (systemd's stop) runs the
            // coordinated shutdown (leave, then stop) here, and the agent exits with status 0
            try (Interrupts stop = Interrupts.handle(sig -> node.system().terminate())) {
                node.awaitTermination();
            }
            out.println("agent " + name + " stopped");
            return 0;
        } catch (IOException e) {
            err.println("cryo: agent: " + e.getMessage());
            return 1;
        }
    }
}
