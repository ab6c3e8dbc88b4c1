package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.ImageSink;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.codec.ModelCodecs;
import dev.cryo.engine.restore.ImageContents;
import dev.cryo.engine.restore.PageSlice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The image of a pre-dump whose tracking a dump took over ({@code cryo dump --prev-images-dir}): the
 * latest copy of each page it holds, cut to its tasks' final mappings as a restore would take them,
 * copied into the new image while the tree runs, so the new image is whole on its own.
 */
public final class PreviousImage implements AutoCloseable {
    private static final long PAGE = RemoteTask.PAGE;

    private final Path dir;
    private final Map<Integer, List<PageSlice>> pages;
    private final ImageReader reader;
    private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

    private PreviousImage(Path dir, Map<Integer, List<PageSlice>> pages, ImageReader reader) {
        this.dir = dir;
        this.pages = pages;
        this.reader = reader;
    }

    /** Reads and checks the image in {@code dir} (its page chunks are checked as they are copied). */
    public static PreviousImage open(Path dir, long maxChunk) {
        try {
            ImageContents image = ImageContents.read(dir, maxChunk);
            return new PreviousImage(dir, image.pages(), ImageReader.openForPages(dir, ModelCodecs.ALL, maxChunk));
        } catch (IOException | RuntimeException e) {
            throw new DumpException("the previous image in " + dir + " cannot be read: " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    /** Whether the previous image holds task {@code pid}. */
    public boolean holds(int pid) {
        return pages.containsKey(pid);
    }

    /** The pages of {@code pid} the previous image holds inside {@code ranges}, in address order. */
    public List<PageSlice> within(int pid, PageRanges ranges) {
        List<PageSlice> out = new ArrayList<>();
        for (PageSlice s : pages.getOrDefault(pid, List.of())) {
            PageRanges in = ranges.within(s.address(), s.end());
            for (int k = 0; k < in.size(); k++) {
                out.add(new PageSlice(s.chunk(), s.firstPage() + (int) ((in.start(k) - s.address()) / PAGE),
                        (int) ((in.end(k) - in.start(k)) / PAGE)));
            }
        }
        return out;
    }

    /** The addresses {@code slices} cover. */
    public static PageRanges ranges(List<PageSlice> slices) {
        PageRanges.Builder b = new PageRanges.Builder(slices.size());
        slices.forEach(s -> b.add(s.address(), s.end()));
        return b.build();
    }

    /** Writes {@code slices} of task {@code pid} into {@code sink}, each chunk checked as it is read; returns the pages. */
    public synchronized long copy(int pid, List<PageSlice> slices, ImageSink sink) throws IOException {
        long pagesCopied = 0;
        IndexEntry read = null;
        for (PageSlice s : slices) {
            IndexEntry e = s.chunk();
            if (e.fill()) {
                sink.writeFill(pid, s.address(), s.pages(), (byte) reader.fillByte(e));
            } else {
                if (read != e) {
                    if (buffer.capacity() < e.rawLength()) {
                        buffer = ByteBuffer.allocateDirect(e.rawLength());
                    }
                    buffer.clear();
                    reader.readPages(e, buffer);
                    read = e;
                }
                sink.writePages(pid, s.address(), s.pages(), buffer.slice((int) (s.firstPage() * PAGE), (int) (s.pages() * PAGE)));
            }
            pagesCopied += s.pages();
        }
        return pagesCopied;
    }

    @Override
    public synchronized void close() {
        try {
            reader.close();
        } catch (IOException ignored) {
            // read-only: nothing is lost
        }
    }
}
