package dev.cryo.config;

import java.time.Duration;

/**
 * Range checks shared by the settings records. They live in the compact constructors, so
 * every instance is valid however it was built, and each message names the full key.
 */
final class Checks {
  private Checks() {}

  static int atLeast(String key, int value, int min) {
    if (value < min) {
      throw new InvalidSettingsException(key + " must be at least " + min + ", got " + value);
    }
    return value;
  }

  static int between(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new InvalidSettingsException(
          key + " must be between " + min + " and " + max + ", got " + value);
    }
    return value;
  }

  /** Sizes that back a direct ByteBuffer: whole pages, and within its int capacity. */
  static long pages(String key, long bytes) {
    if (bytes < ImageSettings.PAGE_SIZE || bytes % ImageSettings.PAGE_SIZE != 0) {
      throw new InvalidSettingsException(
          key + " must be a positive multiple of " + ImageSettings.PAGE_SIZE + " bytes, got " + bytes);
    }
    return atMostInt(key, bytes);
  }

  static long atMostInt(String key, long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new InvalidSettingsException(
          key + " must be at most " + Integer.MAX_VALUE + " bytes (one ByteBuffer), got " + bytes);
    }
    return bytes;
  }

  static Duration positive(String key, Duration d) {
    nonNull(key, d);
    if (d.isNegative() || d.isZero()) {
      throw new InvalidSettingsException(key + " must be positive, got " + format(d));
    }
    return d;
  }

  static Duration notNegative(String key, Duration d) {
    nonNull(key, d);
    if (d.isNegative()) {
      throw new InvalidSettingsException(key + " must not be negative, got " + format(d));
    }
    return d;
  }

  static String notBlank(String key, String s) {
    nonNull(key, s);
    if (s.isBlank()) {
      throw new InvalidSettingsException(key + " must not be empty");
    }
    return s;
  }

  static <T> T nonNull(String key, T value) {
    if (value == null) {
      throw new InvalidSettingsException(key + " must be set");
    }
    return value;
  }

  /** Durations the way HOCON spells them, "10s" rather than Java's "PT10S". */
  static String format(Duration d) {
    if (d.toNanos() % 1_000_000 != 0) {
      return d.toNanos() + "ns";
    }
    if (d.toMillis() % 1000 != 0) {
      return d.toMillis() + "ms";
    }
    return d.toSeconds() + "s";
  }
}
