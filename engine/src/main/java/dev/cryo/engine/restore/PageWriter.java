package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Writes page chunks of the image into a task being restored: each chunk is read (CRC-checked)
 * into a direct buffer and copied into the task with process_vm_writev, up to 1024 chunks' pages
 * in one call ({@link WriteBatch}; through /proc/PID/mem where the area is not writable); a fill
 * chunk's pages are written from a buffer of its byte. Each writer owns its own reader, so several
 * run in parallel on different chunks.
 */
public final class PageWriter implements AutoCloseable {
    private final ImageReader reader;
    private ByteBuffer buffer;
    private final PageFill fill = new PageFill();
    private final WriteBatch batch = new WriteBatch();

    public PageWriter(Path imageDir, long maxChunk) throws IOException {
        this.reader = ImageReader.openForPages(imageDir, ModelCodecs.ALL, maxChunk); // the slices carry their index entries
    }

    /**
     * Returns the number of pages written. Slices never overlap, so they are written chunk by chunk:
     * a pre-copy image cuts an early chunk into many slices around later copies of some of its pages,
     * and each chunk must be read once, not once per slice. Uncompressed chunks go from a mapping
     * of the image straight into the task (one copy), each checked against its checksum before
     * any of its pages is written, unless {@code verified} (the chunks were checked as the image
     * arrived: a migration). Compressed chunks are read and checked into a buffer first.
     */
    public long write(Pid pid, List<PageSlice> slices) throws IOException {
        return write(pid, slices, false, n -> { });
    }

    /** As {@link #write(Pid, List)}, telling {@code pagesDone} after each slice (a progress bar). */
    public long write(Pid pid, List<PageSlice> slices, boolean verified, java.util.function.LongConsumer pagesDone)
            throws IOException {
        long pages = 0;
        List<PageSlice> byChunk = new ArrayList<>(slices);
        byChunk.sort(Comparator.comparingLong((PageSlice s) -> s.chunk().offset()).thenComparingLong(PageSlice::address));
        long loaded = -1; // offset of the chunk in src
        ByteBuffer src = null;
        long batched = 0; // pages in the batch
        for (PageSlice s : byChunk) {
            IndexEntry e = s.chunk();
            if (e.offset() != loaded) {
                if (e.compressed() || !reader.keepsMapped(e)) { // the buffer or the mapped window is about to move
                    batched = flush(pid, batched, pagesDone);
                }
                if (e.compressed()) {
                    if (buffer == null || buffer.capacity() < e.rawLength()) {
                        buffer = dev.cryo.engine.image.PageBuffers.allocate(Math.max(e.rawLength(), 1 << 20));
                    }
                    buffer.clear().limit(e.rawLength());
                    reader.readPages(e, buffer); // the whole chunk: its checksum covers all of it
                    src = buffer;
                } else {
                    src = reader.mappedPages(e, verified);
                }
                loaded = e.offset();
            }
            if (e.fill()) {
                fill.write(s.address(), s.pages() * PageSlice.PAGE, src.get(0),
                        (address, from, len) -> write(pid, address, from, 0, len));
                pagesDone.accept(s.pages());
            } else {
                if (batch.full()) {
                    batched = flush(pid, batched, pagesDone);
                }
                batch.add(s.address(), src, (int) (s.firstPage() * PageSlice.PAGE), (int) (s.pages() * PageSlice.PAGE));
                batched += s.pages();
            }
            pages += s.pages();
        }
        flush(pid, batched, pagesDone);
        return pages;
    }

    private long flush(Pid pid, long batched, java.util.function.LongConsumer pagesDone) throws IOException {
        batch.flush(pid, (address, from, at, len) -> write(pid, address, from, at, len));
        if (batched > 0) {
            pagesDone.accept(batched);
        }
        return 0;
    }

    private void write(Pid pid, long address, ByteBuffer src, int at, int len) throws IOException {
        try {
            Sys.writeFrom(pid, address, src, at, len);
        } catch (KernelException notWritable) {
            // an area restore maps without PROT_WRITE (not charged for writing, see Mapper):
            // /proc/PID/mem writes it as a debugger would
            try {
                writeViaProcMem(pid, address, src.duplicate().position(at).limit(at + len));
            } catch (IOException e) {
                // memfd_secret memory: written through cryo's own file of the object (SharedMemoryHub)
                if (!dev.cryo.kernel.SecretMemory.copy(true, pid, Pid.of((int) ProcessHandle.current().pid()), address,
                        src, at, len)) {
                    throw e;
                }
            }
        }
    }

    private FileChannel mem;
    private Pid memOf;

    private void writeViaProcMem(Pid pid, long address, ByteBuffer data) throws IOException {
        if (mem == null || !pid.equals(memOf)) {
            if (mem != null) {
                mem.close();
            }
            mem = FileChannel.open(Path.of("/proc/" + pid + "/mem"), StandardOpenOption.WRITE);
            memOf = pid;
        }
        long at = address;
        while (data.hasRemaining()) {
            int n = mem.write(data, at);
            if (n <= 0) {
                throw new IOException("/proc/" + pid + "/mem: short write at 0x" + Long.toHexString(at));
            }
            at += n;
        }
    }

    @Override
    public void close() throws IOException {
        if (mem != null) {
            mem.close();
        }
        reader.close();
    }
}
