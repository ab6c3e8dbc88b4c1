package dev.cryo.engine.image;

import static dev.cryo.engine.image.SampleRecords.CODECS;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A version-1 image committed to the repository. If this test fails, the format changed: that
 * needs a new format version (and a new golden under golden/v2), not a regenerated v1 file.
 * To create it the first time: mvn test -Dcryo.golden.write=engine/src/test/resources/golden/v1
 */
class GoldenImageTest {
    static final ImageOptions OPTIONS = ImageOptions.defaults().withFsync(false);
    @TempDir Path tmp;

    @Test
    void goldenImageDecodesAndReencodesToIdenticalBytes() throws IOException {
        String out = System.getProperty("cryo.golden.write");
        if (out != null) {
            Path dir = Path.of(out).toAbsolutePath();
            Files.deleteIfExists(dir.resolve(ImageFormat.IMAGE_FILE));
            try (ImageWriter w = ImageWriter.create(dir, CODECS, OPTIONS)) {
                SampleRecords.writeSampleImage(w);
                w.commit();
            }
        }
        Path golden = tmp.resolve("golden");
        Files.createDirectories(golden);
        try (InputStream in = getClass().getResourceAsStream("/golden/v1/image.cryo")) {
            assertNotNull(in, "golden/v1/image.cryo missing from test resources");
            Files.copy(in, golden.resolve(ImageFormat.IMAGE_FILE), StandardCopyOption.REPLACE_EXISTING);
        }
        byte[] goldenBytes = Files.readAllBytes(golden.resolve(ImageFormat.IMAGE_FILE));

        Path again = tmp.resolve("reencoded");
        try (ImageReader r = ImageReader.open(golden, CODECS);
             ImageWriter w = ImageWriter.create(again, CODECS, OPTIONS.withPageSize(r.pageSize()))) {
            assertEquals(1, r.formatVersion());
            r.verify();
            assertEquals(SampleRecords.sampleImageRecords(), r.records());
            for (IndexEntry e : r.entries()) {
                if (e.type() == ChunkType.RECORD) {
                    w.writeRecord(r.readRecord(e));
                } else {
                    ByteBuffer pages = ByteBuffer.allocateDirect(e.rawLength());
                    r.readPages(e, pages);
                    assertEquals(SampleRecords.pages(e.pid(), e.vaddr(), e.pageCount(), r.pageSize()), pages.flip());
                    w.writePages(e.pid(), e.vaddr(), e.pageCount(), pages);
                }
            }
            w.commit();
        }
        assertArrayEquals(goldenBytes, Files.readAllBytes(again.resolve(ImageFormat.IMAGE_FILE)));

        Path fresh = tmp.resolve("fresh");
        try (ImageWriter w = ImageWriter.create(fresh, CODECS, OPTIONS)) {
            SampleRecords.writeSampleImage(w);
            w.commit();
        }
        assertArrayEquals(goldenBytes, Files.readAllBytes(fresh.resolve(ImageFormat.IMAGE_FILE)));
    }
}
