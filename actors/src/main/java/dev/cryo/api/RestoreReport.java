package dev.cryo.api;

import java.nio.file.Path;
import java.util.List;

/**
 * A restored, running tree: its pids (the root first; the root is a child of this process, and
 * the caller may wait for it) and what the restore did and how long it took.
 */
public record RestoreReport(Path imageDir, int rootPid, List<Integer> pids, int threads, long pagesWritten,
                            long totalMillis, long memoryMillis) {
    public RestoreReport {
        pids = List.copyOf(pids);
    }
}
