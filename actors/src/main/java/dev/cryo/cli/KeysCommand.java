package dev.cryo.cli;

import dev.cryo.actors.cluster.ClusterKeys;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code cryo keys init DIR}: TLS key material for one cluster. */
@Command(name = "keys", mixinStandardHelpOptions = true, description = "Manage a cluster's TLS keys.",
        subcommands = KeysCommand.Init.class)
final class KeysCommand implements Runnable {
    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "say what to do: cryo keys init DIR");
    }

    @Command(name = "init", mixinStandardHelpOptions = true,
            description = "Create the key material of a new cluster in DIR (0700, files 0600). Copy DIR to every host "
                    + "of the cluster over a secure channel; only holders of these keys can join or ask an agent anything.")
    static final class Init implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "Directory to create the keys in.")
        Path dir;

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            try {
                ClusterKeys keys = ClusterKeys.init(dir);
                out.println("Cluster keys written to " + keys.dir() + " (node.p12, trust.p12, password; 0600)");
                return 0;
            } catch (IOException e) {
                spec.commandLine().getErr().println("cryo: keys init failed: " + e.getMessage());
                return 1;
            }
        }
    }
}
