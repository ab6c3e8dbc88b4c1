package dev.cryo.engine.restore;

import dev.cryo.engine.image.IndexEntry;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Disjoint address ranges of one mm, each with where its pages lie in the image (a chunk and the
 * chunk's page at the range's start; none for a range that only says "registered"). Ranges are cut,
 * taken out and moved as the mm changes (a lazy restore's page server follows munmap, mremap and
 * madvise so). Not thread-safe: one server thread owns it.
 */
final class PageRuns {
    static final long PAGE = 4096;

    /** [start, end) of the mm; {@code chunk}'s page {@code firstPage} is the one at {@code start} (null: none). */
    record Run(long start, long end, IndexEntry chunk, long firstPage) {
        Run part(long from, long to) {
            return new Run(from, to, chunk, chunk == null ? 0 : firstPage + (from - start) / PAGE);
        }

        Run movedBy(long delta) {
            return new Run(start + delta, end + delta, chunk, firstPage);
        }

        long pages() {
            return (end - start) / PAGE;
        }
    }

    private final TreeMap<Long, Run> runs = new TreeMap<>();
    private long pages;

    void add(Run r) {
        runs.put(r.start(), r);
        pages += r.pages();
    }

    /** The run holding {@code address}, or null. */
    Run at(long address) {
        Map.Entry<Long, Run> e = runs.floorEntry(address);
        return e != null && address < e.getValue().end() ? e.getValue() : null;
    }

    /** Takes out and returns the parts of runs within [from, to), in address order. */
    List<Run> take(long from, long to) {
        List<Run> out = new ArrayList<>();
        Long key = runs.floorKey(from);
        if (key == null || runs.get(key).end() <= from) {
            key = runs.ceilingKey(from);
        }
        while (key != null && key < to) {
            Run r = runs.remove(key);
            pages -= r.pages();
            if (r.start() < from) {
                add(r.part(r.start(), from));
            }
            if (r.end() > to) {
                add(r.part(to, r.end()));
            }
            out.add(r.part(Math.max(r.start(), from), Math.min(r.end(), to)));
            key = runs.ceilingKey(r.end());
        }
        return out;
    }

    /** What an mremap did: the runs of [from, from + len) now lie at {@code to}. */
    void move(long from, long to, long len) {
        for (Run r : take(from, from + len)) {
            add(r.movedBy(to - from));
        }
    }

    Run first() {
        Map.Entry<Long, Run> e = runs.firstEntry();
        return e == null ? null : e.getValue();
    }

    List<Run> all() {
        return List.copyOf(runs.values());
    }

    boolean isEmpty() {
        return runs.isEmpty();
    }

    long pages() {
        return pages;
    }

    /** A copy, for a forked child's mm. */
    PageRuns copy() {
        PageRuns c = new PageRuns();
        runs.values().forEach(c::add);
        return c;
    }
}
