package dev.cryo.actors;

import org.junit.jupiter.api.Test;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** HeapRoom empties a more than half-full eden with one young collection, and leaves a fresh one alone. */
class HeapRoomTest {
    private static MemoryPoolMXBean eden() {
        return ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getName().contains("Eden")).findFirst().orElse(null);
    }

    private static long collections() {
        return ManagementFactory.getGarbageCollectorMXBeans().stream().mapToLong(GarbageCollectorMXBean::getCollectionCount).sum();
    }

    @Test
    void aHalfFullEdenIsCollectedOnceAndAFreshOneIsLeftAlone() {
        MemoryPoolMXBean eden = eden();
        assumeTrue(eden != null, "this JVM's collector has no eden");
        byte[][] garbage = new byte[16][];
        for (long i = 0; i < 1_000_000 && eden.getUsage().getUsed() * 2 < eden.getUsage().getCommitted(); i++) {
            garbage[(int) (i % garbage.length)] = new byte[64 * 1024]; // a collection meanwhile only makes it go on
        }
        assertTrue(eden.getUsage().getUsed() * 2 >= eden.getUsage().getCommitted(), "eden filled past half: " + eden.getUsage());
        long before = collections();
        assertTrue(HeapRoom.make(), "a young collection ran: " + eden.getUsage());
        assertTrue(collections() > before);
        assertTrue(eden.getUsage().getUsed() * 2 < eden.getUsage().getCommitted(), "eden has room now: " + eden.getUsage());
        long after = collections();
        assertFalse(HeapRoom.make(), "nothing to do with room in eden");
        assertEquals(after, collections());
    }
}
