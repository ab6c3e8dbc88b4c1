package dev.cryo.engine.image;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a dump's chunks go: an image file ({@link ImageWriter}) or a stream to another host
 * ({@link StreamImageSink}). Same framing and checksums either way; {@link #commit()} writes index
 * and trailer, the commit marker; {@link #abort()} makes sure nothing that looks complete is left.
 */
public interface ImageSink extends AutoCloseable {
    IndexEntry writeRecord(Object record) throws IOException;

    /** Direct buffer of exactly pageCount pages, consumed, reusable after return. */
    IndexEntry writePages(int pid, long vaddr, int pageCount, ByteBuffer data) throws IOException;

    /** pageCount pages that each hold {@code value} repeated: one byte of payload. */
    IndexEntry writeFill(int pid, long vaddr, int pageCount, byte value) throws IOException;

    /**
     * Page writes that several copiers may make at once, each with its own scratch (see
     * {@link ImageChannelWriter#writePagesConcurrently}), or null when chunks must pass one by one
     * through {@link #writePages} (a stream, compression).
     */
    default ConcurrentPages concurrentPages() {
        return null;
    }

    /** Thread-safe page writes; one {@link Scratch} per calling thread. */
    interface ConcurrentPages {
        IndexEntry writePages(int pid, long vaddr, int pageCount, ByteBuffer data, Scratch scratch) throws IOException;

        /** As {@link ImageSink#writeFill}, beside the other copiers' writes. */
        IndexEntry writeFill(int pid, long vaddr, int pageCount, byte value) throws IOException;
    }

    /** A copier's own header buffer and checksum state. */
    final class Scratch {
        final ByteBuffer header = ByteBuffer.allocateDirect(ChunkHeader.SIZE).order(ImageFormat.ORDER);
        final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    }

    void commit() throws IOException;

    /**
     * Makes what is written so far durable, so the commit has less left to do (pre-copy calls it
     * before freezing the tree). A stream waits until the far end has taken it in, when it says.
     */
    default void sync() throws IOException {}

    /** Sends what a stream holds buffered now, without waiting for the far end (a file: nothing to do). */
    default void push() throws IOException {}

    void abort() throws IOException;

    long bytesWritten();

    int chunksWritten();

    /** For messages: "the image in /var/lib/x", "the stream to host:port". */
    String describe();

    @Override
    default void close() throws IOException {
        abort();
    }
}
