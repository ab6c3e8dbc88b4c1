package dev.cryo.actors.cluster;

import dev.cryo.engine.files.PrivateModes;
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
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

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
        // a kept staging file is written over in place: fewer new page cache pages (see StagingDirs)
        boolean kept = StagingDirs.startWriting(target);
        try (FileChannel file = kept
                ? FileChannel.open(target, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)
                : FileChannel.open(target, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                        PrivateModes.FILE_ATTRIBUTE)) {
            Tee tee = new Tee(in, file, maxBytes, taken, waiting, true);
            long last = System.nanoTime();
            try (tee; ImageStreamReader reader = new ImageStreamReader(tee, "the image from " + from, ModelCodecs.ALL, maxChunk)) {
                ImageStreamReader.Chunk c;
                while ((c = reader.next()) != null) {
                    // each chunk is checked as it is read; the pages stay in the file (and some go to the root's stub)
                    if (memory != null) {
                        memory.accept(c);
                    }
                    last = System.nanoTime();
                }
            }
            if (kept) {
                file.truncate(tee.total); // what the kept file held beyond this image
            }
            taken.accept(tee.total); // the trailer too, stored (tee closed): the whole image is in (a sender may wait for its last byte)
            log.debug("image from {}: index, trailer and the end of the stream {} ms after the last chunk (in at {} ms since the epoch)",
                    from, (System.nanoTime() - last) / 1_000_000, System.currentTimeMillis());
            return tee.total;
        } finally {
            StagingDirs.doneWriting(target); // the file is closed: it may be kept now
        }
    }

    /**
     * The socket's bytes, each one also written to the file, bounded in total. The reader asks for
     * exactly the rest of the chunk it is on, so when it asks, every chunk before is processed.
     * {@code behind}: the file is written by a thread of its own ({@link WriteBehind}) from copies,
     * so that the receiving thread, the channel's bottleneck, decrypts and checks while the staging
     * file takes what came before; a receipt and the end ({@link #close}) wait for the file.
     */
    static final class Tee implements ReadableByteChannel {
        /** Copies held for the file's thread at most: STAGE_BUFFERS of STAGE_BUFFER bytes. */
        private static final int STAGE_BUFFERS = 4;
        private static final int STAGE_BUFFER = 1 << 20;

        private final ReadableByteChannel in;
        private final FileChannel file;
        private final WriteBehind behind; // null: this thread writes the file
        private final long maxBytes;
        private final java.util.function.LongConsumer taken;
        private final java.util.function.BooleanSupplier waiting;
        private ByteBuffer copy; // being filled for the file's thread (write mode), or null
        private long total;
        private long receipted;
        private long staged; // where the file's thread writes next (its own)
        private boolean closed;

        /** {@code in}: the TLS link's input reads straight into the reader's buffer; any other stream through a channel. */
        Tee(InputStream in, FileChannel file, long maxBytes, java.util.function.LongConsumer taken,
            java.util.function.BooleanSupplier waiting, boolean behind) {
            this.in = in instanceof ReadableByteChannel c ? c : Channels.newChannel(in);
            this.file = file;
            this.behind = !behind ? null : new WriteBehind(() -> !file.isOpen(),
                    b -> staged = PageCacheWrites.write(file, b, staged), // in pieces: see PageCacheWrites
                    STAGE_BUFFERS, ByteBuffer::allocateDirect, STAGE_BUFFER, "cryo-page-staging");
            this.maxBytes = maxBytes;
            this.taken = taken;
            this.waiting = waiting;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (total > receipted && !waiting.getAsBoolean()) { // about to wait: the sender may be waiting too
                stored();
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
                if (behind == null) {
                    PageCacheWrites.write(file, dst, total - n); // in pieces: see PageCacheWrites
                } else {
                    toBehind(dst);
                }
            } finally {
                dst.limit(limit).position(end);
            }
            return n;
        }

        private void toBehind(ByteBuffer src) throws IOException {
            while (src.hasRemaining()) {
                if (copy == null) {
                    copy = behind.take();
                }
                int k = Math.min(copy.remaining(), src.remaining()), l = src.limit();
                copy.put(src.limit(src.position() + k));
                src.limit(l);
                if (!copy.hasRemaining()) {
                    behind.submit(copy);
                    copy = null;
                }
            }
        }

        /** Returns once every byte read so far is in the file. */
        void stored() throws IOException {
            if (behind == null) {
                return;
            }
            if (copy != null) {
                ByteBuffer c = copy;
                copy = null;
                behind.submit(c);
            }
            behind.awaitWritten();
        }

        @Override
        public boolean isOpen() {
            return !closed;
        }

        /** Waits for the file's thread to write all, then ends it (the socket belongs to the caller). */
        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            try {
                stored();
            } finally {
                if (behind != null) {
                    behind.stop();
                }
            }
        }
    }

    static final String FILE = ImageFormat.IMAGE_FILE;
}
