package dev.cryo.config;

import java.util.Locale;

/** How page chunks are compressed in an image; {@code cryo.image.compression}. */
public enum Compression {
  NONE,
  LZ4,
  ZSTD;

  /** The spelling used in configuration, e.g. {@code "lz4"}. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
