package dev.cryo.engine.restore;

import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.VmaImage;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The latest copy of every page of one task, kept as its page chunks come in image order: a
 * pre-copy image sends a page again each time it was written, and the later chunk wins. Built
 * chunk by chunk, so a migration's destination does this work while the rounds arrive and only
 * the frozen round's few chunks are left for the downtime.
 */
public final class LatestPages {
    /** Slices by address, disjoint. */
    private final TreeMap<Long, PageSlice> live = new TreeMap<>();
    /**
     * The slices of {@link #live} whose chunk was not placed in a prepared stub as it arrived, or
     * null when placement is not tracked: the restore writes these, and only these in the areas
     * the stub keeps (tens of thousands of placed slices need not be listed in the downtime).
     */
    private final TreeMap<Long, PageSlice> unplaced;

    public LatestPages() {
        this(false);
    }

    /** {@code trackPlacement}: chunks come with whether they were placed ({@link #add(IndexEntry, boolean)}). */
    public LatestPages(boolean trackPlacement) {
        this.unplaced = trackPlacement ? new TreeMap<>() : null;
    }

    /** The next chunk of the task, in image order: its pages replace any earlier copy. */
    public void add(IndexEntry e) {
        add(e, false);
    }

    /** As {@link #add(IndexEntry)}; {@code placed}: its pages are in the prepared stub already. */
    public void add(IndexEntry e, boolean placed) {
        PageSlice next = PageSlice.whole(e);
        Map.Entry<Long, PageSlice> before = live.lowerEntry(next.address());
        if (before != null && before.getValue().end() > next.address()) {
            cut(before.getValue(), next);
        }
        Long first = live.ceilingKey(next.address());
        if (first != null && first < next.end()) { // rare: only overlaps need a copy
            for (PageSlice over : List.copyOf(live.subMap(next.address(), true, next.end(), false).values())) {
                cut(over, next);
            }
        }
        live.put(next.address(), next);
        if (unplaced != null && !placed) {
            unplaced.put(next.address(), next);
        }
    }

    /** Replaces old (already in live) by what is left of it outside next. */
    private void cut(PageSlice old, PageSlice next) {
        live.remove(old.address());
        boolean wasUnplaced = unplaced != null && unplaced.remove(old.address()) != null;
        PageSlice left = old.within(old.address(), next.address());
        PageSlice right = old.within(next.end(), old.end());
        if (left != null) {
            live.put(left.address(), left);
            if (wasUnplaced) {
                unplaced.put(left.address(), left);
            }
        }
        if (right != null) {
            live.put(right.address(), right);
            if (wasUnplaced) {
                unplaced.put(right.address(), right);
            }
        }
    }

    /** Whether chunks came with their placement ({@link #withinUnplaced} can answer). */
    public boolean tracksPlacement() {
        return unplaced != null;
    }

    /**
     * The pages to write, in address order: the latest slices cut to the task's final mappings that
     * take page data (pages of memory unmapped between pre-copy rounds are dropped).
     */
    public List<PageSlice> within(List<VmaImage> vmas) {
        return within(vmas, v -> false);
    }

    /**
     * As {@link #within}, less the placed slices in the areas {@code kept} says the prepared stub
     * keeps as placed (only with placement tracked).
     */
    public List<PageSlice> withinUnplaced(List<VmaImage> vmas, java.util.function.Predicate<VmaImage> kept) {
        if (unplaced == null) {
            throw new IllegalStateException("placement is not tracked");
        }
        return within(vmas, kept);
    }

    private List<PageSlice> within(List<VmaImage> vmas, java.util.function.Predicate<VmaImage> kept) {
        List<VmaImage> sorted = new ArrayList<>(vmas);
        sorted.sort(Comparator.comparingLong(VmaImage::start));
        List<PageSlice> out = new ArrayList<>();
        for (VmaImage v : sorted) {
            if (!v.kind().takesPages()) {
                continue;
            }
            TreeMap<Long, PageSlice> from = kept.test(v) ? unplaced : live;
            Map.Entry<Long, PageSlice> before = from.lowerEntry(v.start());
            if (before != null && before.getValue().end() > v.start()) {
                out.add(before.getValue().within(v.start(), v.end()));
            }
            for (PageSlice s : from.subMap(v.start(), true, v.end(), false).values()) {
                out.add(s.end() <= v.end() ? s : s.within(v.start(), v.end())); // whole slices are kept as they are
            }
        }
        return out;
    }
}
