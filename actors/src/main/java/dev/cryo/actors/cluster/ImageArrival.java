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
            Tee tee = new Tee(in, file, maxBytes, taken, waiting);
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
     * The socket's bytes, each one landing in a staging buffer that a thread of its own then writes
     * to the file ({@link WriteBehind}), bounded in total. TLS decrypts straight into that buffer and
     * the reader checks a chunk's payload there ({@link ImageStreamReader.InPlace}): the receiving
     * thread, the channel's bottleneck, no longer copies every byte from the reader's buffer into the
     * file's. The reader asks for exactly the next piece it needs (a header, a chunk's payload), so
     * when it asks, every chunk before is processed; a receipt and the end ({@link #close}) wait for
     * the file.
     */
    static final class Tee implements ImageStreamReader.InPlace {
        /** Buffers held for the file's thread at most: STAGE_BUFFERS of STAGE_BUFFER bytes. */
        private static final int STAGE_BUFFERS = 4;
        /**
         * A chunk of the default size (cryo.image.chunk-size, 4 MiB) and its header fit; a larger
         * payload is copied into the reader's buffer.
         */
        static final int STAGE_BUFFER = (4 << 20) + (64 << 10);

        /**
         * The last image's staging buffers, for the next: fresh memory costs a page fault per 4 KiB
         * here (~8,400 per GiB for 512 MiB images, 2,600 with the 1 MiB buffers before, b's process).
         * One image's set at most is kept.
         */
        private static final java.util.ArrayDeque<ByteBuffer> KEPT = new java.util.ArrayDeque<>();

        private final ReadableByteChannel in;
        private final java.util.List<ByteBuffer> buffers = new java.util.ArrayList<>(STAGE_BUFFERS);
        private final WriteBehind behind;
        private final long maxBytes;
        private final java.util.function.LongConsumer taken;
        private final java.util.function.BooleanSupplier waiting;
        private ByteBuffer stage; // being filled (write mode) for the file's thread, or null
        private ByteBuffer view; // of stage: what the reader gets (one per buffer taken, not one per piece)
        private long total;
        private long receipted;
        private long staged; // where the file's thread writes next (its own)
        private boolean closed;

        /** {@code in}: the TLS link's input decrypts straight into the staging buffer; any other stream through a channel. */
        Tee(InputStream in, FileChannel file, long maxBytes, java.util.function.LongConsumer taken,
            java.util.function.BooleanSupplier waiting) {
            this.in = in instanceof ReadableByteChannel c ? c : Channels.newChannel(in);
            this.behind = new WriteBehind(() -> !file.isOpen(),
                    b -> staged = PageCacheWrites.write(file, b, staged), // in pieces: see PageCacheWrites
                    STAGE_BUFFERS, this::buffer, STAGE_BUFFER, "cryo-page-staging");
            this.maxBytes = maxBytes;
            this.taken = taken;
            this.waiting = waiting;
        }

        /** A kept buffer, or a new one; each goes back at the end ({@link #close}). */
        private ByteBuffer buffer(int capacity) {
            ByteBuffer b;
            synchronized (KEPT) {
                b = KEPT.poll();
            }
            buffers.add(b != null ? b : ByteBuffer.allocateDirect(capacity));
            return buffers.get(buffers.size() - 1);
        }

        @Override
        public ByteBuffer next(int n) throws IOException {
            if (n > STAGE_BUFFER) {
                return null;
            }
            int at = land(n);
            return view.limit(stage.position()).position(at);
        }

        /** A header, a trailer, a payload too large for a staging buffer: copied out of where it landed. */
        @Override
        public int read(ByteBuffer dst) throws IOException {
            int n = Math.min(dst.remaining(), STAGE_BUFFER);
            if (n == 0) {
                return 0;
            }
            int at = land(n), got = stage.position() - at;
            if (got == 0) {
                return -1;
            }
            dst.put(dst.position(), stage, at, got).position(dst.position() + got);
            return got;
        }

        /**
         * Reads the next {@code n} bytes (fewer only at the stream's end) into the staging buffer,
         * contiguous; returns where they start there.
         */
        private int land(int n) throws IOException {
            if (total > receipted && !waiting.getAsBoolean()) { // about to wait: the sender may be waiting too
                stored();
                receipted = total;
                taken.accept(total);
            }
            if (stage == null || stage.remaining() < n) {
                submit();
                stage = behind.take();
                view = stage.duplicate();
            }
            int at = stage.position();
            stage.limit(at + n);
            try {
                for (int r; stage.hasRemaining() && (r = in.read(stage)) >= 0; ) {
                    total += r;
                    if (total > maxBytes) {
                        throw new IOException("the image exceeds the bound of " + maxBytes + " bytes");
                    }
                }
            } finally {
                stage.limit(stage.capacity());
            }
            return at;
        }

        /** The staging buffer being filled goes to the file's thread. */
        private void submit() throws IOException {
            if (stage != null) {
                ByteBuffer s = stage;
                stage = null;
                behind.submit(s);
            }
        }

        /** Returns once every byte read so far is in the file. */
        void stored() throws IOException {
            submit();
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
                behind.stop();
            }
            synchronized (KEPT) { // all written: the file's thread holds none of them (not so after a failure)
                for (ByteBuffer b : buffers) {
                    if (KEPT.size() < STAGE_BUFFERS) {
                        KEPT.add(b.clear());
                    }
                }
            }
        }
    }

    static final String FILE = ImageFormat.IMAGE_FILE;
}
