package dev.cryo.api;

import dev.cryo.engine.dump.DumpStats;

import java.nio.file.Path;
import java.util.List;

/** A committed image: where it is, which pids it holds, and the statistics of the dump. */
public record DumpReport(Path imageDir, List<Integer> pids, boolean leftRunning, DumpStats stats) {
    public DumpReport {
        pids = List.copyOf(pids);
    }
}
