package dev.cryo.engine.image;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A read-only window of an image file mapped into memory, moved along as chunks are asked for,
 * so page data is checksummed and handed to process_vm_writev where it lies (no copy into a
 * buffer first). The window is unmapped as soon as it moves or closes, never left to the garbage
 * collector, so the pages of the file cryo has touched stay bounded (they count in its RSS while
 * mapped). A slice is valid only until the next {@link #slice} or {@link #close}.
 */
final class MappedWindow implements AutoCloseable {
    static final long DEFAULT_SIZE = 32L << 20;
    private static final sun.misc.Unsafe UNSAFE = unsafe();

    private final FileChannel channel;
    private final long size;
    private MappedByteBuffer map;
    private long start;
    private long end;

    MappedWindow(FileChannel channel, long size) {
        this.channel = channel;
        this.size = size;
    }

    /** [offset, offset + length) of the file; the caller checked that it lies within the file. */
    ByteBuffer slice(long offset, int length) throws IOException {
        if (map == null || offset < start || offset + length > end) {
            release();
            start = offset & ~4095L;
            end = Math.min(channel.size(), Math.max(start + size, offset + length));
            if (offset + length > end) {
                throw new ImageCorruptException("chunk at offset " + offset + " runs past the end of the file");
            }
            map = channel.map(FileChannel.MapMode.READ_ONLY, start, end - start);
        }
        return map.slice((int) (offset - start), length).order(ImageFormat.ORDER);
    }

    /** Whether [offset, offset + length) lies in the mapped window: a {@link #slice} of it leaves earlier slices valid. */
    boolean holds(long offset, int length) {
        return map != null && offset >= start && offset + length <= end;
    }

    private void release() {
        if (map != null) {
            MappedByteBuffer m = map;
            map = null;
            UNSAFE.invokeCleaner(m);
        }
    }

    @Override
    public void close() {
        release();
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
