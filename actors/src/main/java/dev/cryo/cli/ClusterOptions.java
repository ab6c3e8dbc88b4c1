package dev.cryo.cli;

import dev.cryo.actors.cluster.AgentClient;
import dev.cryo.actors.cluster.ClusterKeys;
import dev.cryo.config.CryoSettings;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/** What the cluster commands share: finding the keys and the agent's address (picocli mixins). */
final class ClusterOptions {
    private ClusterOptions() {}

    /** {@code --keys DIR}: the cluster's keys, or cryo.cluster.keys-dir. */
    static final class Keys {
        @Option(names = "--keys", paramLabel = "DIR", description = "The cluster's keys (made by `cryo keys init DIR`; "
                + "default: cryo.cluster.keys-dir).")
        Path dir;

        ClusterKeys load(CryoSettings settings) throws IOException {
            Path d = dir != null ? dir : settings.cluster().keysDir().orElseThrow(() -> new IOException(
                    "no cluster keys: pass --keys DIR (made by `cryo keys init DIR`) or set cryo.cluster.keys-dir"));
            return ClusterKeys.load(d);
        }
    }

    /** {@code --agent HOST:PORT} and {@code --keys DIR}: how a command reaches an agent. */
    static final class Client {
        @Option(names = "--agent", paramLabel = "HOST:PORT",
                description = "The agent to talk to (default: the local one, cryo.cluster.hostname and port).")
        String agent;

        @Mixin
        Keys keys = new Keys();

        String address(CryoSettings settings) throws IOException {
            String a = agent != null ? agent : settings.cluster().hostname() + ":" + settings.cluster().port();
            hostPort("--agent", a);
            return a;
        }

        AgentClient connect(CryoCli parent) throws IOException {
            return AgentClient.connect(parent.config(), keys.load(parent.settings()), address(parent.settings()));
        }
    }

    /** "HOST:PORT" → {host, port}; a clear error otherwise. */
    static String[] hostPort(String what, String value) throws IOException {
        int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1) {
            throw new IOException(what + " must be HOST:PORT, got '" + value + "'");
        }
        try {
            int port = Integer.parseInt(value.substring(colon + 1));
            if (port < 0 || port > 65535) throw new NumberFormatException();
        } catch (NumberFormatException e) {
            throw new IOException(what + ": '" + value.substring(colon + 1) + "' is not a port (0 to 65535)");
        }
        return new String[] {value.substring(0, colon), value.substring(colon + 1)};
    }
}
