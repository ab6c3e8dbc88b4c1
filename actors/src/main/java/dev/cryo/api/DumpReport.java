package dev.cryo.api;

import dev.cryo.engine.dump.DumpStats;

import java.nio.file.Path;
import java.util.List;

/**
 * A committed image: where it is, which pids it holds, and the statistics of the dump.
 * {@code roundPages}: with pre-copy, the pages whose bytes each round sent, the frozen one last; else empty;
 * {@code roundZeroPages}: the pages each round recorded without their bytes (zero, or one byte repeated), likewise.
 * {@code notes}: what the user should know of how it went (a pre-dump's tracking kept, taken over, or
 * lost and the memory copied again), one line each. {@code iterated}: what a pre-dump kept or a dump
 * after one carried (null for other dumps).
 */
public record DumpReport(Path imageDir, List<Integer> pids, boolean leftRunning, DumpStats stats,
                         List<Long> roundPages, List<Long> roundZeroPages, List<String> notes, Iterated iterated) {
    public DumpReport {
        pids = List.copyOf(pids);
        roundPages = List.copyOf(roundPages);
        roundZeroPages = List.copyOf(roundZeroPages);
        notes = List.copyOf(notes);
    }

    /**
     * CRIU's iterative dump, as it went: {@code previous} the pre-dump's image this one took the tracking from
     * and {@code carriedPages} the pages copied from it (null, 0: none); {@code holder} the process keeping
     * this dump's tracking for the next and {@code keptSeconds} how long at most (0: none kept).
     */
    public record Iterated(Path previous, long carriedPages, int holder, long keptSeconds) {}

    public DumpReport(Path imageDir, List<Integer> pids, boolean leftRunning, DumpStats stats,
                      List<Long> roundPages, List<Long> roundZeroPages) {
        this(imageDir, pids, leftRunning, stats, roundPages, roundZeroPages, List.of(), null);
    }

    public DumpReport(Path imageDir, List<Integer> pids, boolean leftRunning, DumpStats stats) {
        this(imageDir, pids, leftRunning, stats, List.of(), List.of());
    }
}
