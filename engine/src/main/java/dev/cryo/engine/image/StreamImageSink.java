package dev.cryo.engine.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * An image written to a stream (a socket to the host that restores it). The channel is closed
 * after the trailer on commit; on abort it is closed without one, which the reader reports as an
 * incomplete image.
 */
public final class StreamImageSink implements ImageSink {
    private final WritableByteChannel channel;
    private final ImageChannelWriter framing;
    private final String name;
    private final Delivery delivery;
    private boolean closed;

    public StreamImageSink(WritableByteChannel channel, String name, RecordCodecs codecs, ImageOptions options)
            throws IOException {
        this(channel, name, codecs, options, null);
    }

    /** {@code delivery}: the far end's receipts (null: none), which {@link #sync} waits for. */
    public StreamImageSink(WritableByteChannel channel, String name, RecordCodecs codecs, ImageOptions options,
                           Delivery delivery) throws IOException {
        this.channel = channel;
        this.name = name;
        this.delivery = delivery;
        this.framing = new ImageChannelWriter(channel, codecs, options);
        framing.indexByDigest(); // the reader has every chunk header by then: a few bytes, not tens of thousands of entries
    }

    /** Everything written so far taken in at the far end (when it gives receipts). */
    @Override
    public void sync() throws IOException {
        if (delivery != null) {
            delivery.flush();
            delivery.await(framing.bytesWritten());
        }
    }

    @Override
    public void push() throws IOException {
        if (delivery != null) {
            delivery.flush();
        }
    }

    @Override
    public IndexEntry writeRecord(Object record) throws IOException {
        return framing.writeRecord(record);
    }

    @Override
    public IndexEntry writePages(int pid, long vaddr, int pageCount, ByteBuffer data) throws IOException {
        return framing.writePages(pid, vaddr, pageCount, data);
    }

    @Override
    public IndexEntry writeFill(int pid, long vaddr, int pageCount, byte value) throws IOException {
        return framing.writeFill(pid, vaddr, pageCount, value);
    }

    @Override
    public void commit() throws IOException {
        framing.finish();
        closeChannel();
    }

    @Override
    public void abort() throws IOException {
        closeChannel();
    }

    private void closeChannel() throws IOException {
        if (closed) return;
        closed = true;
        framing.close();
        channel.close();
    }

    @Override
    public long bytesWritten() {
        return framing.bytesWritten();
    }

    @Override
    public int chunksWritten() {
        return framing.chunksWritten();
    }

    @Override
    public String describe() {
        return name;
    }
}
