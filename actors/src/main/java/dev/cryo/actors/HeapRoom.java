package dev.cryo.actors;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryUsage;

/**
 * Room in cryo's own young generation before a freeze, so that no collection pauses the frozen
 * window. An agent receiving or sending a GiB allocates its way through eden every few seconds, and
 * a young pause on a loaded 2-core host took 100-560 ms of wall time (G1, load 15-19, measured with
 * -Xlog:gc); one landing in a migration's frozen window is downtime. Called while the tree still
 * runs: when eden is more than half full, it is collected now. A young collection, not
 * {@link System#gc()}: that is a full one, and G1 shrinks the heap after it (a smaller eden, more
 * pauses). Java has no call for a young collection alone, so eden is filled with short-lived
 * arrays until its collector has run once (bounded by eden's size). Nothing happens with a
 * collector without an eden (ZGC, Shenandoah: no young pauses to avoid).
 */
public final class HeapRoom {
    private static final int CHUNK = 256 * 1024; // below G1's humongous size (half a region, 1 MiB at least)
    /** Keeps the arrays from being optimised away. */
    @SuppressWarnings("unused")
    private static volatile byte[] sink;

    private HeapRoom() {}

    /** Collects the young generation when its eden is more than half used; says whether it did. */
    public static synchronized boolean make() {
        MemoryPoolMXBean eden = null;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getName().contains("Eden")) {
                eden = p;
            }
        }
        GarbageCollectorMXBean young = youngCollector();
        if (eden == null || young == null) {
            return false;
        }
        MemoryUsage u = eden.getUsage();
        if (u.getCommitted() <= 0 || u.getUsed() * 2 < u.getCommitted()) {
            return false;
        }
        long before = young.getCollectionCount();
        long budget = 2 * u.getCommitted() + CHUNK;
        for (long allocated = 0; young.getCollectionCount() == before && allocated < budget; allocated += CHUNK) {
            sink = new byte[CHUNK];
        }
        sink = null;
        return young.getCollectionCount() != before;
    }

    /**
     * The collector of the young generation: HotSpot lists it first among those that manage eden
     * (G1 Young Generation, Copy, PS Scavenge; G1's young collector names the old pool too).
     */
    private static GarbageCollectorMXBean youngCollector() {
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            for (String pool : gc.getMemoryPoolNames()) {
                if (pool.contains("Eden")) {
                    return gc;
                }
            }
        }
        return null;
    }
}
