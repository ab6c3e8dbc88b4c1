package dev.cryo.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigFileTest {
  @TempDir Path dir;

  private String failure(Path file) {
    return assertThrows(
            InvalidSettingsException.class,
            () ->
                CryoSettings.create(
                    CryoConfig.loadConfig(
                        Optional.of(file), Map.of(), new Properties(),
                        getClass().getClassLoader())))
        .getMessage();
  }

  @Test
  void missingFile() {
    Path missing = dir.resolve("nope.conf");
    assertEquals("config file " + missing + " does not exist", failure(missing));
  }

  @Test
  void directoryIsNotAFile() {
    assertEquals("config file " + dir + " is not a regular file", failure(dir));
  }

  @Test
  void unparsableFile() throws IOException {
    Path bad = Files.writeString(dir.resolve("bad.conf"), "cryo {\n  image { chunk-size = \n");
    String message = failure(bad);
    assertTrue(message.startsWith("cannot parse config file " + bad + ": "), message);
  }

  @Test
  void badValueInFileNamesKeyAndFile() throws IOException {
    Path f = Files.writeString(dir.resolve("cryo.conf"), "cryo.buffers.in-flight = lots\n");
    String message = failure(f);
    assertTrue(message.startsWith("invalid cryo.buffers.in-flight: "), message);
    assertTrue(message.contains("cryo.conf"), message);
  }

  @Test
  void unresolvableSubstitution() throws IOException {
    Path f = Files.writeString(dir.resolve("cryo.conf"), "cryo.buffers.size = ${nowhere}\n");
    String message = failure(f);
    assertTrue(message.startsWith("invalid configuration: "), message);
    assertTrue(message.contains("nowhere"), message);
  }

  @Test
  void validFileIsRead() throws IOException {
    Path f =
        Files.writeString(
            dir.resolve("cryo.conf"), "cryo { image { compression = zstd }, restore.detached = on }\n");
    CryoSettings s = CryoConfig.load(Optional.of(f), Map.of());
    assertEquals(Compression.ZSTD, s.image().compression());
    assertTrue(s.restore().detached());
  }
}
