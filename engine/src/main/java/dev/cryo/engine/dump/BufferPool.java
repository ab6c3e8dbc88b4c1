package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A bounded set of direct buffers shared by the page copiers and the image writer. A copier that
 * finds none free waits: this is the back-pressure that keeps cryo's memory flat whatever the
 * size of the target (buffers × size, e.g. 16 × 4 MiB). Buffers are allocated on first need, so
 * a small dump does not pay (while the tree is frozen) for zeroing 64 MiB it never uses.
 */
public final class BufferPool {
    private final BlockingQueue<ByteBuffer> free;
    private final int bufferSize;
    private final int count;
    private int allocated;
    private volatile String cancelled;

    public BufferPool(int count, int bufferSize) {
        this.free = new ArrayBlockingQueue<>(count);
        this.bufferSize = bufferSize;
        this.count = count;
    }

    public int bufferSize() {
        return bufferSize;
    }

    public int count() {
        return count;
    }

    /** Buffers that can be had without waiting: free ones plus those not allocated yet. */
    public synchronized int available() {
        return free.size() + count - allocated;
    }

    /** A free buffer, or null at once when none is (the caller has pages of its own to write first). */
    public ByteBuffer tryAcquire() {
        if (cancelled != null) {
            throw new DumpException("the dump was given up (" + cancelled + ")");
        }
        ByteBuffer b = free.poll();
        if (b == null) {
            b = allocateIfBelowBound();
        }
        return b == null ? null : b.clear();
    }

    public ByteBuffer acquire(long timeoutMillis) throws InterruptedException {
        ByteBuffer b = free.poll();
        if (b == null) {
            b = allocateIfBelowBound();
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (b == null && cancelled == null && System.nanoTime() < deadline) {
            // in slices: a cancelled dump must not leave copiers parked until the timeout
            b = free.poll(Math.min(50_000_000L, Math.max(0, deadline - System.nanoTime())), TimeUnit.NANOSECONDS);
        }
        if (cancelled != null) {
            if (b != null) {
                free.offer(b);
            }
            throw new DumpException("the dump was given up (" + cancelled + ")");
        }
        if (b == null) {
            throw new DumpException("no page buffer came back from the image writer within " + timeoutMillis
                    + " ms: the writer is stuck or failed");
        }
        return b.clear();
    }

    /**
     * Allocates (and zeroes) up to {@code n} buffers now, before the tree is frozen, so the
     * frozen window does not pay for them; the rest still come on first need.
     */
    public synchronized void preallocate(int n) {
        while (allocated < Math.min(n, count)) {
            allocated++;
            free.add(dev.cryo.engine.image.PageBuffers.allocate(bufferSize));
        }
    }

    private synchronized ByteBuffer allocateIfBelowBound() {
        if (allocated >= count) {
            return null;
        }
        allocated++;
        return dev.cryo.engine.image.PageBuffers.allocate(bufferSize);
    }

    /** Wakes every copier waiting for a buffer with a failure: the dump is over. */
    public void cancel(String why) {
        cancelled = why;
    }

    public void release(ByteBuffer b) {
        if (b.capacity() != bufferSize || !free.offer(b)) {
            throw new IllegalStateException("buffer released twice or not from this pool");
        }
    }
}
