package dev.cryo.config;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * Checkpoint behaviour ({@code cryo.dump}).
 *
 * @param leaveRunning whether the tree keeps running after the dump
 * @param seizeTimeout how long to wait for every task to be seized and stopped; at most timeout
 * @param timeout upper bound for the whole dump
 * @param progress whether to draw a progress bar on a terminal
 * @param progressDelay how long a dump runs before the bar appears
 * @param ghostLimit the largest deleted file (still mapped or open) whose contents a dump carries, in bytes
 * @param acceptWait how long, before the freeze, new connections to the tree's TCP listeners are held
 *     back while the program accepts those already queued (a connection not accepted yet is refused)
 * @param freezeNice the nice value cryo's own threads run at while a dump holds the tree
 *     frozen (-20 to 19; 0 leaves them as they are)
 * @param freezeRtPriority the SCHED_FIFO priority a frozen task's fair-policy threads run at while cryo
 *     injects calls into them, then put back as they were (1 to 99; 0 leaves them as they are)
 * @param releaseTimeout how long a killing dump waits for each killed task to die
 */
public record DumpSettings(
    boolean leaveRunning, Duration seizeTimeout, Duration timeout, boolean progress,
    Duration progressDelay, long ghostLimit, Duration acceptWait, int freezeNice, int freezeRtPriority,
    Duration releaseTimeout) {
  public static final String PATH = "cryo.dump";
  /**
   * 1 GiB: zdtm's unlink_multiple_largefiles dumps with CRIU's --ghost-limit 1G; a deleted file's contents travel
   * in pieces of their own, but are read whole into memory on both sides (a Java array, at most 2 GiB).
   */
  public static final long MAX_GHOST_LIMIT = 1L << 30;

  public DumpSettings {
    Checks.positive(PATH + ".seize-timeout", seizeTimeout);
    Checks.positive(PATH + ".timeout", timeout);
    Checks.notNegative(PATH + ".progress-delay", progressDelay);
    Checks.notNegative(PATH + ".accept-wait", acceptWait);
    Checks.positive(PATH + ".release-timeout", releaseTimeout);
    if (freezeNice < -20 || freezeNice > 19) {
      throw new InvalidSettingsException(PATH + ".freeze-nice must be between -20 and 19, got " + freezeNice);
    }
    if (freezeRtPriority < 0 || freezeRtPriority > 99) {
      throw new InvalidSettingsException(PATH + ".freeze-rt-priority must be between 0 and 99, got " + freezeRtPriority);
    }
    if (ghostLimit < 0 || ghostLimit > MAX_GHOST_LIMIT) {
      throw new InvalidSettingsException(PATH + ".ghost-limit must be between 0 and 1 GiB, got " + ghostLimit
          + " bytes");
    }
    if (seizeTimeout.compareTo(timeout) > 0) {
      throw new InvalidSettingsException(
          PATH + ".seize-timeout must be at most " + PATH + ".timeout ("
              + Checks.format(timeout) + "), got " + Checks.format(seizeTimeout));
    }
  }

  /** Reads the {@code cryo.dump} block. */
  public static DumpSettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    return new DumpSettings(
        r.getBoolean("leave-running"),
        r.getDuration("seize-timeout"),
        r.getDuration("timeout"),
        r.getBoolean("progress"),
        r.getDuration("progress-delay"),
        r.getBytes("ghost-limit"),
        r.getDuration("accept-wait"),
        r.getInt("freeze-nice"),
        r.getInt("freeze-rt-priority"),
        r.getDuration("release-timeout"));
  }
}
