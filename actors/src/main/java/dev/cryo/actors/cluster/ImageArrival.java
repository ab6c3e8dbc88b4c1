package dev.cryo.actors.cluster;

import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageStreamReader;
import dev.cryo.engine.image.PageCacheWrites;
import dev.cryo.engine.model.codec.ModelCodecs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * An image arriving on the page channel: every byte goes to the staging file as it comes, and the
 * framing is checked on the way (each chunk's CRC32C, the index against the chunks seen, the
 * trailer last, nothing after it). When {@link #receive} returns, the file is a complete image
 * whose every chunk was verified, so the restore can start at once without reading it all again.
 */
final class ImageArrival {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ImageArrival.class);

    private ImageArrival() {}

    /** Reads in to its end into target (created 0600); returns the image's size. */
    static long receive(InputStream in, Path target, long maxBytes, long maxChunk, String from) throws IOException {
        return receive(in, target, maxBytes, maxChunk, from, null, taken -> { }, () -> false);
    }

    /**
     * As above; each verified chunk also goes to {@code memory} (if not null), which places the root's
     * pages. {@code taken} hears how many bytes of the image are checked, stored and placed whenever
     * the next read would wait ({@code waiting} says whether bytes are there to read, or come within a moment): the
     * sender ends a round by waiting for exactly that, and while bytes keep coming no receipt is due.
     * Not one after every chunk: the migration's chunks are a few pages each (zero pages split them),
     * and a receipt (a TLS record and a write each way) per chunk took a fifth of this thread.
     */
    static long receive(InputStream in, Path target, long maxBytes, long maxChunk, String from,
                        dev.cryo.engine.restore.ArrivingMemory memory, java.util.function.LongConsumer taken,
                        java.util.function.BooleanSupplier waiting)
            throws IOException {
        try (FileChannel file = FileChannel.open(target, java.util.Set.of(StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            Tee tee = new Tee(in, file, maxBytes, taken, waiting);
            long last = System.nanoTime();
            try (ImageStreamReader reader = new ImageStreamReader(tee, "the image from " + from, ModelCodecs.ALL, maxChunk)) {
                ImageStreamReader.Chunk c;
                while ((c = reader.next()) != null) {
                    // each chunk is checked as it is read; the pages stay in the file (and some go to the root's stub)
                    if (memory != null) {
                        memory.accept(c);
                    }
                    last = System.nanoTime();
                }
            }
            taken.accept(tee.total); // the trailer too: the whole image is in (a sender may wait for its last byte)
            log.debug("image from {}: index, trailer and the end of the stream {} ms after the last chunk (in at {} ms since the epoch)",
                    from, (System.nanoTime() - last) / 1_000_000, System.currentTimeMillis());
            return tee.total;
        }
    }

    /**
     * The socket's bytes, each one also written to the file, bounded in total. The reader asks for
     * exactly the rest of the chunk it is on, so when it asks, every chunk before is processed.
     */
    static final class Tee implements ReadableByteChannel {
        private final ReadableByteChannel in;
        private final FileChannel file;
        private final long maxBytes;
        private final java.util.function.LongConsumer taken;
        private final java.util.function.BooleanSupplier waiting;
        private long total;
        private long receipted;

        /** {@code in}: the TLS link's input reads straight into the reader's buffer; any other stream through a channel. */
        Tee(InputStream in, FileChannel file, long maxBytes, java.util.function.LongConsumer taken,
            java.util.function.BooleanSupplier waiting) {
            this.in = in instanceof ReadableByteChannel c ? c : Channels.newChannel(in);
            this.file = file;
            this.maxBytes = maxBytes;
            this.taken = taken;
            this.waiting = waiting;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (total > receipted && !waiting.getAsBoolean()) { // about to wait: the sender may be waiting too
                receipted = total;
                taken.accept(total);
            }
            int at = dst.position();
            int n = in.read(dst); // into the reader's buffer, which is direct: the file write copies nothing more
            if (n <= 0) {
                return n == 0 ? 0 : -1;
            }
            total += n;
            if (total > maxBytes) {
                throw new IOException("the image exceeds the bound of " + maxBytes + " bytes");
            }
            // dst itself is narrowed to the new bytes for the file, not a view of it made per read (garbage per chunk)
            int end = dst.position(), limit = dst.limit();
            dst.position(at).limit(end);
            try {
                PageCacheWrites.write(file, dst, total - n); // in pieces: see PageCacheWrites
            } finally {
                dst.limit(limit).position(end);
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
            // the stream belongs to the caller
        }
    }

    static final String FILE = ImageFormat.IMAGE_FILE;
}
