package dev.cryo.cli;

import dev.cryo.actors.cluster.ClusterKeys;
import dev.cryo.config.CryoSettings;

import java.io.IOException;
import java.nio.file.Path;

/** What the cluster commands share: finding the keys and the local agent's address. */
final class ClusterOptions {
    private ClusterOptions() {}

    static ClusterKeys keys(Path option, CryoSettings settings) throws IOException {
        Path dir = option != null ? option : settings.cluster().keysDir().orElseThrow(() -> new IOException(
                "no cluster keys: pass --keys DIR (made by `cryo keys init DIR`) or set cryo.cluster.keys-dir"));
        return ClusterKeys.load(dir);
    }

    static String agent(String option, CryoSettings settings) {
        return option != null ? option : settings.cluster().hostname() + ":" + settings.cluster().port();
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
