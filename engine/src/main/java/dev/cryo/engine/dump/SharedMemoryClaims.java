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

    /** An area that maps object {@code ino}, seen through {@code mapFile} (its /proc/PID/map_files entry). */
    public record Holder(long ino, java.nio.file.Path mapFile, String where) {}

    /** Per object carried whole, the areas that map it, in the order seen (SharedObjectRest reads through one). */
    private final Map<Long, List<Holder>> holders = new java.util.LinkedHashMap<>();

    /** Notes an area of an object carried whole ({@link dev.cryo.engine.memory.MemoryKind#objectCarriedWhole}). */
    public synchronized void holder(Holder h) {
        holders.computeIfAbsent(h.ino(), k -> new ArrayList<>()).add(h);
    }

    /** The objects carried whole and their areas, by object. */
    public synchronized Map<Long, List<Holder>> holders() {
        Map<Long, List<Holder>> copy = new java.util.LinkedHashMap<>();
        holders.forEach((ino, hs) -> copy.put(ino, List.copyOf(hs)));
        return copy;
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
