package dev.cryo.config;

import com.typesafe.config.Config;

/**
 * How much work runs at once ({@code cryo.parallelism}). Values are effective: a configured
 * 0 has already been replaced by the CPU count.
 *
 * @param tasks tasks dumped or restored at once, at least 1
 * @param regions region copier actors per task at once, at least 1
 */
public record ParallelismSettings(int tasks, int regions) {
  public static final String PATH = "cryo.parallelism";

  public ParallelismSettings {
    Checks.atLeast(PATH + ".tasks", tasks, 1);
    Checks.atLeast(PATH + ".regions", regions, 1);
  }

  /** Reads the {@code cryo.parallelism} block; 0 means {@link Runtime#availableProcessors()}. */
  public static ParallelismSettings create(Config section) {
    return create(section, Runtime.getRuntime().availableProcessors());
  }

  /** As {@link #create(Config)} with an explicit CPU count, e.g. a cgroup quota. */
  public static ParallelismSettings create(Config section, int cpus) {
    SettingsReader r = new SettingsReader(section, PATH);
    int tasks = Checks.atLeast(r.key("tasks"), r.getInt("tasks"), 0);
    int regions = Checks.atLeast(r.key("regions"), r.getInt("regions"), 0);
    return new ParallelismSettings(effective(tasks, cpus), effective(regions, cpus));
  }

  /** 0 stands for "one per CPU". */
  public static int effective(int configured, int cpus) {
    return configured == 0 ? Math.max(1, cpus) : configured;
  }
}
