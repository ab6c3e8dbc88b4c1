package dev.cryo.engine.dump;

/**
 * What a dump did: how long the tree was frozen, pages considered, skipped (absent), written (with
 * their bytes), zero (left out, or recorded as zero where one hides a file's bytes or an earlier
 * round's copy), filled (one other byte repeated, recorded as that byte), bytes in the image, and the
 * page throughput while copying.
 */
public record DumpStats(int tasks, int threads, long frozenMillis, long totalMillis, long pagesScanned,
                        long pagesSkipped, long pagesWritten, long zeroPages, long filledPages, long imageBytes,
                        long copyMillis) {
    public double pageMegabytesPerSecond() {
        return copyMillis <= 0 ? 0 : (pagesWritten * 4096.0 / (1 << 20)) / (copyMillis / 1000.0);
    }
}
