package dev.cryo.engine.dump;

/**
 * What a dump did: how long the tree was frozen, pages considered, skipped (absent), written and
 * recorded as zero, bytes in the image, and the page throughput while copying.
 */
public record DumpStats(int tasks, int threads, long frozenMillis, long totalMillis, long pagesScanned,
                        long pagesSkipped, long pagesWritten, long zeroPages, long imageBytes, long copyMillis) {
    public double pageMegabytesPerSecond() {
        return copyMillis <= 0 ? 0 : (pagesWritten * 4096.0 / (1 << 20)) / (copyMillis / 1000.0);
    }
}
