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
 * into segments of non-zero pages; zero pages are only counted — recorded, never written.
 */
public final class PageCopier {
    private static final int PAGE = (int) RemoteTask.PAGE;
    private static final ByteBuffer ZERO_PAGE = ByteBuffer.allocateDirect(PAGE).asReadOnlyBuffer();

    private PageCopier() {}

    /** Non-zero pages at {@code address}, held at {@code offset} in the buffer. */
    public record Segment(long address, int offset, int pages) {}

    public record Copied(List<Segment> segments, int zeroPages) {}

    /**
     * Reads {@code piece} into the buffer from {@code at} on (a multiple of the page: small pieces
     * share a buffer); the segments' offsets are the buffer's.
     */
    public static Copied copy(Pid pid, PageRun piece, ByteBuffer buffer, int at) throws IOException {
        int len = piece.pages() * PAGE;
        if (piece.viaProcMem()) {
            readProcMem(pid, piece.address(), buffer, at, len);
        } else {
            Sys.readInto(pid, piece.address(), buffer, at, len);
        }
        List<Segment> segments = new ArrayList<>();
        int zero = 0;
        int start = -1;
        for (int i = 0; i < piece.pages(); i++) {
            boolean isZero = piece.zeroImplicit() && buffer.slice(at + i * PAGE, PAGE).mismatch(ZERO_PAGE.duplicate()) == -1;
            if (isZero) {
                zero++;
                if (start >= 0) {
                    segments.add(segment(piece, at, start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
        }
        if (start >= 0) {
            segments.add(segment(piece, at, start, piece.pages()));
        }
        return new Copied(segments, zero);
    }

    private static Segment segment(PageRun piece, int at, int from, int to) {
        return new Segment(piece.address() + (long) from * PAGE, at + from * PAGE, to - from);
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
