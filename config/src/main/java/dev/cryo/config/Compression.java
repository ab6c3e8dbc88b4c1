package dev.cryo.config;

import java.util.Locale;

/** How page chunks are compressed in an image; {@code cryo.image.compression}. */
public enum Compression {
  NONE,
  ZSTD;

  /** The spelling used in configuration, e.g. {@code "zstd"}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
