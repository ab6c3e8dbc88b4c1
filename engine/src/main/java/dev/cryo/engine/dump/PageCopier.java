package dev.cryo.engine.dump;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Copies one piece of a page run (at most a buffer's worth) into a direct buffer and splits it
 * into segments: runs of pages to write, and runs of pages that each hold one byte repeated
 * (written as that byte: Ruby's YJIT fills its 256 MiB code area so). Zero pages where the
 * restore's fresh memory is zero anyway are only counted — recorded, never written.
 */
public final class PageCopier {
    private static final int PAGE = (int) RemoteTask.PAGE;
    private static final long ONES = 0x0101010101010101L;
    /** A page of each byte, made when first needed: the comparison of a page against one is vectorized. */
    private static final ByteBuffer[] FILLED = new ByteBuffer[256];

    private PageCopier() {}

    /**
     * Pages at {@code address}: held at {@code offset} in the buffer, or, when {@code fill} is 0-255,
     * each of them that byte repeated (nothing held).
     */
    public record Segment(long address, int offset, int pages, int fill) {
        public static final int DATA = -1;

        public boolean filled() {
            return fill != DATA;
        }
    }

    public record Copied(List<Segment> segments, int zeroPages) {
        /** Whether some segment holds bytes in the buffer (a piece of filled pages leaves its room to the next). */
        public boolean holdsData() {
            return segments.stream().anyMatch(s -> !s.filled());
        }
    }

    /**
     * Reads {@code piece} into the buffer from {@code at} on (a multiple of the page: small pieces
     * share a buffer); the segments' offsets are the buffer's.
     */
    public static Copied copy(Pid pid, PageRun piece, ByteBuffer buffer, int at) throws IOException {
        int len = piece.pages() * PAGE;
        if (piece.viaProcMem()) {
            readProcMem(pid, piece.address(), buffer, at, len);
        } else {
            try {
                Sys.readInto(pid, piece.address(), buffer, at, len);
            } catch (dev.cryo.kernel.KernelException e) {
                // memfd_secret memory: only a mapping of its object reaches its pages (SecretMemoryArea)
                if (!dev.cryo.kernel.SecretMemory.copy(false, pid, pid, piece.address(), buffer, at, len)) {
                    throw e;
                }
            }
        }
        List<Segment> segments = new ArrayList<>();
        int zero = 0;
        int start = 0;
        int kind = Segment.DATA; // of pages [start, i): DATA, a fill byte, or ZERO (counted, not written)
        for (int i = 0; i < piece.pages(); i++) {
            int b = oneByte(buffer, at + i * PAGE);
            int k = b == 0 && piece.zeroImplicit() ? ZERO : b;
            if (k == ZERO) {
                zero++;
            }
            if (i > start && k != kind) {
                add(segments, piece, at, start, i, kind);
                start = i;
            }
            kind = k;
        }
        if (piece.pages() > start) {
            add(segments, piece, at, start, piece.pages(), kind);
        }
        return new Copied(segments, zero);
    }

    private static final int ZERO = -2;

    /** The byte every byte of the page at {@code at} holds, or {@link Segment#DATA}. */
    static int oneByte(ByteBuffer buffer, int at) {
        long first = buffer.getLong(at); // the byte order does not matter: all eight must be the same
        int b = (int) first & 0xff;
        if (first != b * ONES) {
            return Segment.DATA;
        }
        return buffer.slice(at, PAGE).mismatch(filled(b)) == -1 ? b : Segment.DATA;
    }

    private static ByteBuffer filled(int b) {
        ByteBuffer page = FILLED[b];
        if (page == null) {
            ByteBuffer p = ByteBuffer.allocateDirect(PAGE);
            for (int i = 0; i < PAGE; i += 8) {
                p.putLong(i, b * ONES);
            }
            page = p.asReadOnlyBuffer();
            FILLED[b] = page; // a race makes two equal pages: either does
        }
        return page.duplicate();
    }

    private static void add(List<Segment> out, PageRun piece, int at, int from, int to, int kind) {
        if (kind != ZERO) {
            out.add(new Segment(piece.address() + (long) from * PAGE, at + from * PAGE, to - from, kind));
        }
    }

    /** PROT_NONE pages: /proc/PID/mem reads them (pagemap said they are present, so none is faulted in). */
    private static void readProcMem(Pid pid, long address, ByteBuffer buffer, int at, int len) throws IOException {
        try (FileChannel mem = FileChannel.open(Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/mem"), StandardOpenOption.READ)) {
            ByteBuffer dst = buffer.duplicate().position(at).limit(at + len);
            while (dst.hasRemaining()) {
                if (mem.read(dst, address + dst.position() - at) <= 0) {
                    throw new IOException("short read of /proc/" + pid + "/mem at 0x" + Long.toHexString(address));
                }
            }
        }
    }

    /** Splits runs into pieces of at most {@code maxPages}, then deals them to {@code workers} lists of similar size. */
    public static List<List<PageRun>> partition(List<PageRun> runs, int maxPages, int workers) {
        List<PageRun> pieces = new ArrayList<>();
        for (PageRun r : runs) {
            for (int off = 0; off < r.pages(); off += maxPages) {
                pieces.add(new PageRun(r.vmaIndex(), r.address() + (long) off * PAGE, Math.min(maxPages, r.pages() - off),
                        r.viaProcMem(), r.zeroImplicit()));
            }
        }
        int n = Math.max(1, Math.min(workers, pieces.size()));
        List<List<PageRun>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new ArrayList<>());
        }
        // contiguous slices keep each worker's reads sequential in the target's address space
        long total = pieces.stream().mapToLong(PageRun::pages).sum();
        long per = Math.max(1, (total + n - 1) / n);
        long acc = 0;
        for (PageRun p : pieces) {
            int w = (int) Math.min(n - 1, acc / per);
            out.get(w).add(p);
            acc += p.pages();
        }
        out.removeIf(List::isEmpty);
        return out;
    }
}
