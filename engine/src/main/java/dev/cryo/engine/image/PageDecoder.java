package dev.cryo.engine.image;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.nio.ByteBuffer;

/** Decompresses zstd page payloads straight into the caller's direct buffer. One per reader. */
final class PageDecoder implements AutoCloseable {
    private ZstdDecompressCtx ctx;

    /** Writes exactly rawLength bytes at dst's position and advances it. */
    void decompress(ByteBuffer src, ByteBuffer dst, int rawLength, String where) throws ImageCorruptException {
        if (ctx == null) ctx = new ZstdDecompressCtx();
        int n;
        try {
            n = ctx.decompressDirectByteBuffer(dst, dst.position(), rawLength, src, src.position(), src.remaining());
        } catch (ZstdException | IllegalArgumentException e) {
            throw new ImageCorruptException(where + ": zstd payload does not decompress: " + e.getMessage(), e);
        }
        if (n != rawLength) {
            throw new ImageCorruptException(where + ": zstd payload decompressed to " + n + " bytes, expected " + rawLength);
        }
        dst.position(dst.position() + n);
    }

    @Override
    public void close() {
        if (ctx != null) {
            ctx.close();
            ctx = null;
        }
    }
}
