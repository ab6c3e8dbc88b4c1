package dev.cryo.engine.image;

import dev.cryo.config.Compression;

import static dev.cryo.engine.image.SampleRecords.CODECS;
import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several copiers writing their pages into one image file at once, with records in between. */
class ConcurrentPagesTest {
    @TempDir Path tmp;

    @Test
    void pagesWrittenFromSeveralThreadsReadBackWholeAndChecked() throws Exception {
        Path dir = tmp.resolve("img");
        int threads = 4, chunksEach = 50;
        try (ImageWriter w = ImageWriter.create(dir, CODECS, ImageRoundTripTest.opts(Compression.NONE))) {
            ImageSink.ConcurrentPages direct = w.concurrentPages();
            assertNotNull(direct, "a file without compression takes concurrent page writes");
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int pid = 100 + t;
                    done.add(pool.submit(() -> {
                        ImageSink.Scratch scratch = new ImageSink.Scratch();
                        for (int i = 0; i < chunksEach; i++) {
                            int n = 1 + i % 5;
                            long vaddr = 0x10000000L + (long) i * 0x10000;
                            ByteBuffer data = ByteBuffer.allocateDirect(n * 4096)
                                    .put(SampleRecords.pages(pid, vaddr, n, 4096)).flip();
                            direct.writePages(pid, vaddr, n, data, scratch);
                            assertFalse(data.hasRemaining());
                        }
                        return null;
                    }));
                }
                for (int i = 0; i < 5; i++) {
                    w.writeRecord(SampleRecords.sampleImageRecords().get(0)); // the writer's own chunks meanwhile
                }
                for (Future<?> f : done) {
                    f.get();
                }
            } finally {
                pool.shutdown();
            }
            w.commit();
        }
        try (ImageReader r = ImageReader.open(dir, CODECS)) {
            r.verify();
            List<IndexEntry> pages = r.pageChunks();
            assertEquals(threads * chunksEach, pages.size());
            Set<String> seen = new HashSet<>();
            for (IndexEntry e : pages) {
                assertTrue(seen.add(e.pid() + "@" + e.vaddr()), "written once: " + e.describe());
                ByteBuffer expected = SampleRecords.pages(e.pid(), e.vaddr(), e.pageCount(), 4096);
                ByteBuffer dst = ByteBuffer.allocateDirect(e.rawLength());
                r.readPages(e, dst);
                assertEquals(expected, dst.flip(), e.describe());
                assertEquals(expected, r.mappedPages(e, false), "mapped: " + e.describe());
            }
            assertEquals(5, r.records().size());
        }
    }

    @Test
    void compressionKeepsPagesOnTheSingleWriter() throws Exception {
        try (ImageWriter w = ImageWriter.create(tmp.resolve("z"), CODECS, ImageRoundTripTest.opts(Compression.ZSTD))) {
            assertNull(w.concurrentPages());
        }
    }
}
