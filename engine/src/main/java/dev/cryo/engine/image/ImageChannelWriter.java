package dev.cryo.engine.image;

import dev.cryo.config.Compression;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.KryoBufferOverflowException;
import com.esotericsoftware.kryo.io.Output;
import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The image framing on top of any blocking {@link WritableByteChannel}: file header, chunks,
 * index, trailer. Knows nothing about files, so the same bytes can go to a socket. The position
 * is tracked here (channels need not be seekable). Deterministic: the same calls produce the same
 * bytes. Not thread-safe, except {@link #writePagesConcurrently} on a file: there each chunk's
 * number and place are reserved under the lock and its bytes written with a positional write
 * outside it, so several copiers write their pages at once (a single writer thread copying every
 * byte into the file was the dump's bottleneck).
 *
 * <p>After any I/O failure the writer is poisoned: the stream is in an unknown state.
 */
public final class ImageChannelWriter implements AutoCloseable {
    private final WritableByteChannel out;
    private final FileChannel file; // out, when positional writes are possible
    private final ImageOptions options;
    private final RecordCodecs codecs;
    private final Kryo kryo;
    private final Output recordOut;
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer header = ByteBuffer.allocateDirect(ChunkHeader.SIZE).order(ImageFormat.ORDER);
    private final ByteBuffer[] gather = new ByteBuffer[2];
    private final ByteBuffer fillByte = ByteBuffer.allocateDirect(1);
    private final List<IndexEntry> index = new ArrayList<>();
    private final IndexCodec.Digest digest = new IndexCodec.Digest();
    private boolean digestIndex;
    private ZstdCompressCtx zstd;
    private ByteBuffer zstdBuf;
    private long position;
    private long rawPageBytes;
    private volatile boolean finished;
    /** The first I/O failure; later writes report it, so the user reads the cause, not its echo. */
    private volatile Throwable poisoned;

    /** Writes the file header immediately. */
    public ImageChannelWriter(WritableByteChannel out, RecordCodecs codecs, ImageOptions options) throws IOException {
        this.out = out;
        this.file = out instanceof FileChannel f ? f : null;
        this.options = options;
        this.codecs = codecs;
        this.kryo = ImageKryo.create(codecs);
        this.recordOut = new Output(4096, maxRecord(options));
        guarded(() -> writeFully(FileHeader.current(options.pageSize()).encode(), null));
    }

    /**
     * The index is written as a digest (chunk count and CRC32C of the entries) instead of the
     * entries: for a stream, whose reader has every chunk header already (a migration's index of
     * tens of thousands of entries went through TLS after the freeze).
     */
    public synchronized void indexByDigest() {
        digestIndex = true;
    }

    /** Encodes one metadata record (its type must be in the registry) as a RECORD chunk. */
    public IndexEntry writeRecord(Object record) throws IOException {
        checkOpen();
        if (record == null || !codecs.handles(record.getClass())) {
            throw new IllegalArgumentException("no record codec registered for "
                    + (record == null ? "null" : record.getClass().getName()));
        }
        recordOut.reset();
        try {
            kryo.writeClassAndObject(recordOut, record);
        } catch (KryoBufferOverflowException e) {
            recordOut.setBuffer(new byte[4096], maxRecord(options));
            throw new IllegalArgumentException("record " + record.getClass().getSimpleName()
                    + " exceeds the max record length of " + maxRecord(options) + " bytes ("
                    + ImageFormat.MAX_RECORD_PARTS + " chunks of at most " + options.maxChunkLength() + " bytes)", e);
        } catch (KryoException e) {
            throw new IllegalArgumentException("cannot encode " + record.getClass().getName() + ": " + e.getMessage(), e);
        }
        byte[] bytes = recordOut.getBuffer();
        int length = recordOut.position(), part = (int) options.maxChunkLength();
        IndexEntry first = null;
        synchronized (this) { // the parts of a record are consecutive chunks
            for (int at = 0; first == null || at < length; at += part) {
                int n = Math.min(part, length - at);
                IndexEntry e = writeChunk(ChunkType.RECORD, at + n < length ? ImageFormat.FLAG_CONTINUED : 0,
                        ByteBuffer.wrap(bytes, at, n), n, 0, 0, 0);
                first = first == null ? e : first;
            }
        }
        if (bytes.length > part) { // a record in parts is rare: its buffer is not kept
            recordOut.setBuffer(new byte[4096], maxRecord(options));
        }
        return first;
    }

    private static int maxRecord(ImageOptions options) {
        return (int) Math.min(Integer.MAX_VALUE - 64, options.maxChunkLength() * ImageFormat.MAX_RECORD_PARTS);
    }

    /**
     * Writes pageCount pages starting at vaddr of process pid, taken from data's position to its
     * limit (exactly pageCount * pageSize bytes). data must be direct; it is consumed (position
     * moves to limit) and may be reused by the caller as soon as this returns.
     */
    public IndexEntry writePages(int pid, long vaddr, int pageCount, ByteBuffer data) throws IOException {
        checkOpen();
        long raw = checkPages(vaddr, pageCount, data);
        ByteBuffer payload = data;
        int flags = 0;
        if (options.compression() == Compression.ZSTD) {
            ByteBuffer compressed = compress(data);
            if (compressed.remaining() < raw) { // incompressible pages are stored raw: cheaper to restore
                payload = compressed;
                flags = ImageFormat.FLAG_ZSTD;
            }
        }
        IndexEntry e;
        synchronized (this) {
            e = writeChunk(ChunkType.PAGES, flags, payload, (int) raw, pid, pageCount, vaddr);
            rawPageBytes += raw;
        }
        data.position(data.limit());
        return e;
    }

    /**
     * Writes pageCount pages at vaddr of process pid that each hold {@code value} repeated: one
     * byte of payload, however many pages. Safe beside {@link #writePagesConcurrently}.
     */
    public synchronized IndexEntry writeFill(int pid, long vaddr, int pageCount, byte value) throws IOException {
        checkOpen();
        if (pageCount <= 0 || (vaddr & (options.pageSize() - 1)) != 0) {
            throw new IllegalArgumentException(pageCount + " filled pages at " + Hex.addr(vaddr) + ": none, or not page aligned");
        }
        fillByte.clear().put(0, value);
        return writeChunk(ChunkType.PAGES, ImageFormat.FLAG_FILL, fillByte, 1, pid, pageCount, vaddr);
    }

    /** Whether {@link #writePagesConcurrently} may be used: a file (positional writes) and no compression. */
    public boolean concurrentPages() {
        return file != null && options.compression() != Compression.ZSTD;
    }

    /**
     * Like {@link #writePages}, safe to call from several threads at once (see the class comment);
     * {@code header} (a direct buffer of at least 40 bytes) and {@code crc} are the calling thread's.
     * The checksum and the copy into the file happen outside the lock.
     */
    public IndexEntry writePagesConcurrently(int pid, long vaddr, int pageCount, ByteBuffer data, ByteBuffer header,
                                             CRC32C crc) throws IOException {
        if (!concurrentPages()) throw new IllegalStateException("concurrent page writes need a file and no compression");
        checkOpen();
        int raw = (int) checkPages(vaddr, pageCount, data);
        int number;
        long at;
        IndexEntry e;
        synchronized (this) {
            checkOpen();
            number = index.size();
            at = position;
            position += ChunkHeader.SIZE + raw;
            rawPageBytes += raw;
            e = new IndexEntry(number, ChunkType.PAGES, 0, at, raw, raw, pid, vaddr, pageCount);
            index.add(e);
            digest.add(e);
        }
        header.clear();
        ChunkHeader.encodeWithoutCrc(header, ChunkType.PAGES, 0, number, raw, raw, pid, pageCount, vaddr);
        header.putInt(ChunkHeader.CRC_OFFSET, (int) ChunkChecks.crc(crc, header, data));
        header.position(0).limit(ChunkHeader.SIZE);
        ByteBuffer p = data.duplicate();
        guarded(() -> {
            PageCacheWrites.write(file, p, PageCacheWrites.write(file, header, at)); // in pieces: see there
        });
        data.position(data.limit());
        return e;
    }

    private long checkPages(long vaddr, int pageCount, ByteBuffer data) {
        long raw = (long) pageCount * options.pageSize();
        if (!data.isDirect()) throw new IllegalArgumentException("page data must be a direct ByteBuffer");
        if (pageCount <= 0 || data.remaining() != raw) {
            throw new IllegalArgumentException(pageCount + " pages need " + raw + " bytes, buffer holds " + data.remaining());
        }
        if (raw > options.maxChunkLength()) {
            throw new IllegalArgumentException(raw + " bytes of pages exceed the max chunk length "
                    + options.maxChunkLength() + "; split the range");
        }
        if ((vaddr & (options.pageSize() - 1)) != 0) {
            throw new IllegalArgumentException("address " + Hex.addr(vaddr) + " is not page aligned");
        }
        return raw;
    }

    /** Writes the index chunk and the trailer; nothing may be written afterwards. */
    public synchronized void finish() throws IOException {
        checkOpen();
        int chunkCount = index.size();
        ByteBuffer payload = digestIndex ? IndexCodec.encodeDigest(digest) : IndexCodec.encode(index);
        if (payload.remaining() > options.maxChunkLength()) {
            throw new ImageException("index of " + chunkCount + " chunks exceeds the max chunk length");
        }
        long indexOffset = position;
        IndexEntry idx = writeChunk(ChunkType.INDEX, digestIndex ? ImageFormat.FLAG_INDEX_DIGEST : 0, payload,
                payload.remaining(), 0, 0, 0);
        index.remove(index.size() - 1); // the index does not list itself
        Trailer t = new Trailer(indexOffset, (int) idx.totalLength(), chunkCount);
        guarded(() -> writeFully(t.encode(), null));
        finished = true;
    }

    /** Bytes written so far, including header and framing. */
    public synchronized long bytesWritten() {
        return position;
    }

    /** Chunks written so far, not counting the index. */
    public synchronized int chunksWritten() {
        return index.size();
    }

    /** Uncompressed page bytes accepted so far. */
    public synchronized long pageBytes() {
        return rawPageBytes;
    }

    public boolean finished() {
        return finished;
    }

    /** Entries of the chunks written so far, in order. */
    public List<IndexEntry> entries() {
        return Collections.unmodifiableList(index);
    }

    /** Frees the native zstd context; does not close the channel, which the caller owns. */
    @Override
    public void close() {
        if (zstd != null) {
            zstd.close();
            zstd = null;
        }
    }

    private IndexEntry writeChunk(ChunkType type, int flags, ByteBuffer payload, int rawLength,
                                  int pid, int pageCount, long vaddr) throws IOException {
        int number = index.size();
        int stored = payload.remaining();
        ChunkHeader.encodeWithoutCrc(header, type, flags, number, stored, rawLength, pid, pageCount, vaddr);
        header.putInt(ChunkHeader.CRC_OFFSET, (int) ChunkChecks.crc(crc, header, payload));
        header.position(0).limit(ChunkHeader.SIZE);
        IndexEntry e = new IndexEntry(number, type, flags, position, stored, rawLength, pid, vaddr, pageCount);
        ByteBuffer p = payload.duplicate(); // the caller's position is theirs to manage
        guarded(() -> writeFully(header, p));
        index.add(e);
        if (type != ChunkType.INDEX) {
            digest.add(e);
        }
        return e;
    }

    private ByteBuffer compress(ByteBuffer data) {
        if (zstd == null) {
            zstd = new ZstdCompressCtx().setLevel(options.zstdLevel()).setChecksum(false).setContentSize(true);
        }
        int bound = (int) Zstd.compressBound(data.remaining());
        if (zstdBuf == null || zstdBuf.capacity() < bound) {
            zstdBuf = ByteBuffer.allocateDirect(bound);
        }
        int n = zstd.compressDirectByteBuffer(zstdBuf, 0, bound, data, data.position(), data.remaining());
        return zstdBuf.duplicate().position(0).limit(n);
    }

    private void writeFully(ByteBuffer a, ByteBuffer b) throws IOException {
        long n = a.remaining() + (b == null ? 0 : b.remaining());
        if (file != null) { // positional: concurrent page writes own the ranges they reserved
            long pos = PageCacheWrites.write(file, a, position);
            if (b != null) PageCacheWrites.write(file, b, pos);
        } else if (b != null && out instanceof GatheringByteChannel g) {
            gather[0] = a;
            gather[1] = b;
            while (b.hasRemaining()) g.write(gather);
            gather[0] = gather[1] = null;
        } else {
            while (a.hasRemaining()) out.write(a);
            if (b != null) while (b.hasRemaining()) out.write(b);
        }
        position += n;
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private void guarded(IoAction action) throws IOException {
        try {
            action.run();
        } catch (IOException | RuntimeException e) {
            if (poisoned == null) poisoned = e;
            throw e;
        }
    }

    private void checkOpen() {
        Throwable cause = poisoned;
        if (cause != null) {
            throw new IllegalStateException("an earlier write failed (" + cause.getMessage()
                    + "); the image must be aborted", cause);
        }
        if (finished) throw new IllegalStateException("image already finished");
    }
}
