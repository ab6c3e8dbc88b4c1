package dev.cryo.engine.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Writes into a file's page cache in pieces of at most {@link #PIECE} bytes, cut at its multiples.
 * The kernel sizes each new page cache folio by the write that makes it (ext4: a 256 KiB write at a
 * 256 KiB offset makes a 256 KiB folio), and on this machine, a VM that hands its free memory back
 * to the host, large folios came from memory the host had to supply again: 1 GiB written 5 s after
 * the previous GiB was freed cost 1.0-1.35 s of system time in 256 KiB writes at such offsets and
 * 0.75-0.88 in 1 MiB writes at any offset, against 0.17-0.18 in 128 KiB pieces (python, 3-4 GiB
 * each, load 10-25).
 */
public final class PageCacheWrites {
    /** The largest piece: 128 KiB pieces cost the same every time above. */
    public static final int PIECE = 128 << 10;

    private PageCacheWrites() {}

    /** Writes all of {@code src} at {@code pos} (positional: the file's position is left alone); returns the end. */
    public static long write(FileChannel file, ByteBuffer src, long pos) throws IOException {
        int limit = src.limit();
        try {
            while (src.hasRemaining()) {
                src.limit(src.position() + (int) Math.min(src.remaining(), PIECE - pos % PIECE));
                while (src.hasRemaining()) {
                    pos += file.write(src, pos);
                }
                src.limit(limit);
            }
        } finally {
            src.limit(limit);
        }
        return pos;
    }
}
