package dev.cryo.engine.model.codec;

import static dev.cryo.engine.model.codec.ModelEquality.assertModelEquals;
import static org.junit.jupiter.api.Assertions.*;

import dev.cryo.engine.image.ImageFormat;
import dev.cryo.engine.image.ImageOptions;
import dev.cryo.engine.image.ImageReader;
import dev.cryo.engine.image.ImageWriter;
import dev.cryo.engine.image.IndexEntry;
import dev.cryo.engine.model.TaskImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model image (DumpInfo, one TaskImage, two PAGES chunks) committed to the repository, with
 * every codec at version 1. If this fails, a codec's layout changed: bump that codec's version,
 * keep reading version 1, and add a new golden (model-v2) instead of regenerating this one.
 * Pages are stored uncompressed so the bytes do not depend on the zstd library's version.
 *
 * <p>To create it (its own switch, so the container's golden is not overwritten at the same time):
 * {@code mvn test -pl engine -Dtest=ModelGoldenImageTest -Dcryo.golden.model.write=src/test/resources/golden/model-v1}
 * (a relative path is resolved against the engine module, where surefire runs).
 */
class ModelGoldenImageTest {
    static final ImageOptions OPTIONS = ImageOptions.defaults().withFsync(false);
    @TempDir Path tmp;

    @Test
    void goldenModelImageDecodesAndReencodesToIdenticalBytes() throws IOException {
        String out = System.getProperty("cryo.golden.model.write");
        if (out != null) {
            Path dir = Path.of(out).toAbsolutePath();
            Files.deleteIfExists(dir.resolve(ImageFormat.IMAGE_FILE));
            try (ImageWriter w = ImageWriter.create(dir, ModelCodecs.ALL, OPTIONS)) {
                ModelSamples.writeModelImage(w);
                w.commit();
            }
        }
        Path golden = tmp.resolve("golden");
        Files.createDirectories(golden);
        try (InputStream in = getClass().getResourceAsStream("/golden/model-v1/image.cryo")) {
            assertNotNull(in, "golden/model-v1/image.cryo missing from test resources");
            Files.copy(in, golden.resolve(ImageFormat.IMAGE_FILE), StandardCopyOption.REPLACE_EXISTING);
        }
        byte[] goldenBytes = Files.readAllBytes(golden.resolve(ImageFormat.IMAGE_FILE));

        Path again = tmp.resolve("reencoded");
        try (ImageReader r = ImageReader.open(golden, ModelCodecs.ALL);
             ImageWriter w = ImageWriter.create(again, ModelCodecs.ALL, OPTIONS.withPageSize(r.pageSize()))) {
            r.verify();
            List<Object> records = r.records();
            assertEquals(6, records.size());
            assertEquals(ModelSamples.zombie(), records.get(2));
            assertEquals(ModelSamples.layout(), records.get(3));
            assertEquals(ModelSamples.namespaces(), records.get(4));
            assertEquals(ModelSamples.netNamespace(), records.get(5));
            assertEquals(ModelSamples.dumpInfo(), records.get(0));
            TaskImage task = (TaskImage) records.get(1);
            assertModelEquals(ModelSamples.task(ModelSamples.PID), task);
            // a few values spelled out, so a broken sample cannot hide a broken decoder
            assertEquals(4242, task.pid());
            assertEquals("sleeper", task.comm());
            assertEquals(0x5555_5555_4123L, task.threads().get(0).regs()[16]);
            assertEquals(5, task.vmas().size());
            assertEquals("/run/app.fifo", ((dev.cryo.engine.files.PipeHandler.Pipe) task.fds().get(4).desc()).fifoPath());
            assertEquals(2, r.pageChunks().size());

            for (IndexEntry e : r.entries()) {
                if (e.type() == dev.cryo.engine.image.ChunkType.RECORD) {
                    w.writeRecord(r.readRecord(e));
                } else {
                    ByteBuffer pages = ByteBuffer.allocateDirect(e.rawLength());
                    r.readPages(e, pages);
                    assertEquals(ModelSamples.pages(e.vaddr(), e.pageCount()), pages.flip());
                    w.writePages(e.pid(), e.vaddr(), e.pageCount(), pages);
                }
            }
            w.commit();
        }
        assertArrayEquals(goldenBytes, Files.readAllBytes(again.resolve(ImageFormat.IMAGE_FILE)));

        Path fresh = tmp.resolve("fresh");
        try (ImageWriter w = ImageWriter.create(fresh, ModelCodecs.ALL, OPTIONS)) {
            ModelSamples.writeModelImage(w);
            w.commit();
        }
        assertArrayEquals(goldenBytes, Files.readAllBytes(fresh.resolve(ImageFormat.IMAGE_FILE)));
    }
}
