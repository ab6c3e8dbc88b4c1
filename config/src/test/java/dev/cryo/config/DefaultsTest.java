package dev.cryo.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class DefaultsTest {
  private static final long MIB = 1024 * 1024;
  private final CryoSettings s = CryoSettings.defaults();

  @Test
  void topLevel() {
    assertEquals(Path.of("cryo-images"), s.imagesDir());
  }

  @Test
  void parallelismZeroMeansCpuCount() {
    int cpus = Runtime.getRuntime().availableProcessors();
    assertEquals(new ParallelismSettings(cpus, cpus), s.parallelism());
  }

  @Test
  void image() {
    assertEquals(new ImageSettings(4 * MIB, 64 * MIB, Compression.NONE, 1, true), s.image());
  }

  @Test
  void buffersFollowChunkSize() {
    assertEquals(new BufferSettings(4 * MIB, 16), s.buffers());
    assertEquals(64 * MIB, s.buffers().maxMemory());
  }

  @Test
  void dump() {
    assertEquals(
        new DumpSettings(false, Duration.ofSeconds(10), Duration.ofMinutes(10), true,
            Duration.ofSeconds(1), MIB, Duration.ofMillis(500), -10, 1, Duration.ofSeconds(30)), s.dump());
  }

  @Test
  void restore() {
    assertEquals(
        new RestoreSettings(false, Duration.ofSeconds(5), Duration.ofMinutes(10), true,
            Duration.ofSeconds(1)), s.restore());
  }

  @Test
  void log() {
    assertEquals(new LogSettings(LogLevel.WARN, Optional.empty()), s.log());
  }

  @Test
  void cluster() {
    assertEquals(new ClusterSettings(List.of(), "127.0.0.1", 25520, 25530, java.util.Optional.empty(),
        java.nio.file.Path.of("/var/tmp/cryo-incoming"), java.time.Duration.ofMinutes(10), java.time.Duration.ofSeconds(30),
        1L << 40, 0L, java.util.Optional.of(java.nio.file.Path.of("/run/cryo/agent.sock"))), s.cluster());
  }

  @Test
  void loadWithNothingGivesDefaults() {
    assertEquals(s, TestConfigs.load(Map.of()));
  }

  @Test
  void parallelismEffectiveValues() {
    assertEquals(8, ParallelismSettings.effective(0, 8));
    assertEquals(3, ParallelismSettings.effective(3, 8));
    assertEquals(1, ParallelismSettings.effective(0, 0));
  }

  @Test
  void enumsSpellLikeTheConfig() {
    assertEquals("zstd", Compression.ZSTD.configName());
    assertEquals("warn", LogLevel.WARN.configName());
  }

  @Test
  void overridesConvertStrings() {
    CryoSettings o =
        TestConfigs.load(
            Map.of(
                "cryo.image.compression", "ZSTD",
                "cryo.image.fsync", "false",
                "cryo.dump.timeout", "90s",
                "cryo.log.file", "/tmp/cryo.log",
                "cryo.cluster.seed-nodes.0", "pekko://cryo@10.0.0.1:25520",
                "cryo.cluster.seed-nodes.1", "pekko://cryo@10.0.0.2:25520"));
    assertEquals(Compression.ZSTD, o.image().compression());
    assertFalse(o.image().fsync());
    assertEquals(Duration.ofSeconds(90), o.dump().timeout());
    assertEquals(Optional.of(Path.of("/tmp/cryo.log")), o.log().file());
    assertEquals(
        List.of("pekko://cryo@10.0.0.1:25520", "pekko://cryo@10.0.0.2:25520"),
        o.cluster().seedNodes());
    assertTrue(o.image().compressionLevel() >= 1);
  }
}
