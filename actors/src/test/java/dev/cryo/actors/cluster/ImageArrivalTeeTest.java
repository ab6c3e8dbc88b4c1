package dev.cryo.actors.cluster;

import dev.cryo.engine.image.PageCacheWrites;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The arriving image's tee: every byte read lands both in the reader's buffer and in the staging
 * file, and a read leaves no garbage (the reader reads each of a GiB's ~130,000 chunks in two reads;
 * garbage per read filled the destination agent's young generation). Bytes counted, not time.
 */
class ImageArrivalTeeTest {
    @TempDir
    Path tmp;

    /** {@code behind}: the staging file written by a thread of its own, as the page channel's receiver does. */
    @ParameterizedTest(name = "the file written behind: {0}")
    @ValueSource(booleans = {false, true})
    void eachReadGoesToTheBufferAndTheFileAndAllocatesNothing(boolean behind) throws Exception {
        int piece = 100, reads = 30_000;
        byte[] image = image(piece * reads * 3);
        Path file = tmp.resolve("image");
        ByteBuffer dst = ByteBuffer.allocateDirect(piece + 8);
        byte[] read = new byte[image.length];
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long perRead = 0;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ImageArrival.Tee tee = new ImageArrival.Tee(new ByteArrayInputStream(image), out, image.length, taken -> { },
                    () -> true, behind);
            int got = 0;
            for (int round = 0; round < 3; round++) { // the last round runs compiled code
                long before = threads.getThreadAllocatedBytes(tid);
                for (int i = 0; i < reads; i++) {
                    dst.clear().position(3).limit(3 + piece); // the reader asks for the rest of a chunk
                    assertEquals(piece, tee.read(dst));
                    assertEquals(3 + piece, dst.position());
                    assertEquals(3 + piece, dst.limit());
                    dst.get(3, read, got, piece);
                    got += piece;
                }
                perRead = (threads.getThreadAllocatedBytes(tid) - before) / reads;
            }
            tee.close(); // the file's thread has written all
        }
        assertArrayEquals(image, read);
        assertArrayEquals(image, Files.readAllBytes(file));
        // a duplicate of the reader's buffer per read was 48-64 bytes
        assertTrue(perRead < 24, perRead + " bytes allocated per read");
    }

    /**
     * A read larger than {@link PageCacheWrites#PIECE} goes to the file in pieces cut at its
     * multiples (see there: larger writes made larger page cache folios, dear on this machine); written
     * behind, the reads' bytes are gathered into one buffer of the file's thread first.
     */
    @ParameterizedTest(name = "the file written behind: {0}")
    @ValueSource(booleans = {false, true})
    void largeReadsAreStagedInPiecesCutAtTheirBoundaries(boolean behind) throws Exception {
        int piece = PageCacheWrites.PIECE;
        byte[] image = image(5 * piece + 12345);
        Path file = tmp.resolve("image");
        java.util.List<long[]> writes = new java.util.ArrayList<>(); // {offset, length}
        ByteBuffer dst = ByteBuffer.allocateDirect(image.length);
        try (FileChannel real = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             FileChannel out = new Recording(real, writes)) {
            ImageArrival.Tee tee = new ImageArrival.Tee(new Whole(image), out, image.length, taken -> { }, () -> true, behind);
            for (int size : new int[] {1000, 3 * piece, image.length}) { // a header, then reads of 3 and 2+ pieces
                dst.limit(Math.min(image.length, dst.position() + size));
                while (dst.hasRemaining()) {
                    tee.read(dst);
                }
            }
            tee.close(); // the file's thread has written all
        }
        assertArrayEquals(image, Files.readAllBytes(file));
        for (long[] w : writes) {
            assertTrue(w[1] <= piece && w[0] / piece == (w[0] + w[1] - 1) / piece,
                    "a write of " + w[1] + " bytes at " + w[0] + " crosses a multiple of " + piece);
        }
        if (behind) {
            assertEquals(6, writes.size(), "5 pieces and the rest, from one buffer: " + writes.size() + " writes");
        } else {
            assertEquals(8, writes.size(), "1000 bytes, then 4 pieces and 3: " + writes.size() + " writes");
        }
    }

    /** {@code length} bytes of a pattern, so that a byte out of place shows. */
    private static byte[] image(int length) {
        byte[] image = new byte[length];
        for (int i = 0; i < length; i++) {
            image[i] = (byte) (i * 31 + (i >> 9));
        }
        return image;
    }

    /** A stream whose channel read gives all it is asked for at once, as the TLS link's does. */
    private static final class Whole extends java.io.InputStream implements java.nio.channels.ReadableByteChannel {
        private final ByteBuffer src;

        Whole(byte[] bytes) {
            src = ByteBuffer.wrap(bytes);
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!src.hasRemaining()) {
                return -1;
            }
            int n = Math.min(dst.remaining(), src.remaining());
            dst.put(src.slice(src.position(), n));
            src.position(src.position() + n);
            return n;
        }

        @Override
        public int read() {
            return src.hasRemaining() ? src.get() & 0xff : -1;
        }

        @Override
        public boolean isOpen() {
            return true;
        }
    }

    /** Writes through to a real file channel, noting each write's offset and length; nothing else is used. */
    private static final class Recording extends FileChannel {
        private final FileChannel real;
        private final java.util.List<long[]> writes;

        Recording(FileChannel real, java.util.List<long[]> writes) {
            this.real = real;
            this.writes = writes;
        }

        @Override
        public int write(ByteBuffer src, long position) throws java.io.IOException {
            int n = real.write(src, position);
            writes.add(new long[] {position, n});
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int read(ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long position() throws java.io.IOException {
            return real.position();
        }

        @Override
        public FileChannel position(long newPosition) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long size() throws java.io.IOException {
            return real.size();
        }

        @Override
        public FileChannel truncate(long size) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void force(boolean metaData) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long transferTo(long position, long count, java.nio.channels.WritableByteChannel target) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long transferFrom(java.nio.channels.ReadableByteChannel src, long position, long count) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int read(ByteBuffer dst, long position) {
            throw new UnsupportedOperationException();
        }

        @Override
        public java.nio.MappedByteBuffer map(MapMode mode, long position, long size) {
            throw new UnsupportedOperationException();
        }

        @Override
        public java.nio.channels.FileLock lock(long position, long size, boolean shared) {
            throw new UnsupportedOperationException();
        }

        @Override
        public java.nio.channels.FileLock tryLock(long position, long size, boolean shared) {
            throw new UnsupportedOperationException();
        }

        @Override
        protected void implCloseChannel() {
            // the real channel is closed by its own try
        }
    }
}
