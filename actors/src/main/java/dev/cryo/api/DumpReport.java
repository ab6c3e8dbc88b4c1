package dev.cryo.api;

import dev.cryo.engine.dump.DumpStats;

import java.nio.file.Path;
import java.util.List;

/**
 * A committed image: where it is, which pids it holds, and the statistics of the dump.
 * {@code roundPages}: with pre-copy, the pages copied in each round, the frozen one last; else empty.
 * {@code notes}: what the user should know of how it went (a pre-dump's tracking kept, taken over, or
 * lost and the memory copied again), one line each.
 */
public record DumpReport(Path imageDir, List<Integer> pids, boolean leftRunning, DumpStats stats,
                         List<Long> roundPages, List<String> notes) {
    public DumpReport {
        pids = List.copyOf(pids);
        roundPages = List.copyOf(roundPages);
        notes = List.copyOf(notes);
    }

    public DumpReport(Path imageDir, List<Integer> pids, boolean leftRunning, DumpStats stats,
                      List<Long> roundPages) {
        this(imageDir, pids, leftRunning, stats, roundPages, List.of());
    }

    public DumpReport(Path imageDir, List<Integer> pids, boolean leftRunning, DumpStats stats) {
        this(imageDir, pids, leftRunning, stats, List.of());
    }
}
