package dev.cryo.engine.dump;

import org.junit.jupiter.api.Test;

import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** The page range sets pre-copy keeps of what it sent. */
class PageRangeSetTest {
    @Test
    void addMergesTouchingAndOverlappingRanges() {
        TreeMap<Long, Long> s = new TreeMap<>();
        PreCopyTracker.add(s, 10, 20);
        PreCopyTracker.add(s, 30, 40);
        PreCopyTracker.add(s, 20, 25);
        PreCopyTracker.add(s, 24, 31);
        assertEquals("{10=40}", s.toString());
        PreCopyTracker.add(s, 50, 60);
        PreCopyTracker.add(s, 5, 55);
        assertEquals("{5=60}", s.toString());
    }

    @Test
    void removeCutsHolesAndEnds() {
        TreeMap<Long, Long> s = new TreeMap<>();
        PreCopyTracker.add(s, 10, 40);
        PreCopyTracker.add(s, 50, 60);
        PreCopyTracker.remove(s, 20, 30);
        assertEquals("{10=20, 30=40, 50=60}", s.toString());
        PreCopyTracker.remove(s, 35, 55);
        assertEquals("{10=20, 30=35, 55=60}", s.toString());
        PreCopyTracker.remove(s, 0, 100);
        assertTrue(s.isEmpty());
    }

    @Test
    void intersectClipsToTheWindow() {
        TreeMap<Long, Long> s = new TreeMap<>();
        PreCopyTracker.add(s, 10, 20);
        PreCopyTracker.add(s, 30, 40);
        assertEquals("{15=20, 30=35}", PreCopyTracker.intersect(s, 15, 35).toString());
        assertEquals("{}", PreCopyTracker.intersect(s, 20, 30).toString());
    }
}
