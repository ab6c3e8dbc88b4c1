package dev.cryo.config;

import static dev.cryo.config.TestConfigs.failure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ValidationTest {

  private static void assertFails(String expected, String key, String value) {
    assertEquals(expected, failure(Map.of(key, value)));
  }

  private static void assertFailsStartingWith(String prefix, String key, String value) {
    String message = failure(Map.of(key, value));
    assertTrue(message.startsWith(prefix), message);
  }

  @Test
  void imagesDir() {
    assertFails("cryo.images-dir must not be empty", "cryo.images-dir", "");
  }

  @Test
  void parallelism() {
    assertFails("cryo.parallelism.tasks must be at least 0, got -1", "cryo.parallelism.tasks", "-1");
    assertFails(
        "cryo.parallelism.regions must be at least 0, got -2", "cryo.parallelism.regions", "-2");
  }

  @Test
  void chunkSize() {
    assertFails(
        "cryo.image.chunk-size must be a positive multiple of 4096 bytes, got 5000",
        "cryo.image.chunk-size", "5000");
    assertFails(
        "cryo.image.chunk-size must be a positive multiple of 4096 bytes, got 0",
        "cryo.image.chunk-size", "0");
    assertFails(
        "cryo.image.chunk-size must be at most cryo.image.max-chunk (67108864 bytes),"
            + " got 134217728",
        "cryo.image.chunk-size", "128 MiB");
    assertFailsStartingWith("invalid cryo.image.chunk-size: ", "cryo.image.chunk-size", "lots");
  }

  @Test
  void maxChunk() {
    assertFails(
        "cryo.image.max-chunk must be at most 2147483647 bytes (one ByteBuffer), got 4294967296",
        "cryo.image.max-chunk", "4 GiB");
  }

  @Test
  void compression() {
    assertFails(
        "cryo.image.compression must be one of none, zstd, got 'gzip'",
        "cryo.image.compression", "gzip");
    assertFails(
        "cryo.image.compression-level must be between 1 and 22, got 0",
        "cryo.image.compression-level", "0");
    assertFails(
        "cryo.image.compression-level must be between 1 and 22, got 23",
        "cryo.image.compression-level", "23");
  }

  @Test
  void fsync() {
    assertFailsStartingWith("invalid cryo.image.fsync: ", "cryo.image.fsync", "maybe");
  }

  @Test
  void buffers() {
    assertFails("cryo.buffers.in-flight must be at least 2, got 0", "cryo.buffers.in-flight", "0");
    assertFails(
        "cryo.buffers.size must be a positive multiple of 4096 bytes, got 1000",
        "cryo.buffers.size", "1000");
    assertFailsStartingWith("invalid cryo.buffers.in-flight: ", "cryo.buffers.in-flight", "lots");
  }

  @Test
  void dump() {
    assertFails("cryo.dump.timeout must be positive, got 0s", "cryo.dump.timeout", "0s");
    assertFails(
        "cryo.dump.seize-timeout must be positive, got -1500ms", "cryo.dump.seize-timeout", "-1.5s");
    assertFails(
        "cryo.dump.seize-timeout must be at most cryo.dump.timeout (600s), got 3600s",
        "cryo.dump.seize-timeout", "1h");
    assertFailsStartingWith("invalid cryo.dump.timeout: ", "cryo.dump.timeout", "soon");
  }

  @Test
  void restore() {
    assertFails("cryo.restore.pid-wait must not be negative, got -1s", "cryo.restore.pid-wait", "-1s");
    assertEquals(Duration.ZERO, TestConfigs.load(Map.of("cryo.restore.pid-wait", "0s")).restore().pidWait());
    assertFails("cryo.restore.timeout must be positive, got 0s", "cryo.restore.timeout", "0");
  }

  @Test
  void log() {
    assertFails(
        "cryo.log.level must be one of off, error, warn, info, debug, trace, got 'loud'",
        "cryo.log.level", "loud");
    assertFails("cryo.log.file is not a valid path: 'a\0b'", "cryo.log.file", "a\0b");
  }

  @Test
  void cluster() {
    assertFails("cryo.cluster.port must be between 0 and 65535, got 70000", "cryo.cluster.port", "70000");
    assertFails(
        "cryo.cluster.data-port must be between 0 and 65535, got -1", "cryo.cluster.data-port", "-1");
    assertFails(
        "cryo.cluster.data-port must differ from cryo.cluster.port, both are 25530",
        "cryo.cluster.port", "25530");
    assertFails("cryo.cluster.hostname must not be empty", "cryo.cluster.hostname", " ");
    assertFails(
        "cryo.cluster.seed-nodes entry must not be empty", "cryo.cluster.seed-nodes.0", "");
    // Both 0: the kernel hands out two different free ports.
    ClusterSettings c =
        TestConfigs.load(Map.of("cryo.cluster.port", "0", "cryo.cluster.data-port", "0")).cluster();
    assertEquals(0, c.port());
  }

  @Test
  void unknownKeysAreRejected() {
    assertFails(
        "unknown setting cryo.image.chunksize (from overrides)", "cryo.image.chunksize", "8 MiB");
  }

  @Test
  void missingSettings() {
    assertEquals(
        "missing setting cryo",
        assertThrows(InvalidSettingsException.class, () -> CryoSettings.create(ConfigFactory.empty()))
            .getMessage());
    assertEquals(
        "missing setting cryo.images-dir",
        assertThrows(
                InvalidSettingsException.class,
                () -> CryoSettings.create(ConfigFactory.parseString("cryo {}")))
            .getMessage());
    assertEquals(
        "missing setting cryo.buffers.in-flight",
        assertThrows(
                InvalidSettingsException.class,
                () -> BufferSettings.create(ConfigFactory.parseString("size = 4096")))
            .getMessage());
  }

  @Test
  void recordsValidateWhenBuiltDirectly() {
    assertThrows(InvalidSettingsException.class, () -> new BufferSettings(4096, 1));
    assertThrows(
        InvalidSettingsException.class,
        () -> new ImageSettings(4096, 4096, null, 1, true));
    assertThrows(
        InvalidSettingsException.class,
        () -> new CryoSettings(Path.of(""), null, null, null, null, null, null, null, null));
    List<String> seeds = new java.util.ArrayList<>(List.of("pekko://cryo@h:1"));
    ClusterSettings c = new ClusterSettings(seeds, "h", 1, 2, java.util.Optional.empty(), Path.of("/tmp"),
        java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(1), 4096, 0, java.util.Optional.empty());
    seeds.clear();
    assertEquals(1, c.seedNodes().size());
  }

  @Test
  void typesafeErrorsAreWrapped() {
    String message =
        assertThrows(
                InvalidSettingsException.class,
                () ->
                    CryoConfig.loadConfig(
                        Optional.empty(),
                        Map.of("cryo..bad", "1"),
                        new java.util.Properties(),
                        getClass().getClassLoader()))
            .getMessage();
    assertTrue(message.startsWith("invalid configuration: "), message);
  }
}
