package dev.cryo.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * Loads the configuration. Precedence, strongest first: {@code overrides} (CLI flags) &gt; Java
 * system properties ({@code -Dcryo.x=y}) &gt; the {@code --config} file &gt; {@code
 * application.conf} on the class path &gt; {@code reference.conf}. Everything is merged before
 * substitutions are resolved, so e.g. {@code cryo.buffers.size = ${cryo.image.chunk-size}}
 * follows a chunk size set at any level.
 */
public final class CryoConfig {
  private CryoConfig() {}

  /** Loads and validates the cryo settings. */
  public static CryoSettings load(Optional<Path> file, Map<String, String> overrides) {
    return CryoSettings.create(loadConfig(file, overrides));
  }

  /**
   * The merged, resolved config, Pekko's settings included, for the actor system. Unknown keys
   * under {@code cryo} are rejected, so typos do not pass silently.
   *
   * @param file the {@code --config} file, if any
   * @param overrides full keys to values, e.g. {@code "cryo.parallelism.tasks" -> "4"}; values
   *     are strings that Typesafe converts on access (numbers, booleans, "4 MiB", "10s")
   */
  public static Config loadConfig(Optional<Path> file, Map<String, String> overrides) {
    return loadConfig(file, overrides, System.getProperties(), CryoConfig.class.getClassLoader());
  }

  /**
   * Like {@link #loadConfig(Optional, Map)} with the {@code reference.conf} resources (and {@code
   * application.conf}) of {@code loader}: an actor system that never leaves this host reads only
   * the defaults of the modules it uses.
   */
  public static Config loadConfig(
      Optional<Path> file, Map<String, String> overrides, ClassLoader loader) {
    return loadConfig(file, overrides, System.getProperties(), loader);
  }

  /**
   * Like {@link #loadConfig(Optional, Map)} over cryo's own defaults only, without the other
   * modules' (Pekko's thousands of lines): enough for {@link CryoSettings}, and several times
   * cheaper to parse in a cold JVM. A command that hands its job to the local agent needs no more;
   * one that starts an actor system loads the whole config.
   */
  public static Config loadCryoOnly(Optional<Path> file, Map<String, String> overrides) {
    ClassLoader loader = CryoConfig.class.getClassLoader();
    return loadConfig(file, overrides, System.getProperties(), loader, cryoReferenceUnresolved(loader));
  }

  /** Where the build puts a copy of this module's reference.conf. */
  static final String CRYO_REFERENCE = "dev/cryo/config/cryo/reference.conf";

  static Config cryoReferenceUnresolved(ClassLoader loader) {
    return ConfigFactory.parseResources(
        loader, CRYO_REFERENCE, ConfigParseOptions.defaults().setAllowMissing(false));
  }

  /** Seam for tests: explicit system properties and class loader. */
  static Config loadConfig(
      Optional<Path> file, Map<String, String> overrides, Properties system, ClassLoader loader) {
    return loadConfig(file, overrides, system, loader, referenceUnresolved(loader));
  }

  private static Config loadConfig(
      Optional<Path> file, Map<String, String> overrides, Properties system, ClassLoader loader,
      Config reference) {
    Config merged;
    try {
      merged =
          ConfigFactory.parseMap(overrides, "overrides")
              .withFallback(ConfigFactory.parseProperties(copy(system)))
              .withFallback(file.map(CryoConfig::parseFile).orElse(ConfigFactory.empty()))
              .withFallback(ConfigFactory.defaultApplication(loader))
              .withFallback(reference)
              .resolve();
    } catch (ConfigException e) {
      throw new InvalidSettingsException("invalid configuration: " + e.getMessage(), e);
    }
    rejectUnknownKeys(merged, reference);
    return merged;
  }

  /** reference.conf alone, resolved: the documented defaults. */
  static Config reference(ClassLoader loader) {
    try {
      return referenceUnresolved(loader).resolve();
    } catch (ConfigException e) {
      throw new InvalidSettingsException("invalid reference.conf: " + e.getMessage(), e);
    }
  }

  // Not ConfigFactory.defaultReference: that one bakes in system properties and resolves early.
  private static Config referenceUnresolved(ClassLoader loader) {
    return ConfigFactory.defaultReferenceUnresolved(loader);
  }

  private static Config parseFile(Path file) {
    if (!Files.exists(file)) {
      throw new InvalidSettingsException("config file " + file + " does not exist");
    }
    if (!Files.isRegularFile(file)) {
      throw new InvalidSettingsException("config file " + file + " is not a regular file");
    }
    try {
      return ConfigFactory.parseFile(
          file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
    } catch (ConfigException.Parse e) {
      throw new InvalidSettingsException(
          "cannot parse config file " + file + ": " + e.getMessage(), e);
    } catch (ConfigException e) {
      throw new InvalidSettingsException(
          "cannot read config file " + file + ": " + e.getMessage(), e);
    }
  }

  /** Snapshot, because other threads may set properties while Typesafe iterates. */
  private static Properties copy(Properties system) {
    Properties p = new Properties();
    synchronized (system) {
      p.putAll(system);
    }
    return p;
  }

  private static void rejectUnknownKeys(Config merged, Config reference) {
    if (!merged.hasPath(CryoSettings.ROOT)) {
      return; // CryoSettings.create reports the missing block
    }
    if (merged.getValue(CryoSettings.ROOT).valueType() != ConfigValueType.OBJECT) {
      return; // likewise for a wrong type
    }
    for (Map.Entry<String, ConfigValue> e : merged.getConfig(CryoSettings.ROOT).entrySet()) {
      String key = CryoSettings.ROOT + "." + e.getKey();
      if (!isKnown(key, reference)) {
        throw new InvalidSettingsException(
            "unknown setting " + key + " (from " + e.getValue().origin().description() + ")");
      }
    }
  }

  // A key is known if reference.conf has it, or it indexes into a list there
  // (cryo.cluster.seed-nodes.0 from a -D property or override).
  private static boolean isKnown(String key, Config reference) {
    if (reference.hasPathOrNull(key)) {
      return true;
    }
    for (int dot = key.lastIndexOf('.'); dot > 0; dot = key.lastIndexOf('.', dot - 1)) {
      String prefix = key.substring(0, dot);
      if (reference.hasPathOrNull(prefix)) {
        return reference.getValue(prefix).valueType() == ConfigValueType.LIST;
      }
    }
    return false;
  }
}
