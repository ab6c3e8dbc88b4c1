package dev.cryo.config;

import com.typesafe.config.Config;

/**
 * On-disk image format ({@code cryo.image}).
 *
 * @param chunkSize largest page run per chunk, bytes; a multiple of {@link #PAGE_SIZE}, at most
 *     maxChunk
 * @param maxChunk largest chunk length a reader accepts, bytes
 * @param compression how chunks are compressed
 * @param compressionLevel zstd level 1..22, ignored for other compressions
 * @param fsync whether image files are fsynced before the trailer commits the image
 */
public record ImageSettings(
    long chunkSize, long maxChunk, Compression compression, int compressionLevel, boolean fsync) {
  public static final String PATH = "cryo.image";

  /** Chunks hold whole pages; 4 KiB is the page size cryo supports. */
  public static final long PAGE_SIZE = 4096;

  public static final int MIN_ZSTD_LEVEL = 1;
  public static final int MAX_ZSTD_LEVEL = 22;

  public ImageSettings {
    Checks.pages(PATH + ".chunk-size", chunkSize);
    Checks.atMostInt(PATH + ".max-chunk", maxChunk);
    if (chunkSize > maxChunk) {
      throw new InvalidSettingsException(
          PATH + ".chunk-size must be at most " + PATH + ".max-chunk (" + maxChunk
              + " bytes), got " + chunkSize);
    }
    Checks.nonNull(PATH + ".compression", compression);
    Checks.between(PATH + ".compression-level", compressionLevel, MIN_ZSTD_LEVEL, MAX_ZSTD_LEVEL);
  }

  /** Reads the {@code cryo.image} block. */
  public static ImageSettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    return new ImageSettings(
        r.getBytes("chunk-size"),
        r.getBytes("max-chunk"),
        r.getEnum("compression", Compression.class),
        r.getInt("compression-level"),
        r.getBoolean("fsync"));
  }
}
