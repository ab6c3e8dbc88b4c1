package dev.cryo.actors.cluster;

import dev.cryo.engine.image.Delivery;

import java.io.Flushable;
import java.io.IOException;
import java.time.Duration;

/**
 * The sending end's view of what the receiving agent has taken in: the receiver answers on the page
 * channel's back direction with 8-byte counts (big-endian, growing) of the image bytes it has
 * checked, stored and placed, each time it has read all there is (see ImageArrival). {@link #await}
 * is where a migration's pre-copy round ends.
 */
final class Receipts implements Delivery {
    static final int SIZE = Long.BYTES;

    private final Flushable out;
    private final Duration bound;
    private long taken;
    private String failure;

    /** {@code out}: pushes out what the image's sender holds; {@code bound}: the longest wait for a receipt. */
    Receipts(Flushable out, Duration bound) {
        this.out = out;
        this.bound = bound;
    }

    /** A receipt from the receiver. */
    synchronized void taken(long bytes) {
        taken = Math.max(taken, bytes);
        notifyAll();
    }

    /** The back direction ended: no more receipts (a failure wakes whoever waits). */
    synchronized void ended(String failure) {
        this.failure = failure == null ? "the page channel closed" : failure;
        notifyAll();
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }

    @Override
    public synchronized void await(long bytes) throws IOException {
        long deadline = System.nanoTime() + bound.toNanos();
        try {
            while (taken < bytes && failure == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return; // late, not lost: the bytes still arrive; the round just ends without them
                }
                wait(Math.max(1, left / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for the page channel's receipt");
        }
        if (taken < bytes) {
            throw new IOException("the page channel failed: " + failure);
        }
    }
}
