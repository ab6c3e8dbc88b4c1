package dev.cryo.engine.image;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Random-access reader of a committed {@code image.cryo}. {@link #open} checks header, trailer
 * and index (so seeks are safe); every chunk read is CRC-checked; {@link #verify()} checks all
 * of them. Every declared length is bounded by maxChunk before anything is allocated.
 * Not thread-safe (owns a Kryo and scratch buffers); open one reader per thread.
 */
public final class ImageReader implements AutoCloseable {
    private final String name;
    private final FileChannel channel;
    private final long maxChunk;
    private final FileHeader fileHeader;
    private final List<IndexEntry> entries;
    private final RecordDecoder records;
    private final PageDecoder pages = new PageDecoder();
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer headerBuf = ByteBuffer.allocateDirect(ChunkHeader.SIZE).order(ImageFormat.ORDER);
    private ByteBuffer scratch; // direct; compressed payloads
    private MappedWindow window; // verify() and mapped page reads

    private ImageReader(String name, FileChannel channel, long maxChunk, RecordCodecs codecs) throws IOException {
        this(name, channel, maxChunk, codecs, true);
    }

    private ImageReader(String name, FileChannel channel, long maxChunk, RecordCodecs codecs, boolean index)
            throws IOException {
        this.name = name;
        this.channel = channel;
        this.maxChunk = ImageFormat.checkMaxChunk(maxChunk);
        this.records = new RecordDecoder(codecs);
        long size = channel.size();
        if (size < FileHeader.SIZE) {
            throw new ImageCorruptException(name + " is truncated: " + size + " bytes, shorter than the header");
        }
        this.fileHeader = FileHeader.decode(readAt(0, FileHeader.SIZE), name);
        this.entries = index ? readIndex(size) : List.of();
        RecordParts.check(entries, name);
    }

    public static ImageReader open(Path dir, RecordCodecs codecs) throws IOException {
        return open(dir, codecs, ImageFormat.DEFAULT_MAX_CHUNK);
    }

    /** Opens dir/image.cryo; refuses a directory that only holds an unfinished dump. */
    public static ImageReader open(Path dir, RecordCodecs codecs, long maxChunk) throws IOException {
        return open(dir, codecs, maxChunk, true);
    }

    /**
     * Opens dir/image.cryo to read page chunks whose index entries the caller holds already (a
     * restore, which read or received the image before): the index is not read and decoded again
     * by each page writer (30,000 entries for 1 GiB pre-copied, in a migration's downtime).
     */
    public static ImageReader openForPages(Path dir, RecordCodecs codecs, long maxChunk) throws IOException {
        return open(dir, codecs, maxChunk, false);
    }

    private static ImageReader open(Path dir, RecordCodecs codecs, long maxChunk, boolean index) throws IOException {
        Path image = dir.resolve(ImageFormat.IMAGE_FILE);
        if (!Files.exists(image)) {
            if (Files.exists(dir.resolve(ImageFormat.PARTIAL_FILE))) {
                throw new IncompleteImageException(dir + " holds only " + ImageFormat.PARTIAL_FILE
                        + ": the dump did not complete; there is no image to restore");
            }
            throw new NoSuchFileException(image.toString(), null, Files.exists(dir) && !Files.isDirectory(dir)
                    ? dir + " is a file, not an image directory" : "no image in " + dir);
        }
        FileChannel ch = FileChannel.open(image, StandardOpenOption.READ);
        try {
            return new ImageReader(ImageFormat.IMAGE_FILE, ch, maxChunk, codecs, index);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public int formatVersion() {
        return fileHeader.formatVersion();
    }

    public int pageSize() {
        return fileHeader.pageSize();
    }

    /** Every chunk except the index, in file order. */
    public List<IndexEntry> entries() {
        return entries;
    }

    public List<IndexEntry> pageChunks() {
        return entries.stream().filter(e -> e.type() == ChunkType.PAGES).toList();
    }

    /** All records, decoded, in write order. */
    public List<Object> records() throws IOException {
        List<Object> out = new ArrayList<>();
        for (IndexEntry e : recordEntries()) {
            out.add(readRecord(e));
        }
        return Collections.unmodifiableList(out);
    }

    /** The chunk where each record starts (a record in parts takes the chunks after it too), in write order. */
    public List<IndexEntry> recordEntries() {
        return RecordParts.starts(entries);
    }

    /** The record starting at chunk {@code e}, with its other parts if it is in parts. */
    public Object readRecord(IndexEntry e) throws IOException {
        requireType(e, ChunkType.RECORD);
        if (!e.continued()) {
            ByteBuffer chunk = readAt(e.offset(), (int) e.totalLength());
            checkChunk(e, chunk, chunk.duplicate().position(ChunkHeader.SIZE));
            return records.decode(chunk.array(), ChunkHeader.SIZE, e.storedLength(), where(e));
        }
        List<IndexEntry> parts = RecordParts.of(entries, e);
        long length = parts.stream().mapToLong(p -> Integer.toUnsignedLong(p.storedLength())).sum();
        if (length > Integer.MAX_VALUE - 8) { // parts of a large max chunk, each within its bound, past an array's
            throw new ImageCorruptException(where(e) + ": a record of " + length + " bytes in " + parts.size()
                    + " chunks, more than one record may hold: damaged image");
        }
        byte[] whole = new byte[(int) length]; // bounded: at most MAX_RECORD_PARTS chunks (RecordParts.check)
        int at = 0;
        for (IndexEntry p : parts) {
            ByteBuffer chunk = readAt(p.offset(), (int) p.totalLength());
            checkChunk(p, chunk, chunk.duplicate().position(ChunkHeader.SIZE));
            System.arraycopy(chunk.array(), ChunkHeader.SIZE, whole, at, p.storedLength());
            at += p.storedLength();
        }
        return records.decode(whole, 0, whole.length, where(e) + " (a record in " + parts.size() + " chunks)");
    }

    /**
     * Reads the pages of e into dst (direct, at least e.rawLength() remaining), decompressing if
     * needed, CRC-checked; advances dst's position by e.rawLength(). On error dst's content is
     * undefined and its position unchanged.
     */
    public void readPages(IndexEntry e, ByteBuffer dst) throws IOException {
        requireType(e, ChunkType.PAGES);
        if (!dst.isDirect() || dst.remaining() < e.rawLength()) {
            throw new IllegalArgumentException("need a direct buffer with " + e.rawLength() + " bytes remaining");
        }
        readFully(headerBuf.clear(), e.offset());
        if (!e.compressed()) { // fast path: file -> caller's buffer, CRC on the same memory
            ByteBuffer target = dst.duplicate().limit(dst.position() + e.rawLength());
            readFully(target, e.offset() + ChunkHeader.SIZE);
            checkChunk(e, headerBuf, target.flip().position(dst.position()));
            dst.position(dst.position() + e.rawLength());
            return;
        }
        ByteBuffer src = scratch(e.storedLength());
        readFully(src, e.offset() + ChunkHeader.SIZE);
        src.flip();
        checkChunk(e, headerBuf, src);
        pages.decompress(src, dst, e.rawLength(), where(e));
    }

    /**
     * Reads every chunk and checks its CRC and that its header agrees with the index. The file is
     * mapped, so the checksum reads the bytes where they lie, without copying them first.
     */
    public void verify() throws IOException {
        verify(e -> false);
    }

    /** As {@link #verify()}, leaving out the chunks {@code checkedLater} accepts (their reader checks them). */
    public void verify(java.util.function.Predicate<IndexEntry> checkedLater) throws IOException {
        for (IndexEntry e : entries) {
            if (checkedLater.test(e)) {
                continue;
            }
            ByteBuffer chunk = window().slice(e.offset(), (int) e.totalLength());
            checkChunk(e, chunk.duplicate().limit(ChunkHeader.SIZE), chunk.duplicate().position(ChunkHeader.SIZE));
        }
    }

    /**
     * The pages of an uncompressed chunk where they lie in the file (mapped, no copy), checked
     * against its CRC unless {@code checked} (the image was verified already); valid until the
     * next call on this reader. Compressed chunks must go through {@link #readPages}.
     */
    public ByteBuffer mappedPages(IndexEntry e, boolean checked) throws IOException {
        requireType(e, ChunkType.PAGES);
        if (e.compressed()) throw new IllegalArgumentException(e.describe() + " is compressed: read it with readPages");
        ByteBuffer chunk = window().slice(e.offset(), (int) e.totalLength());
        ByteBuffer payload = chunk.duplicate().position(ChunkHeader.SIZE).slice();
        if (!checked) {
            checkChunk(e, chunk.duplicate().limit(ChunkHeader.SIZE), payload);
        }
        return payload;
    }

    /**
     * Whether {@link #mappedPages} of {@code e} leaves the pages of earlier calls where they were (the
     * window holds {@code e} already), so they may still be written from after it.
     */
    public boolean keepsMapped(IndexEntry e) {
        return window != null && window.holds(e.offset(), (int) e.totalLength());
    }

    /** The byte each page of a fill chunk holds, checked against its CRC. */
    public int fillByte(IndexEntry e) throws IOException {
        requireType(e, ChunkType.PAGES);
        if (!e.fill()) throw new IllegalArgumentException(e.describe() + " is no fill");
        return mappedPages(e, false).get(0) & 0xff;
    }

    private MappedWindow window() {
        if (window == null) window = new MappedWindow(channel, MappedWindow.DEFAULT_SIZE);
        return window;
    }

    @Override
    public void close() throws IOException {
        if (window != null) window.close();
        pages.close();
        channel.close();
    }

    private List<IndexEntry> readIndex(long size) throws IOException {
        long minSize = FileHeader.SIZE + ChunkHeader.SIZE + 4 + Trailer.SIZE;
        ByteBuffer tb = size >= minSize ? readAt(size - Trailer.SIZE, Trailer.SIZE) : null;
        if (tb == null || !Trailer.hasMagic(tb)) {
            if (tb != null && looksLikeDamagedTrailer(tb, size)) {
                throw new ImageCorruptException(name + " trailer: bad magic " + Hex.bytes(java.util.Arrays.copyOf(tb.array(), 8)));
            }
            throw new IncompleteImageException(name + " has no trailer: the dump did not complete"
                    + " (or the file was truncated)");
        }
        Trailer t = Trailer.decode(tb, name, size, maxChunk);
        ByteBuffer chunk = readAt(t.indexOffset(), t.indexLength());
        ChunkHeader h = ChunkHeader.decode(chunk);
        // Described as the index because that is what the (CRC-checked) trailer says it is.
        String where = name + " chunk " + Integer.toUnsignedString(t.chunkCount()) + " (index, offset "
                + t.indexOffset() + ")";
        if (h.storedLengthUnsigned() + ChunkHeader.SIZE != Integer.toUnsignedLong(t.indexLength())) {
            throw new ImageCorruptException(where + ": stored length " + h.storedLengthUnsigned()
                    + " disagrees with the trailer's index length " + Integer.toUnsignedLong(t.indexLength()));
        }
        ChunkChecks.checkCrc(() -> where, h, ChunkChecks.crc(crc, chunk, chunk.duplicate().position(ChunkHeader.SIZE)));
        ChunkChecks.checkFields(() -> where, h, t.chunkCount(), fileHeader.pageSize());
        if (h.type() != ChunkType.INDEX) {
            throw new ImageCorruptException(where + ": the trailer points at a " + h.kind() + " chunk, not the index");
        }
        if (h.indexDigest()) {
            return Collections.unmodifiableList(walkHeaders(chunk.position(ChunkHeader.SIZE), where, t));
        }
        return Collections.unmodifiableList(IndexCodec.decode(chunk.position(ChunkHeader.SIZE), where,
                t.chunkCount(), t.indexOffset(), fileHeader.pageSize(), maxChunk));
    }

    /**
     * A digest index (an image that was streamed): the entries are found by walking the chunk
     * headers from the file header to the index, each checked as an index entry would be, and
     * must give the digest. Each chunk's CRC is checked when it is read, as always.
     */
    private List<IndexEntry> walkHeaders(ByteBuffer digestPayload, String where, Trailer t) throws IOException {
        List<IndexEntry> out = new java.util.ArrayList<>();
        IndexCodec.Digest digest = new IndexCodec.Digest();
        long at = FileHeader.SIZE;
        while (at < t.indexOffset()) {
            if (out.size() >= Integer.toUnsignedLong(t.chunkCount())) {
                throw new ImageCorruptException(where + ": more chunks before the index than the trailer's "
                        + Integer.toUnsignedString(t.chunkCount()));
            }
            if (t.indexOffset() - at < ChunkHeader.SIZE) {
                throw new ImageCorruptException(where + ": a chunk header at offset " + at + " runs into the index");
            }
            ChunkHeader h = ChunkHeader.decode(readAt(at, ChunkHeader.SIZE));
            int number = out.size();
            long offset = at;
            java.util.function.Supplier<String> w = () -> ChunkChecks.where(name, number, h, offset);
            ChunkChecks.checkLengths(w, h, maxChunk);
            ChunkChecks.checkFields(w, h, number, fileHeader.pageSize());
            if (h.type() == ChunkType.INDEX) {
                throw new ImageCorruptException(w.get() + ": another index before the trailer's");
            }
            IndexEntry e = ChunkChecks.toEntry(h, at);
            if (at + e.totalLength() > t.indexOffset()) {
                throw new ImageCorruptException(w.get() + ": extends past the index at offset " + t.indexOffset());
            }
            out.add(e);
            digest.add(e);
            at += e.totalLength();
        }
        IndexCodec.checkDigest(digestPayload, where, digest);
        return out;
    }

    /** A trailer whose only problem is its magic still has offsets that fit the file exactly. */
    private static boolean looksLikeDamagedTrailer(ByteBuffer tb, long size) {
        tb.order(ImageFormat.ORDER);
        long off = tb.getLong(8);
        long len = Integer.toUnsignedLong(tb.getInt(16));
        return off >= FileHeader.SIZE && len > 0 && off + len + Trailer.SIZE == size;
    }

    /** CRC first (the most telling message for a flipped byte), then agreement with the index. */
    private void checkChunk(IndexEntry e, ByteBuffer header, ByteBuffer payload) throws ImageCorruptException {
        checkHeader(e, ChunkHeader.decode(header), ChunkChecks.crc(crc, header, payload));
    }

    private void checkHeader(IndexEntry e, ChunkHeader h, long computedCrc) throws ImageCorruptException {
        ChunkChecks.checkCrc(() -> where(e), h, computedCrc);
        if (!ChunkChecks.matches(h, e)) {
            throw new ImageCorruptException(where(e) + ": chunk header (" + h.kind() + ", number "
                    + Integer.toUnsignedString(h.number()) + ", " + h.storedLengthUnsigned()
                    + " bytes) disagrees with the index");
        }
    }

    private String where(IndexEntry e) {
        return name + " " + e.describe();
    }

    private static void requireType(IndexEntry e, ChunkType t) {
        if (e.type() != t) throw new IllegalArgumentException(e.describe() + " is not a " + t.label + " chunk");
    }

    private ByteBuffer scratch(int size) {
        if (scratch == null || scratch.capacity() < size) scratch = ByteBuffer.allocateDirect(size);
        return scratch.clear().limit(size);
    }

    /** Heap buffer of len bytes from offset; callers bound len by maxChunk first. */
    private ByteBuffer readAt(long offset, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len).order(ImageFormat.ORDER);
        readFully(b, offset);
        return b.flip();
    }

    private void readFully(ByteBuffer b, long offset) throws IOException {
        long pos = offset;
        while (b.hasRemaining()) {
            int n = channel.read(b, pos);
            if (n < 0) {
                throw new ImageCorruptException(name + " is truncated: read at offset " + pos + " hit end of file",
                        new EOFException());
            }
            pos += n;
        }
    }
}
