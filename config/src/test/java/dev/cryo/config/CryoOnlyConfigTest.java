package dev.cryo.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A local command reads cryo's settings from cryo's own defaults only: the same settings as from
 * the whole class path's config, with the same precedence and the same refusals.
 */
class CryoOnlyConfigTest {
  @TempDir Path dir;

  @Test
  void givesTheSameCryoSettingsAsTheWholeConfig() throws Exception {
    Path file = Files.writeString(dir.resolve("cryo.conf"), "cryo.parallelism.tasks = 3\n");
    Map<String, String> overrides = Map.of("cryo.image.chunk-size", "2 MiB");
    Config whole = CryoConfig.loadConfig(Optional.of(file), overrides);
    Config own = CryoConfig.loadCryoOnly(Optional.of(file), overrides);
    assertEquals(whole.getConfig("cryo").root().unwrapped(), own.getConfig("cryo").root().unwrapped());
    assertEquals(3, CryoSettings.create(own).parallelism().tasks());
    assertEquals(CryoSettings.create(whole), CryoSettings.create(own));
    assertTrue(Files.size(Path.of(CryoConfig.class.getClassLoader().getResource(CryoConfig.CRYO_REFERENCE).toURI()))
        > 1000, "the copy of reference.conf is on the class path");
  }

  @Test
  void refusesUnknownKeysToo() {
    InvalidSettingsException e =
        assertThrows(
            InvalidSettingsException.class,
            () -> CryoConfig.loadCryoOnly(Optional.empty(), Map.of("cryo.parallelism.taks", "3")));
    assertTrue(e.getMessage().contains("cryo.parallelism.taks"), e.getMessage());
    assertFalse(
        CryoConfig.loadCryoOnly(Optional.empty(), Map.of()).hasPath("pekko.actor"),
        "Pekko's defaults are not parsed");
  }
}
