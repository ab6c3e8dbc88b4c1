package dev.cryo.engine.image;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PageBuffersTest {
    /** Sizes that are not whole pages too: a chunk of a stream has any length (alignedSlice rounds its end down). */
    @Test
    void everySizeGetsExactlyItsCapacityStartingOnAPage() {
        for (int size : new int[] {1, 40, 4095, 4096, 4097, 65536, 372764, (4 << 20) - 1, 4 << 20}) {
            ByteBuffer b = PageBuffers.allocate(size);
            assertEquals(size, b.capacity(), "capacity of " + size);
            assertTrue(b.isDirect());
            assertEquals(0, b.alignmentOffset(0, PageBuffers.PAGE), "start of a buffer of " + size);
            b.put(size - 1, (byte) 7); // the whole capacity is usable
        }
    }
}
