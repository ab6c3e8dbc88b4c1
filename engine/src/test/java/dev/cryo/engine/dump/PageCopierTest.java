package dev.cryo.engine.dump;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** Which pages hold one byte repeated: a page differing in its last byte, or only after its first eight, does not. */
class PageCopierTest {
    private static final int PAGE = 4096;

    @Test
    void aPageIsOneByteOnlyWhenEveryByteIsThatByte() {
        ByteBuffer b = ByteBuffer.allocateDirect(5 * PAGE);
        for (int i = 0; i < 5 * PAGE; i++) {
            b.put(i, (byte) 0xcc);
        }
        b.put(PAGE + PAGE - 1, (byte) 0xcd);
        b.put(2 * PAGE + 8, (byte) 0);
        for (int i = 3 * PAGE; i < 4 * PAGE; i++) {
            b.put(i, (byte) 0);
        }
        assertEquals(0xcc, PageCopier.oneByte(b, 0));
        assertEquals(PageCopier.Segment.DATA, PageCopier.oneByte(b, PAGE));
        assertEquals(PageCopier.Segment.DATA, PageCopier.oneByte(b, 2 * PAGE));
        assertEquals(0, PageCopier.oneByte(b, 3 * PAGE));
        b.put(4 * PAGE + 3, (byte) 1);
        assertEquals(PageCopier.Segment.DATA, PageCopier.oneByte(b, 4 * PAGE));
    }
}
