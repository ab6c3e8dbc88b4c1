package dev.cryo.engine.restore;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/** A fill chunk's source buffer holds its byte over as many bytes as asked, and only those are written. */
class PageFillTest {
    private static void assertHolds(ByteBuffer b, int len, int value) {
        for (int i = 0; i < len; i++) {
            assertEquals((byte) value, b.get(i), "byte " + i);
        }
    }

    @Test
    void theBytesAskedForHoldTheFillByteWhateverCameBefore() {
        PageFill fill = new PageFill();
        assertHolds(fill.of((byte) 1, 4096), 4096, 1);
        assertEquals(0, fill.of((byte) 1, 4096).get(4096), "one page asked: the rest of the MiB not written");
        assertHolds(fill.of((byte) 1, 3 * 4096), 3 * 4096, 1);
        assertHolds(fill.of((byte) 0xff, 4096), 4096, 0xff);
        assertHolds(fill.of((byte) 0xff, PageFill.SPAN), PageFill.SPAN, 0xff);
        assertHolds(fill.of((byte) 1, 2 * 4096), 2 * 4096, 1);
        assertEquals((byte) 0xff, fill.of((byte) 1, 2 * 4096).get(2 * 4096));
        assertHolds(fill.of((byte) 1, PageFill.SPAN), PageFill.SPAN, 1);
    }
}
