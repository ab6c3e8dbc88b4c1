package dev.cryo.kernel;

import com.sun.jna.Memory;

/** A reusable native array of {@code struct iovec} for batched process_vm_readv/writev. */
public final class IoVecs {
    /** The kernel's UIO_MAXIOV: no call may carry more ranges. */
    public static final int MAX = 1024;

    private final Memory memory;
    private final int capacity;
    private int count;

    public IoVecs(int capacity) {
        if (capacity < 1 || capacity > MAX) {
            throw new IllegalArgumentException("iovec count " + capacity + " outside 1.." + MAX);
        }
        this.capacity = capacity;
        this.memory = new Memory(16L * capacity);
    }

    public void set(int i, long base, long len) {
        memory.setLong(16L * i, base);
        memory.setLong(16L * i + 8, len);
    }

    public long base(int i) {
        return memory.getLong(16L * i);
    }

    public long length(int i) {
        return memory.getLong(16L * i + 8);
    }

    public int capacity() {
        return capacity;
    }

    public int count() {
        return count;
    }

    public void count(int n) {
        if (n < 0 || n > capacity) {
            throw new IllegalArgumentException("iovec count " + n + " outside 0.." + capacity);
        }
        count = n;
    }

    Memory memory() {
        return memory;
    }
}
