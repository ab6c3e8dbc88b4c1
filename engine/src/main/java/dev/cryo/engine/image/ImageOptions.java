package dev.cryo.engine.image;

import dev.cryo.config.Compression;

/**
 * Writer settings. Immutable; use the withers on {@link #defaults()}.
 *
 * @param compression    how page chunks are stored
 * @param zstdLevel      zstd level when compression is ZSTD (1 = fastest)
 * @param fsync          force data and directory to disk at commit; off only for tests/benchmarks
 * @param pageSize       bytes per page, recorded in the file header
 * @param maxChunkLength bound on any single chunk payload (records, page batches, the index)
 */
public record ImageOptions(Compression compression, int zstdLevel, boolean fsync, int pageSize, long maxChunkLength) {

    public ImageOptions {
        if (compression == null) throw new IllegalArgumentException("compression is null");
        if (pageSize < 512 || pageSize > (1 << 24) || Integer.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a power of two in 512..16M");
        }
        if (maxChunkLength < pageSize || maxChunkLength > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("max chunk length " + maxChunkLength + " out of range");
        }
    }

    public static ImageOptions defaults() {
        return new ImageOptions(Compression.NONE, 3, true, 4096, ImageFormat.DEFAULT_MAX_CHUNK);
    }

    public ImageOptions withCompression(Compression c, int level) {
        return new ImageOptions(c, level, fsync, pageSize, maxChunkLength);
    }

    public ImageOptions withFsync(boolean f) {
        return new ImageOptions(compression, zstdLevel, f, pageSize, maxChunkLength);
    }

    public ImageOptions withPageSize(int p) {
        return new ImageOptions(compression, zstdLevel, fsync, p, maxChunkLength);
    }

    public ImageOptions withMaxChunkLength(long m) {
        return new ImageOptions(compression, zstdLevel, fsync, pageSize, m);
    }
}
