package dev.cryo.engine.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Sequential reader of the image framing from any blocking {@link ReadableByteChannel} (a file
 * read front to back, a socket). Each chunk is CRC-checked as it arrives; at the end the index
 * must list exactly the chunks seen and the trailer must follow with nothing after it. Until
 * {@link #next()} returns null the image is not known to be complete.
 */
public final class ImageStreamReader implements AutoCloseable {
    private final ReadableByteChannel in;
    private final String name;
    private final long maxChunk;
    private final FileHeader fileHeader;
    private final RecordDecoder records;
    private final PageDecoder pages = new PageDecoder();
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer headerBuf = ByteBuffer.allocate(ChunkHeader.SIZE).order(ImageFormat.ORDER);
    private final List<IndexEntry> seen = new ArrayList<>();
    private final IndexCodec.Digest digest = new IndexCodec.Digest();
    private ByteBuffer payload; // direct, reused; holds the current chunk's payload
    private final List<byte[]> partBytes = new ArrayList<>(); // a record in parts so far
    private int parts;
    private IndexEntry firstPart;
    private long partsTotal;
    private long position;
    private boolean done;

    /** Reads and checks the file header. name is used in messages ("image.cryo", "stream from host:port"). */
    public ImageStreamReader(ReadableByteChannel in, String name, RecordCodecs codecs, long maxChunk) throws IOException {
        this.in = in;
        this.name = name;
        this.maxChunk = ImageFormat.checkMaxChunk(maxChunk);
        this.records = new RecordDecoder(codecs);
        ByteBuffer h = ByteBuffer.allocate(FileHeader.SIZE);
        int got = fill(h);
        if (got < FileHeader.SIZE) {
            throw new ImageCorruptException(name + " is truncated: " + got + " bytes, shorter than the header");
        }
        this.fileHeader = FileHeader.decode(h.flip(), name);
        position = FileHeader.SIZE;
    }

    public int formatVersion() {
        return fileHeader.formatVersion();
    }

    public int pageSize() {
        return fileHeader.pageSize();
    }

    /** One chunk just read; its payload is valid until the next call to {@link #next()}. */
    public final class Chunk {
        private final IndexEntry entry;
        private final Object record;

        private final IndexEntry start;

        private Chunk(IndexEntry entry, Object record) {
            this(entry, record, entry);
        }

        private Chunk(IndexEntry entry, Object record, IndexEntry start) {
            this.entry = entry;
            this.record = record;
            this.start = start;
        }

        public IndexEntry entry() {
            return entry;
        }

        /** The chunk where this chunk's record starts: this one, or the first of a record in parts. */
        public IndexEntry recordStart() {
            return start;
        }

        /** The decoded record of a RECORD chunk, else null. */
        public Object record() {
            return record;
        }

        /** Copies (decompressing) the pages of a PAGES chunk into dst (direct), advancing it. */
        public void readPages(ByteBuffer dst) throws ImageCorruptException {
            if (entry.type() != ChunkType.PAGES) throw new IllegalStateException(entry.describe() + " holds no pages");
            if (!dst.isDirect() || dst.remaining() < entry.rawLength()) {
                throw new IllegalArgumentException("need a direct buffer with " + entry.rawLength() + " bytes remaining");
            }
            ByteBuffer src = payload.duplicate().position(0).limit(entry.storedLength());
            if (entry.compressed()) {
                pages.decompress(src, dst, entry.rawLength(), name + " " + entry.describe());
            } else {
                dst.put(src);
            }
        }
    }

    /** The next data chunk, or null once index and trailer have been read and checked. */
    public Chunk next() throws IOException {
        if (done) return null;
        int number = seen.size();
        long offset = position;
        headerBuf.clear();
        int got = fill(headerBuf);
        if (got < ChunkHeader.SIZE) {
            throw new ImageCorruptException(name + " is truncated: chunk " + number + " at offset " + offset
                    + " needs a " + ChunkHeader.SIZE + "-byte header but only " + got + " bytes remain"
                    + (got == 0 ? " (no index or trailer: the dump did not complete)" : ""));
        }
        ChunkHeader h = ChunkHeader.decode(headerBuf);
        java.util.function.Supplier<String> where = () -> ChunkChecks.where(name, number, h, offset);
        ChunkChecks.checkLengths(where, h, maxChunk);
        int stored = h.storedLength();
        if (payload == null || payload.capacity() < stored) {
            payload = PageBuffers.allocate(Math.max(stored, 64 << 10));
        }
        payload.clear().limit(stored);
        int have = fill(payload);
        if (have < stored) {
            throw new ImageCorruptException(name + " is truncated: chunk " + number + " at offset " + offset
                    + " declares " + stored + " bytes but only " + have + " remain");
        }
        payload.flip();
        ChunkChecks.checkCrc(where, h, ChunkChecks.crc(crc, headerBuf, payload));
        ChunkChecks.checkFields(where, h, number, fileHeader.pageSize());
        position += ChunkHeader.SIZE + (long) stored;
        if (h.type() == ChunkType.INDEX) {
            finishWithIndex(where.get(), offset, h.indexDigest());
            return null;
        }
        IndexEntry e = ChunkChecks.toEntry(h, offset);
        seen.add(e);
        digest.add(e);
        if (parts > 0 && h.type() != ChunkType.RECORD) {
            throw new ImageCorruptException(where.get() + ": a record chunk that went on is followed by a "
                    + h.type().label + " chunk: damaged image");
        }
        Object record = null;
        if (h.type() == ChunkType.RECORD) {
            byte[] bytes = new byte[stored];
            payload.duplicate().get(bytes);
            if (e.continued() || parts > 0) { // a record in parts: decoded with its last part
                if (++parts > ImageFormat.MAX_RECORD_PARTS) {
                    throw new ImageCorruptException(where.get() + ": a record in more than "
                            + ImageFormat.MAX_RECORD_PARTS + " chunks: damaged image");
                }
                partBytes.add(bytes);
                partsTotal = parts == 1 ? bytes.length : partsTotal + bytes.length;
                if (partsTotal > Integer.MAX_VALUE - 8) { // parts of a large max chunk, each within its bound
                    throw new ImageCorruptException(where.get() + ": a record of at least " + partsTotal + " bytes in "
                            + parts + " chunks, more than one record may hold: damaged image");
                }
                if (parts == 1) {
                    firstPart = e;
                }
                if (e.continued()) {
                    return new Chunk(e, null);
                }
                int length = (int) partsTotal, at = 0;
                byte[] whole = new byte[length];
                for (byte[] b : partBytes) {
                    System.arraycopy(b, 0, whole, at, b.length);
                    at += b.length;
                }
                String what = where.get() + " (the last of a record's " + parts + " chunks)";
                partBytes.clear();
                parts = 0;
                return new Chunk(e, records.decode(whole, 0, length, what), firstPart);
            }
            record = records.decode(bytes, 0, stored, where.get());
        }
        return new Chunk(e, record);
    }

    private void finishWithIndex(String where, long indexOffset, boolean byDigest) throws IOException {
        if (parts > 0) {
            throw new ImageCorruptException(where + ": a record that went on in the next chunk ends with no last part:"
                    + " damaged image");
        }
        if (byDigest) {
            IndexCodec.checkDigest(payload.duplicate(), where, digest);
        } else {
            List<IndexEntry> listed = IndexCodec.decode(payload.duplicate().order(ImageFormat.ORDER), where,
                    seen.size(), indexOffset, fileHeader.pageSize(), maxChunk);
            if (!listed.equals(seen)) {
                throw new ImageCorruptException(where + ": index does not list the chunks that were read");
            }
        }
        ByteBuffer tb = ByteBuffer.allocate(Trailer.SIZE);
        int got = fill(tb);
        if (got < Trailer.SIZE || !Trailer.hasMagic(tb)) {
            throw new IncompleteImageException(name + " has no trailer: the dump did not complete");
        }
        Trailer t = Trailer.decode(tb.flip(), name, position + Trailer.SIZE, maxChunk);
        if (t.indexOffset() != indexOffset || t.chunkCount() != seen.size()) {
            throw new ImageCorruptException(name + " trailer: points at an index at " + t.indexOffset()
                    + " with " + t.chunkCount() + " chunks; the index read is at " + indexOffset);
        }
        if (fill(ByteBuffer.allocate(1)) != 0) {
            throw new ImageCorruptException(name + ": unexpected bytes after the trailer");
        }
        done = true;
    }

    /** Reads until b is full or end of stream; returns bytes read. */
    private int fill(ByteBuffer b) throws IOException {
        int total = 0;
        while (b.hasRemaining()) {
            int n = in.read(b);
            if (n < 0) break;
            total += n;
        }
        return total;
    }

    /** Frees native state; the channel belongs to the caller. */
    @Override
    public void close() {
        pages.close();
    }
}
