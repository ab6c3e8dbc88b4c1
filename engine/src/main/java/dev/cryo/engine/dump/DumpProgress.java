package dev.cryo.engine.dump;

import java.util.concurrent.atomic.AtomicLong;

/** Page counters a progress bar polls while the copiers work. Thread-safe, lock-free. */
public final class DumpProgress {
    private final AtomicLong total = new AtomicLong();
    private final AtomicLong done = new AtomicLong();

    public void pagesPlanned(long pages) {
        total.addAndGet(pages);
    }

    public void pagesDone(long pages) {
        done.addAndGet(pages);
    }

    public long total() {
        return total.get();
    }

    public long done() {
        return done.get();
    }
}
