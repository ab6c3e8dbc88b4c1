package dev.cryo.config;

import java.util.Locale;

/** Lowest level that is logged; {@code cryo.log.level}. Ordered from quietest to noisiest. */
public enum LogLevel {
  OFF,
  ERROR,
  WARN,
  INFO,
  DEBUG,
  TRACE;

  /** The spelling used in configuration, e.g. {@code "warn"}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
