package dev.cryo.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Reads one block of the cryo config (e.g. {@code cryo.image}) and turns Typesafe's
 * exceptions, which only know the relative path, into messages that name the full key.
 */
final class SettingsReader {
  private final Config block;
  private final String path;

  SettingsReader(Config block, String path) {
    this.block = block;
    this.path = path;
  }

  String key(String relative) {
    return path.isEmpty() ? relative : path + "." + relative;
  }

  Config section(String relative) {
    return read(relative, () -> block.getConfig(relative));
  }

  int getInt(String relative) {
    return read(relative, () -> block.getInt(relative));
  }

  long getBytes(String relative) {
    return read(relative, () -> block.getBytes(relative));
  }

  boolean getBoolean(String relative) {
    return read(relative, () -> block.getBoolean(relative));
  }

  Duration getDuration(String relative) {
    return read(relative, () -> block.getDuration(relative));
  }

  String getString(String relative) {
    return read(relative, () -> block.getString(relative));
  }

  List<String> getStringList(String relative) {
    return read(relative, () -> block.getStringList(relative));
  }

  Path getPath(String relative) {
    String s = getString(relative);
    try {
      return Path.of(s);
    } catch (InvalidPathException e) {
      throw new InvalidSettingsException(key(relative) + " is not a valid path: '" + s + "'", e);
    }
  }

  /** Case-insensitive match against the enum's lower-case names. */
  <E extends Enum<E>> E getEnum(String relative, Class<E> type) {
    String s = getString(relative);
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(s.trim())) {
        return e;
      }
    }
    String allowed =
        Arrays.stream(type.getEnumConstants())
            .map(e -> e.name().toLowerCase(Locale.ROOT))
            .collect(Collectors.joining(", "));
    throw new InvalidSettingsException(
        key(relative) + " must be one of " + allowed + ", got '" + s + "'");
  }

  private <T> T read(String relative, Supplier<T> getter) {
    try {
      return getter.get();
    } catch (ConfigException.Null e) {
      throw new InvalidSettingsException(key(relative) + " must not be null", e);
    } catch (ConfigException.Missing e) {
      throw new InvalidSettingsException("missing setting " + key(relative), e);
    } catch (ConfigException e) {
      throw new InvalidSettingsException("invalid " + key(relative) + ": " + e.getMessage(), e);
    }
  }
}
