package dev.cryo.engine.restore;

import dev.cryo.engine.image.PageBuffers;

import java.nio.ByteBuffer;

/**
 * The source of a fill chunk's pages (each holds one byte repeated): a buffer of that byte, written
 * over and over, so that the image carries one byte however many pages there are. One per writer.
 */
final class PageFill {
    /** Bytes written by one call: big enough that the calls cost nothing beside faulting the pages in. */
    static final int SPAN = 1 << 20;

    private ByteBuffer buffer;
    private int value = -1;
    /** How many of the buffer's first bytes hold {@link #value}: a page of one byte need not cost a MiB. */
    private int filled;

    /** The buffer, its first {@code len} bytes (at most {@link #SPAN}, a multiple of 8) {@code b}. */
    ByteBuffer of(byte b, int len) {
        if (buffer == null) {
            buffer = PageBuffers.allocate(SPAN);
        }
        if (value != (b & 0xff)) {
            value = b & 0xff;
            filled = 0;
        }
        if (filled < len) {
            long ones = (b & 0xffL) * 0x0101010101010101L;
            for (int i = filled; i < len; i += 8) {
                buffer.putLong(i, ones);
            }
            filled = len;
        }
        return buffer;
    }

    /** Writes {@code bytes} of {@code b} at {@code address}, {@link #SPAN} at a time through {@code write}. */
    <X extends Exception> void write(long address, long bytes, byte b, SpanWriter<X> write) throws X {
        ByteBuffer src = of(b, (int) Math.min(SPAN, bytes));
        for (long done = 0; done < bytes; done += SPAN) {
            write.write(address + done, src, (int) Math.min(SPAN, bytes - done));
        }
    }

    interface SpanWriter<X extends Exception> {
        void write(long address, ByteBuffer src, int len) throws X;
    }
}
