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

    /** The next chunk of the task, in image order: its pages replace any earlier copy. */
    public void add(IndexEntry e) {
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
    }

    /** Replaces old (already in live) by what is left of it outside next. */
    private void cut(PageSlice old, PageSlice next) {
        live.remove(old.address());
        PageSlice left = old.within(old.address(), next.address());
        PageSlice right = old.within(next.end(), old.end());
        if (left != null) {
            live.put(left.address(), left);
        }
        if (right != null) {
            live.put(right.address(), right);
        }
    }

    /**
     * The pages to write, in address order: the latest slices cut to the task's final mappings that
     * take page data (pages of memory unmapped between pre-copy rounds are dropped).
     */
    public List<PageSlice> within(List<VmaImage> vmas) {
        List<VmaImage> sorted = new ArrayList<>(vmas);
        sorted.sort(Comparator.comparingLong(VmaImage::start));
        List<PageSlice> out = new ArrayList<>();
        for (VmaImage v : sorted) {
            if (!v.kind().takesPages()) {
                continue;
            }
            Map.Entry<Long, PageSlice> before = live.lowerEntry(v.start());
            if (before != null && before.getValue().end() > v.start()) {
                out.add(before.getValue().within(v.start(), v.end()));
            }
            for (PageSlice s : live.subMap(v.start(), true, v.end(), false).values()) {
                out.add(s.end() <= v.end() ? s : s.within(v.start(), v.end())); // whole slices are kept as they are
            }
        }
        return out;
    }
}
