package dev.cryo.config;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Cluster mode: agents, their ports, keys and migrations ({@code cryo.cluster}).
 *
 * @param seedNodes other agents to join, "host:port" each; empty: a node of its own that others join
 * @param hostname host name or IP to bind and advertise (Artery and the page channel)
 * @param port Artery TCP port, 0 picks a free one
 * @param dataPort page channel TCP port, 0 picks a free one
 * @param keysDir directory of the cluster's TLS keys ({@code cryo keys init}), if configured
 * @param stagingDir where an agent stages incoming images (one private directory each)
 * @param migrateTimeout upper bound for a whole migration; on expiry the source resumes
 * @param ioTimeout how long the page channel waits for bytes before it gives up on a silent link
 * @param maxImage largest image an agent accepts on the page channel, in bytes
 * @param keepStaged largest staging file an agent keeps for the next arriving image to be written over, in bytes; 0: none
 * @param localSocket the agent's unix socket for the local CLI's dumps and restores; empty: none
 */
public record ClusterSettings(List<String> seedNodes, String hostname, int port, int dataPort, Optional<Path> keysDir,
                              Path stagingDir, Duration migrateTimeout, Duration ioTimeout, long maxImage,
                              long keepStaged, Optional<Path> localSocket) {
  public static final String PATH = "cryo.cluster";

  public ClusterSettings {
    seedNodes = List.copyOf(Checks.nonNull(PATH + ".seed-nodes", seedNodes));
    for (String seed : seedNodes) {
      Checks.notBlank(PATH + ".seed-nodes entry", seed);
    }
    Checks.notBlank(PATH + ".hostname", hostname);
    Checks.between(PATH + ".port", port, 0, 65535);
    Checks.between(PATH + ".data-port", dataPort, 0, 65535);
    // Two listeners cannot share a fixed port; 0 asks the kernel for distinct ones.
    if (port != 0 && port == dataPort) {
      throw new InvalidSettingsException(
          PATH + ".data-port must differ from " + PATH + ".port, both are " + port);
    }
    Checks.nonNull(PATH + ".keys-dir", keysDir);
    Checks.nonNull(PATH + ".staging-dir", stagingDir);
    Checks.nonNull(PATH + ".local-socket", localSocket);
    Checks.positive(PATH + ".migrate-timeout", migrateTimeout);
    Checks.positive(PATH + ".io-timeout", ioTimeout);
    if (maxImage < 4096) {
      throw new InvalidSettingsException(PATH + ".max-image must be at least 4 KiB, got " + maxImage);
    }
    if (keepStaged < 0) {
      throw new InvalidSettingsException(PATH + ".keep-staged must not be negative, got " + keepStaged);
    }
  }

  /** Reads the {@code cryo.cluster} block. */
  public static ClusterSettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    String keys = r.getString("keys-dir");
    String local = r.getString("local-socket");
    return new ClusterSettings(
        r.getStringList("seed-nodes"), r.getString("hostname"), r.getInt("port"),
        r.getInt("data-port"), keys.isBlank() ? Optional.empty() : Optional.of(Path.of(keys)),
        r.getPath("staging-dir"), r.getDuration("migrate-timeout"), r.getDuration("io-timeout"),
        r.getBytes("max-image"), r.getBytes("keep-staged"), local.isBlank() ? Optional.empty() : Optional.of(Path.of(local)));
  }

  /** The same settings bound to another address, with other seeds (the agent's command line). */
  public ClusterSettings withNode(String host, int port, List<String> seeds) {
    return new ClusterSettings(seeds, host, port, dataPort, keysDir, stagingDir, migrateTimeout, ioTimeout, maxImage,
        keepStaged, localSocket);
  }
}
