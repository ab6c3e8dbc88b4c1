package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes page chunks of the image into a task being restored: each chunk is read (CRC-checked)
 * into a direct buffer and copied into the task with process_vm_writev. Each writer owns its own
 * reader, so several run in parallel on different chunks.
 */
public final class PageWriter implements AutoCloseable {
    private final ImageReader reader;
    private ByteBuffer buffer;

    public PageWriter(Path imageDir, long maxChunk) throws IOException {
        this.reader = ImageReader.open(imageDir, ModelCodecs.ALL, maxChunk);
    }

    /** Returns the number of pages written. */
    public long write(Pid pid, List<PageSlice> slices) throws IOException {
        long pages = 0;
        for (PageSlice s : slices) {
            IndexEntry e = s.chunk();
            if (buffer == null || buffer.capacity() < e.rawLength()) {
                buffer = ByteBuffer.allocateDirect(Math.max(e.rawLength(), 1 << 20));
            }
            buffer.clear().limit(e.rawLength());
            reader.readPages(e, buffer); // the whole chunk: its checksum covers all of it
            Sys.writeFrom(pid, s.address(), buffer, (int) (s.firstPage() * PageSlice.PAGE), (int) (s.pages() * PageSlice.PAGE));
            pages += s.pages();
        }
        return pages;
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }
}
