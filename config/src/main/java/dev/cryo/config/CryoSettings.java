package dev.cryo.config;

import com.typesafe.config.Config;
import java.nio.file.Path;

/**
 * All cryo settings, immutable and validated. Build with {@link CryoConfig#load} (files,
 * system properties, overrides), {@link #create(Config)} (e.g. from an actor system's config)
 * or {@link #defaults()}.
 *
 * @param imagesDir parent directory for images when the CLI gets none; relative to the cwd
 *     unless absolute
 */
public record CryoSettings(
    Path imagesDir,
    ParallelismSettings parallelism,
    ImageSettings image,
    BufferSettings buffers,
    DumpSettings dump,
    RestoreSettings restore,
    LogSettings log,
    ClusterSettings cluster,
    PreCopySettings preCopy) {
  public static final String ROOT = "cryo";

  public CryoSettings {
    Checks.nonNull(ROOT + ".images-dir", imagesDir);
    Checks.notBlank(ROOT + ".images-dir", imagesDir.toString());
    Checks.nonNull(ParallelismSettings.PATH, parallelism);
    Checks.nonNull(ImageSettings.PATH, image);
    Checks.nonNull(BufferSettings.PATH, buffers);
    Checks.nonNull(DumpSettings.PATH, dump);
    Checks.nonNull(RestoreSettings.PATH, restore);
    Checks.nonNull(LogSettings.PATH, log);
    Checks.nonNull(ClusterSettings.PATH, cluster);
    Checks.nonNull(PreCopySettings.PATH, preCopy);
  }

  /** Reads the {@code cryo} block of a resolved config that may hold other blocks (Pekko's). */
  public static CryoSettings create(Config config) {
    Config cryo = new SettingsReader(config, "").section(ROOT);
    SettingsReader r = new SettingsReader(cryo, ROOT);
    return new CryoSettings(
        r.getPath("images-dir"),
        ParallelismSettings.create(r.section("parallelism")),
        ImageSettings.create(r.section("image")),
        BufferSettings.create(r.section("buffers")),
        DumpSettings.create(r.section("dump")),
        RestoreSettings.create(r.section("restore")),
        LogSettings.create(r.section("log")),
        ClusterSettings.create(r.section("cluster")),
        PreCopySettings.create(r.section("pre-copy")));
  }

  /** The documented defaults: reference.conf alone, untouched by files or properties. */
  public static CryoSettings defaults() {
    return create(CryoConfig.reference(CryoSettings.class.getClassLoader()));
  }
}
