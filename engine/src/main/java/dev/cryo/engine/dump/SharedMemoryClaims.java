package dev.cryo.engine.dump;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which pages of each shared memory object (by inode) some task of the dump already carries, by
 * page offset in the object. Each task claims the window its mapping shows; it carries only the
 * parts nobody claimed before, so every page of an object goes into the image exactly once,
 * whatever the split of the mappings and whichever task is collected first. Thread-safe: the
 * task dumpers run in parallel.
 */
public final class SharedMemoryClaims {
    /** The pids of the dumped tree (a memfd one task maps privately may be held by another's fd). */
    private final java.util.function.Supplier<java.util.Collection<Integer>> tree;

    /** For one task alone: no other task holds what it maps. */
    public SharedMemoryClaims() {
        this(java.util.List::of);
    }

    public SharedMemoryClaims(java.util.function.Supplier<java.util.Collection<Integer>> tree) {
        this.tree = tree;
    }

    /** The pids of the dumped tree, zombies included. */
    public java.util.Collection<Integer> tree() {
        return tree.get();
    }

    /** Per object: claimed ranges, start page → end page (exclusive), never overlapping. */
    private final Map<Long, TreeMap<Long, Long>> claimed = new HashMap<>();

    /** Claims [first, end) pages of object {@code ino}; returns the sub-ranges {start, end} newly claimed. */
    public synchronized List<long[]> claim(long ino, long first, long end) {
        TreeMap<Long, Long> ranges = claimed.computeIfAbsent(ino, k -> new TreeMap<>());
        List<long[]> fresh = new ArrayList<>();
        long at = first;
        Map.Entry<Long, Long> before = ranges.floorEntry(at);
        if (before != null && before.getValue() > at) {
            at = before.getValue();
        }
        while (at < end) {
            Map.Entry<Long, Long> next = ranges.ceilingEntry(at);
            long gapEnd = next == null ? end : Math.min(end, next.getKey());
            if (gapEnd > at) {
                fresh.add(new long[]{at, gapEnd});
            }
            if (next == null || next.getKey() >= end) {
                break;
            }
            at = next.getValue();
        }
        for (long[] r : fresh) {
            ranges.put(r[0], r[1]);
        }
        return fresh;
    }
}
