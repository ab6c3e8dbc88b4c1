package dev.cryo.config;

import com.typesafe.config.Config;

/**
 * Pre-copy rounds of {@code cryo dump --pre-copy} and {@code cryo migrate} ({@code cryo.pre-copy}).
 *
 * @param maxRounds most rounds while the tree runs, before it is frozen anyway
 * @param stopBelow a round that copied at most this many bytes ends the pre-copy
 * @param minShrinkPercent a round must copy at most this percentage of the previous one, or the
 *     pre-copy ends (the tree dirties memory as fast as it is copied)
 * @param raiseBelow once a round copied at most this many bytes, the rounds left run at {@code
 *     cryo.dump.freeze-nice} (see {@link #endgame})
 * @param trackingKept how long a pre-dump's write tracking is kept for the next dump at most
 * @param maxDowntime what the frozen round's pages may take to send, estimated from the rounds (0: no bound);
 *     rounds that stop shrinking above it go on with the tree throttled
 * @param throttle the share of each 100 ms the tree is stopped for in the rounds after they stopped
 *     shrinking above {@code maxDowntime}: initial, step and most, in percent (most 0: never throttled)
 */
public record PreCopySettings(int maxRounds, long stopBelow, int minShrinkPercent, long raiseBelow,
                              java.time.Duration trackingKept, java.time.Duration maxDowntime,
                              Throttle throttle) {
  /** Auto-converge, as QEMU's cpu-throttle-initial/-increment/-max: the tree stopped this share of the time. */
  public record Throttle(int initialPercent, int stepPercent, int maxPercent) {
    public Throttle {
      Checks.between(PATH + ".throttle-initial-percent", initialPercent, 1, 99);
      Checks.between(PATH + ".throttle-step-percent", stepPercent, 1, 99);
      Checks.between(PATH + ".throttle-max-percent", maxPercent, 0, 99);
    }

    /** The duty after {@code current} (0: none yet), or {@code current} when at the most already. */
    public int next(int current) {
      if (maxPercent == 0) {
        return 0;
      }
      return Math.min(maxPercent, current == 0 ? initialPercent : current + stepPercent);
    }
  }
  public static final String PATH = "cryo.pre-copy";

  public PreCopySettings {
    Checks.between(PATH + ".max-rounds", maxRounds, 1, 100);
    if (stopBelow < 0) {
      throw new InvalidSettingsException(PATH + ".stop-below must not be negative, got " + stopBelow);
    }
    Checks.between(PATH + ".min-shrink-percent", minShrinkPercent, 1, 100);
    if (raiseBelow < 0) {
      throw new InvalidSettingsException(PATH + ".raise-below must not be negative, got " + raiseBelow);
    }
    if (trackingKept == null || trackingKept.toSeconds() < 1) {
      throw new InvalidSettingsException(PATH + ".tracking-kept must be at least 1 second, got " + trackingKept);
    }
    if (maxDowntime == null || maxDowntime.isNegative()) {
      throw new InvalidSettingsException(PATH + ".max-downtime must not be negative, got " + maxDowntime);
    }
    Checks.nonNull(PATH + ".throttle", throttle);
  }

  public PreCopySettings(int maxRounds, long stopBelow, int minShrinkPercent, long raiseBelow,
                         java.time.Duration trackingKept) {
    this(maxRounds, stopBelow, minShrinkPercent, raiseBelow, trackingKept, java.time.Duration.ofMillis(100),
        new Throttle(30, 20, 90));
  }

  public PreCopySettings(int maxRounds, long stopBelow, int minShrinkPercent, long raiseBelow) {
    this(maxRounds, stopBelow, minShrinkPercent, raiseBelow, java.time.Duration.ofMinutes(10));
  }

  /** The same with the frozen round's bound {@code maxDowntime} (a migration's --max-downtime). */
  public PreCopySettings withMaxDowntime(java.time.Duration maxDowntime) {
    return new PreCopySettings(maxRounds, stopBelow, minShrinkPercent, raiseBelow, trackingKept, maxDowntime, throttle);
  }

  /**
   * Whether the pre-copy ends after round {@code rounds} (1 for the first), which copied {@code
   * lastPages} pages after a round of {@code previousPages}: small enough to send frozen, no longer
   * shrinking, or out of rounds.
   */
  public boolean endsAfter(int rounds, long lastPages, long previousPages) {
    if (rounds >= maxRounds || lastPages * 4096 <= stopBelow) {
      return true;
    }
    return rounds >= 2 && lastPages * 100 > previousPages * minShrinkPercent;
  }

  /**
   * Whether the rounds after one of {@code lastPages} pages race the tree's writes: what each
   * of them takes, scan to receipt, the tree writes for the next, and the last one's for the
   * frozen round, so they must not wait for a CPU behind the host's other work.
   */
  public boolean endgame(long lastPages) {
    return lastPages * 4096 <= raiseBelow;
  }

  /** Reads the {@code cryo.pre-copy} block. */
  public static PreCopySettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    return new PreCopySettings(r.getInt("max-rounds"), r.getBytes("stop-below"), r.getInt("min-shrink-percent"),
        r.getBytes("raise-below"), r.getDuration("tracking-kept"), r.getDuration("max-downtime"),
        new Throttle(r.getInt("throttle-initial-percent"), r.getInt("throttle-step-percent"),
            r.getInt("throttle-max-percent")));
  }
}
