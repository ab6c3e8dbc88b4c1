package dev.cryo.engine.restore;

import dev.cryo.engine.memory.MemoryKinds;
import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.engine.model.VmaImage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The root's stub as {@link ArrivingMemory} left it: spawned with the root's pid, holding private
 * anonymous areas ({@code placed}: start → end) with the pages of the chunks placed as they arrived
 * already in them ({@link LatestPages} knows which), and a bootstrap area mapped at {@code bootstrap}
 * (0: none). The restore adopts it instead of spawning a stub, keeps the areas the task record has
 * exactly as they were placed, skips the pages already there, and uses that bootstrap area when no
 * VMA of the image is in its way (else it goes at the adoption). {@code held}: the thread that kept the
 * stub warm since the source froze and still holds it seized, for the restore to {@link StubKeptWarm#take}
 * (null: the stub sleeps, untraced or soon).
 */
public record PreparedRoot(int pid, boolean sessionLeader, boolean execed, Map<Long, Long> placed, long placedPages,
                           long bootstrap, StubKeptWarm held) {
    /**
     * The area is kept when the task has it exactly as placed, and as a fresh mapping would be:
     * private anonymous memory (or the heap), read-write, charged for writing, not growing down.
     */
    public boolean keeps(VmaImage v) {
        Long end = placed.get(v.start());
        return end != null && end == v.end()
                && (v.kind() == MemoryKinds.ANON || v.kind() == MemoryKinds.HEAP)
                && v.prot() == (VmaImage.PROT_READ | VmaImage.PROT_WRITE)
                && (v.flags() & VmaImage.MAP_GROWSDOWN) == 0
                && (v.advice() & VmAdvice.ACCOUNTED) != 0 && (v.advice() & VmAdvice.NORESERVE) == 0;
    }

    /** The areas of {@code vmas} that are kept, as start, end pairs in address order. */
    public List<long[]> kept(List<VmaImage> vmas) {
        List<long[]> out = new ArrayList<>();
        for (VmaImage v : vmas) {
            if (keeps(v)) {
                out.add(new long[] {v.start(), v.end()});
            }
        }
        out.sort((a, b) -> Long.compare(a[0], b[0]));
        return out;
    }
}
