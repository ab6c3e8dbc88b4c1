package dev.cryo.engine.dump;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/** The page range sets pre-copy keeps of what it sent and finds frozen. */
class PageRangeSetTest {
    private static PageRanges of(long... pairs) {
        PageRanges.Builder b = new PageRanges.Builder();
        for (int i = 0; i < pairs.length; i += 2) {
            b.add(pairs[i], pairs[i + 1]);
        }
        return b.build();
    }

    @Test
    void addMergesTouchingAndOverlappingRanges() {
        assertEquals("{10=40}", of(10, 20, 30, 40, 20, 25, 24, 31).toString());
        assertEquals("{5=60}", of(10, 20, 30, 40, 20, 25, 24, 31, 50, 60, 5, 55).toString());
        assertEquals("{1=2, 3=4}", of(3, 4, 1, 2, 2, 2).toString(), "out of order, empty ranges dropped");
    }

    @Test
    void minusCutsHolesAndEnds() {
        PageRanges s = of(10, 40, 50, 60);
        assertEquals("{10=20, 30=40, 50=60}", s.minus(of(20, 30)).toString());
        assertEquals("{10=20, 30=35, 55=60}", s.minus(of(20, 30, 35, 55)).toString());
        assertTrue(s.minus(of(0, 100)).isEmpty());
        assertEquals(s, s.minus(of(0, 10, 40, 50, 60, 70)));
    }

    @Test
    void withinClipsToTheWindow() {
        PageRanges s = of(10, 20, 30, 40);
        assertEquals("{15=20, 30=35}", s.within(15, 35).toString());
        assertEquals("{}", s.within(20, 30).toString());
        assertFalse(s.meets(20, 30));
        assertTrue(s.meets(39, 50));
    }

    @Test
    void unionAndIntersectMatchPageByPageSets() {
        Random rnd = new Random(7);
        for (int round = 0; round < 200; round++) {
            TreeSet<Long> a = new TreeSet<>(), b = new TreeSet<>();
            PageRanges ra = random(rnd, a), rb = random(rnd, b);
            TreeSet<Long> u = new TreeSet<>(a);
            u.addAll(b);
            TreeSet<Long> x = new TreeSet<>(a);
            x.retainAll(b);
            TreeSet<Long> d = new TreeSet<>(a);
            d.removeAll(b);
            assertEquals(u, pages(ra.union(rb)));
            assertEquals(x, pages(ra.intersect(rb)));
            assertEquals(d, pages(ra.minus(rb)));
        }
    }

    private static PageRanges random(Random rnd, TreeSet<Long> pages) {
        PageRanges.Builder b = new PageRanges.Builder();
        for (int i = rnd.nextInt(6); i > 0; i--) {
            long s = rnd.nextInt(60), e = s + rnd.nextInt(8);
            b.add(s, e);
            for (long p = s; p < e; p++) {
                pages.add(p);
            }
        }
        return b.build();
    }

    private static TreeSet<Long> pages(PageRanges r) {
        TreeSet<Long> out = new TreeSet<>();
        r.forEach((s, e) -> {
            for (long p = s; p < e; p++) {
                out.add(p);
            }
        });
        for (int i = 1; i < r.size(); i++) {
            assertTrue(r.start(i) > r.end(i - 1), "disjoint, merged, in order: " + r);
        }
        return out;
    }
}
