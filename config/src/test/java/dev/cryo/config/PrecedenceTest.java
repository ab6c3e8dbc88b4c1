package dev.cryo.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each level sets cryo.parallelism.tasks to its own value; the strongest present must win. */
class PrecedenceTest {
  private static final String TASKS = "cryo.parallelism.tasks";

  @TempDir Path dir;
  private Path file;
  private ClassLoader withApplicationConf;
  private final Map<String, String> overrides = Map.of(TASKS, "11");
  private final Properties system = new Properties();

  @BeforeEach
  void setUp() throws IOException {
    system.setProperty(TASKS, "12");
    file = Files.writeString(dir.resolve("cryo.conf"), TASKS + " = 13\n");
    Path classes = Files.createDirectories(dir.resolve("classes"));
    Files.writeString(classes.resolve("application.conf"), TASKS + " = 14\n");
    withApplicationConf =
        new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader());
  }

  private int tasks(Optional<Path> f, Map<String, String> o, Properties p, ClassLoader l) {
    Config config = CryoConfig.loadConfig(f, o, p, l);
    return CryoSettings.create(config).parallelism().tasks();
  }

  @Test
  void overridesBeatSystemProperties() {
    assertEquals(11, tasks(Optional.of(file), overrides, system, withApplicationConf));
  }

  @Test
  void systemPropertiesBeatFile() {
    assertEquals(12, tasks(Optional.of(file), Map.of(), system, withApplicationConf));
  }

  @Test
  void fileBeatsApplicationConf() {
    assertEquals(13, tasks(Optional.of(file), Map.of(), new Properties(), withApplicationConf));
  }

  @Test
  void applicationConfBeatsReference() {
    assertEquals(14, tasks(Optional.empty(), Map.of(), new Properties(), withApplicationConf));
  }

  @Test
  void referenceIsTheFallback() {
    int cpus = Runtime.getRuntime().availableProcessors();
    assertEquals(cpus, tasks(Optional.empty(), Map.of(), new Properties(), getClass().getClassLoader()));
  }

  @Test
  void substitutionsSeeTheMergedConfig() throws IOException {
    Files.writeString(file, "cryo.image.chunk-size = 8 MiB\n");
    CryoSettings s =
        CryoSettings.create(
            CryoConfig.loadConfig(
                Optional.of(file), Map.of(), new Properties(), getClass().getClassLoader()));
    assertEquals(8L << 20, s.image().chunkSize());
    assertEquals(8L << 20, s.buffers().size());
  }

  @Test
  void publicLoadReadsRealSystemProperties() {
    String key = "cryo.dump.seize-timeout";
    String old = System.getProperty(key);
    System.setProperty(key, "3s");
    try {
      CryoSettings s = CryoConfig.load(Optional.empty(), Map.of("cryo.log.level", "debug"));
      assertEquals(java.time.Duration.ofSeconds(3), s.dump().seizeTimeout());
      assertEquals(LogLevel.DEBUG, s.log().level());
    } finally {
      if (old == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, old);
      }
    }
  }

  @Test
  void configKeepsOtherBlocksForPekko() throws IOException {
    Files.writeString(file, "pekko.loglevel = DEBUG\n");
    Config config = CryoConfig.loadConfig(Optional.of(file), Map.of());
    assertEquals("DEBUG", config.getString("pekko.loglevel"));
  }
}
