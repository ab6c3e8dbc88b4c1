package dev.cryo.config;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/** Loads settings isolated from the JVM's system properties and any application.conf. */
final class TestConfigs {
  private TestConfigs() {}

  static CryoSettings load(Map<String, String> overrides) {
    return CryoSettings.create(
        CryoConfig.loadConfig(
            Optional.empty(), overrides, new Properties(), TestConfigs.class.getClassLoader()));
  }

  static String failure(Map<String, String> overrides) {
    return assertThrows(InvalidSettingsException.class, () -> load(overrides)).getMessage();
  }
}
