package dev.cryo.kernel;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The robust list walked the way the kernel walks it at a thread's exit, over a made-up memory. */
class RobustListTest {
    private static final long HEAD = 0x1000, OFFSET = -32;

    private static RobustList.Memory memory(Map<Long, Long> words) {
        return (at, count) -> {
            long[] w = new long[count];
            for (int i = 0; i < count; i++) {
                Long v = words.get(at + 8L * i);
                if (v == null) {
                    throw new KernelException("unreadable 0x" + Long.toHexString(at + 8L * i));
                }
                w[i] = v;
            }
            return w;
        };
    }

    private static Map<Long, Long> list(long pending, long... entries) {
        Map<Long, Long> m = new HashMap<>();
        m.put(HEAD + 8, OFFSET);
        m.put(HEAD + 16, pending);
        long prev = HEAD;
        for (long e : entries) {
            m.put(prev, e);
            prev = e & ~1L;
        }
        m.put(prev, HEAD);
        return m;
    }

    @Test
    void anEmptyListPointsAtItsHead() {
        assertEquals(List.of(), RobustList.futexes(HEAD, memory(list(0))));
        assertEquals(List.of(), RobustList.futexes(0, memory(Map.of())));
    }

    @Test
    void eachEntryGivesItsFutexAtTheOffsetAndThePiBitIsNoAddressBit() {
        assertEquals(List.of(0x2000 + OFFSET, 0x3000 + OFFSET),
                RobustList.futexes(HEAD, memory(list(0, 0x2000, 0x3001))));
    }

    @Test
    void thePendingEntryComesLastAndOnce() {
        assertEquals(List.of(0x2000 + OFFSET, 0x3000 + OFFSET),
                RobustList.futexes(HEAD, memory(list(0x3000, 0x3000, 0x2000))));
        assertEquals(List.of(0x4000 + OFFSET), RobustList.futexes(HEAD, memory(list(0x4001))));
    }

    @Test
    void anUnreadableEntryEndsTheWalkAfterItsFutexAndALoopEndsAtTheKernelsLimit() {
        Map<Long, Long> broken = list(0, 0x2000);
        broken.remove(0x2000L);
        assertEquals(List.of(0x2000 + OFFSET), RobustList.futexes(HEAD, memory(broken)));
        Map<Long, Long> loop = list(0, 0x2000);
        loop.put(0x2000L, 0x2000L);
        assertEquals(RobustList.LIMIT, RobustList.futexes(HEAD, memory(loop)).size());
    }
}
