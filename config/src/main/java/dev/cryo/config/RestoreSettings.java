package dev.cryo.config;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * Restore behaviour ({@code cryo.restore}).
 *
 * @param detached whether cryo exits once the tree runs instead of waiting for it
 * @param pidWait how long to wait for a needed pid held by a zombie; zero fails at once
 * @param timeout upper bound for the whole restore
 * @param progress whether to draw a progress bar on a terminal
 * @param progressDelay how long a restore runs before the bar appears
 * @param manageCgroups what a restore does with the tasks' cgroups, as CRIU's --manage-cgroups modes
 * @param rtPriority the SCHED_FIFO priority a task runs at while it is made again, until its own
 *     scheduling state is set (1 to 99; 0 leaves it as it is)
 * @param lazyAheadPause a lazy restore's page server's wait for faults between two copies ahead (1 MiB each);
 *     zero copies ahead without a break
 */
public record RestoreSettings(boolean detached, Duration pidWait, Duration timeout, boolean progress,
    Duration progressDelay, String manageCgroups, int rtPriority, Duration lazyAheadPause) {
  public static final String PATH = "cryo.restore";
  /** CRIU's --manage-cgroups modes. */
  public static final java.util.List<String> CGROUP_MODES =
      java.util.List.of("ignore", "none", "props", "soft", "full", "strict");

  /** The default cgroup mode, CRIU's too: soft. */
  public RestoreSettings(boolean detached, Duration pidWait, Duration timeout, boolean progress,
      Duration progressDelay) {
    this(detached, pidWait, timeout, progress, progressDelay, "soft", 1);
  }

  /** Copies ahead without a break. */
  public RestoreSettings(boolean detached, Duration pidWait, Duration timeout, boolean progress,
      Duration progressDelay, String manageCgroups, int rtPriority) {
    this(detached, pidWait, timeout, progress, progressDelay, manageCgroups, rtPriority, Duration.ZERO);
  }

  public RestoreSettings {
    Checks.notNegative(PATH + ".pid-wait", pidWait);
    Checks.positive(PATH + ".timeout", timeout);
    Checks.notNegative(PATH + ".progress-delay", progressDelay);
    Checks.notNegative(PATH + ".lazy-ahead-pause", lazyAheadPause);
    if (!CGROUP_MODES.contains(manageCgroups)) {
      throw new InvalidSettingsException(PATH + ".manage-cgroups must be one of " + String.join(", ", CGROUP_MODES)
          + ", not '" + manageCgroups + "'");
    }
    if (rtPriority < 0 || rtPriority > 99) {
      throw new InvalidSettingsException(PATH + ".rt-priority must be between 0 and 99, got " + rtPriority);
    }
  }

  /** Reads the {@code cryo.restore} block. */
  public static RestoreSettings create(Config section) {
    SettingsReader r = new SettingsReader(section, PATH);
    return new RestoreSettings(
        r.getBoolean("detached"), r.getDuration("pid-wait"), r.getDuration("timeout"),
        r.getBoolean("progress"), r.getDuration("progress-delay"), r.getString("manage-cgroups"),
        r.getInt("rt-priority"), r.getDuration("lazy-ahead-pause"));
  }
}
