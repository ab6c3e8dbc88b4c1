package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A fixed set of direct buffers shared by the page copiers and the image writer. A copier that
 * finds none free waits: this is the back-pressure that keeps cryo's memory flat whatever the
 * size of the target (buffers × size, e.g. 16 × 4 MiB).
 */
public final class BufferPool {
    private final BlockingQueue<ByteBuffer> free;
    private final int bufferSize;
    private final int count;

    public BufferPool(int count, int bufferSize) {
        this.free = new ArrayBlockingQueue<>(count);
        this.bufferSize = bufferSize;
        this.count = count;
        for (int i = 0; i < count; i++) {
            free.add(ByteBuffer.allocateDirect(bufferSize));
        }
    }

    public int bufferSize() {
        return bufferSize;
    }

    public int count() {
        return count;
    }

    public int available() {
        return free.size();
    }

    public ByteBuffer acquire(long timeoutMillis) throws InterruptedException {
        ByteBuffer b = free.poll(timeoutMillis, TimeUnit.MILLISECONDS);
        if (b == null) {
            throw new DumpException("no page buffer came back from the image writer within " + timeoutMillis
                    + " ms: the writer is stuck or failed");
        }
        return b.clear();
    }

    public void release(ByteBuffer b) {
        if (b.capacity() != bufferSize || !free.offer(b)) {
            throw new IllegalStateException("buffer released twice or not from this pool");
        }
    }
}
