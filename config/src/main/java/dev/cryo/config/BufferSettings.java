package dev.cryo.config;

import com.typesafe.config.Config;

/**
 * Direct buffers between region copiers and the image writer ({@code cryo.buffers}).
 *
 * @param size bytes per direct buffer, a multiple of {@link ImageSettings#PAGE_SIZE}
 * @param inFlight most buffers in flight at once, at least 2 so filling and writing overlap
 */
public record BufferSettings(long size, int inFlight) {
  public static final String PATH = "cryo.buffers";

  public BufferSettings {
    Checks.pages(PATH + ".size", size);
    Checks.atLeast(PATH + ".in-flight", inFlight, 2);
  }

  /** Reads the {@code cryo.buffers} block. */
  public static BufferSettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    return new BufferSettings(r.getBytes("size"), r.getInt("in-flight"));
  }

  /** Upper bound of the memory cryo spends on page buffers, in bytes. */
  public long maxMemory() {
    return size * inFlight;
  }
}
