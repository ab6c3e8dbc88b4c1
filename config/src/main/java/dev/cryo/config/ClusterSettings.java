package dev.cryo.config;

import com.typesafe.config.Config;
import java.util.List;

/**
 * Cluster membership and ports ({@code cryo.cluster}).
 *
 * @param seedNodes Pekko addresses of the seed nodes, possibly empty
 * @param hostname host name or IP to bind and advertise
 * @param port Pekko remoting TCP port, 0 picks a free one
 * @param dataPort page-data side channel TCP port, 0 picks a free one
 */
public record ClusterSettings(List<String> seedNodes, String hostname, int port, int dataPort) {
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
  }

  /** Reads the {@code cryo.cluster} block. */
  public static ClusterSettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    return new ClusterSettings(
        r.getStringList("seed-nodes"), r.getString("hostname"), r.getInt("port"),
        r.getInt("data-port"));
  }
}
