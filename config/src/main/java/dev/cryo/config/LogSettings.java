package dev.cryo.config;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Logging ({@code cryo.log}).
 *
 * @param level lowest level logged
 * @param file file logged to besides stderr; empty means stderr only
 */
public record LogSettings(LogLevel level, Optional<Path> file) {
  public static final String PATH = "cryo.log";

  public LogSettings {
    Checks.nonNull(PATH + ".level", level);
    Checks.nonNull(PATH + ".file", file);
  }

  /** Reads the {@code cryo.log} block; {@code file = ""} becomes {@link Optional#empty()}. */
  public static LogSettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    LogLevel level = r.getEnum("level", LogLevel.class);
    Optional<Path> file =
        r.getString("file").isBlank() ? Optional.empty() : Optional.of(r.getPath("file"));
    return new LogSettings(level, file);
  }
}
