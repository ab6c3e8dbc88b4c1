package dev.cryo.engine.dump;

import java.util.Arrays;
import java.util.function.BiConsumer;

/**
 * A set of address ranges, disjoint, merged and in address order, kept as one array of
 * start, end pairs. Page-table scans report ranges in address order, so sets are built by
 * appending and combined by one linear merge: a pre-copy's frozen round handles tens of
 * thousands of ranges for a GiB (bigmem's pattern), which a tree of boxed entries made a
 * good part of the freeze.
 */
public final class PageRanges {
    public static final PageRanges EMPTY = new PageRanges(new long[0], 0);

    private final long[] r; // start0, end0, start1, end1, ...
    private final int n; // ranges

    private PageRanges(long[] r, int n) {
        this.r = r;
        this.n = n;
    }

    public int size() {
        return n;
    }

    public boolean isEmpty() {
        return n == 0;
    }

    public long start(int i) {
        return r[2 * i];
    }

    public long end(int i) {
        return r[2 * i + 1];
    }

    public void forEach(BiConsumer<Long, Long> f) {
        for (int i = 0; i < n; i++) {
            f.accept(r[2 * i], r[2 * i + 1]);
        }
    }

    /** Total length of the ranges. */
    public long length() {
        long s = 0;
        for (int i = 0; i < n; i++) {
            s += r[2 * i + 1] - r[2 * i];
        }
        return s;
    }

    /** The part of this set inside [start, end). */
    public PageRanges within(long start, long end) {
        int i = firstEndingAfter(start);
        Builder b = new Builder();
        for (; i < n && r[2 * i] < end; i++) {
            b.add(Math.max(start, r[2 * i]), Math.min(end, r[2 * i + 1]));
        }
        return b.build();
    }

    /** Whether any range meets [start, end). */
    public boolean meets(long start, long end) {
        int i = firstEndingAfter(start);
        return i < n && r[2 * i] < end;
    }

    /** Index of the first range whose end is after {@code at} (binary search). */
    private int firstEndingAfter(long at) {
        int lo = 0, hi = n;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (r[2 * mid + 1] <= at) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    public PageRanges union(PageRanges o) {
        if (o.n == 0) {
            return this;
        }
        if (n == 0) {
            return o;
        }
        Builder b = new Builder(n + o.n);
        int i = 0, j = 0;
        while (i < n || j < o.n) {
            if (j >= o.n || (i < n && r[2 * i] <= o.r[2 * j])) {
                b.add(r[2 * i], r[2 * i + 1]);
                i++;
            } else {
                b.add(o.r[2 * j], o.r[2 * j + 1]);
                j++;
            }
        }
        return b.build();
    }

    public PageRanges intersect(PageRanges o) {
        Builder b = new Builder();
        int i = 0, j = 0;
        while (i < n && j < o.n) {
            long s = Math.max(r[2 * i], o.r[2 * j]);
            long e = Math.min(r[2 * i + 1], o.r[2 * j + 1]);
            if (s < e) {
                b.add(s, e);
            }
            if (r[2 * i + 1] < o.r[2 * j + 1]) {
                i++;
            } else {
                j++;
            }
        }
        return b.build();
    }

    /** This set without the ranges of {@code o}. */
    public PageRanges minus(PageRanges o) {
        if (n == 0 || o.n == 0) {
            return this;
        }
        Builder b = new Builder(n);
        int j = 0;
        for (int i = 0; i < n; i++) {
            long s = r[2 * i], e = r[2 * i + 1];
            while (j < o.n && o.r[2 * j + 1] <= s) {
                j++;
            }
            int k = j;
            while (s < e && k < o.n && o.r[2 * k] < e) {
                if (o.r[2 * k] > s) {
                    b.add(s, o.r[2 * k]);
                }
                s = Math.max(s, o.r[2 * k + 1]);
                k++;
            }
            if (s < e) {
                b.add(s, e);
            }
        }
        return b.build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PageRanges p && p.n == n && Arrays.equals(r, 0, 2 * n, p.r, 0, 2 * n);
    }

    @Override
    public int hashCode() {
        int h = n;
        for (int i = 0; i < 2 * n; i++) {
            h = 31 * h + Long.hashCode(r[i]);
        }
        return h;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("{");
        for (int i = 0; i < n; i++) {
            s.append(i == 0 ? "" : ", ").append(r[2 * i]).append('=').append(r[2 * i + 1]);
        }
        return s.append('}').toString();
    }

    /**
     * Collects ranges; touching and overlapping ones merge. Appending in address order is a
     * constant-time step; ranges out of order are sorted once, at {@link #build}.
     */
    public static final class Builder {
        private long[] r;
        private int n;
        private boolean sorted = true;

        public Builder() {
            this(16);
        }

        public Builder(int capacity) {
            r = new long[2 * Math.max(4, capacity)];
        }

        public Builder add(long start, long end) {
            if (start >= end) {
                return this;
            }
            if (n > 0) {
                long lastStart = r[2 * n - 2], lastEnd = r[2 * n - 1];
                if (start >= lastStart && start <= lastEnd) {
                    r[2 * n - 1] = Math.max(lastEnd, end);
                    return this;
                }
                if (start < lastStart) {
                    sorted = false;
                }
            }
            if (2 * n + 2 > r.length) {
                r = Arrays.copyOf(r, r.length * 2);
            }
            r[2 * n] = start;
            r[2 * n + 1] = end;
            n++;
            return this;
        }

        public boolean isEmpty() {
            return n == 0;
        }

        public PageRanges build() {
            if (sorted) {
                return new PageRanges(r, n);
            }
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Long.compare(r[2 * a], r[2 * b]));
            Builder b = new Builder(n);
            for (int i : order) {
                b.add(r[2 * i], r[2 * i + 1]);
            }
            return b.build();
        }
    }
}
