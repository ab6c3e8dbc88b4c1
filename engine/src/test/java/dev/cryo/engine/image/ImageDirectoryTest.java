package dev.cryo.engine.image;

import static dev.cryo.engine.image.SampleRecords.CODECS;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageDirectoryTest {
    @TempDir Path tmp;
    final ImageOptions opts = ImageOptions.defaults().withFsync(true);

    @Test
    void directoryAndFilesArePrivate() throws IOException {
        Path dir = tmp.resolve("a/b");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts)) {
            assertEquals("rw-------", perms(dir.resolve(ImageFormat.PARTIAL_FILE)));
            w.writeRecord(SampleRecords.process(1));
            w.commit();
        }
        assertEquals("rwx------", perms(dir));
        assertEquals("rw-------", perms(dir.resolve(ImageFormat.IMAGE_FILE)));
    }

    @Test
    void existingImageIsRefused() throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts)) {
            w.commit();
        }
        ImageException e = assertThrows(ImageException.class, () -> ImageWriter.create(dir, CODECS, opts));
        assertEquals(dir + " already holds an image; remove it or choose another directory", e.getMessage());
    }

    @Test
    void abortLeavesNothing() throws IOException {
        Path dir = tmp.resolve("img");
        try (ImageWriter w = ImageWriter.create(dir, CODECS, opts)) {
            w.writeRecord(SampleRecords.process(1));
            // closed without commit: aborted
        }
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void partialOnlyIsRefusedByReaderAndWriter() throws IOException {
        Path dir = tmp.resolve("img");
        ImageWriter w = ImageWriter.create(dir, CODECS, opts);
        w.writeRecord(SampleRecords.process(1)); // left running: as after a crash
        IncompleteImageException e = assertThrows(IncompleteImageException.class, () -> ImageReader.open(dir, CODECS));
        assertTrue(e.getMessage().contains("the dump did not complete"), e.getMessage());
        ImageException busy = assertThrows(ImageException.class, () -> ImageWriter.create(dir, CODECS, opts));
        assertTrue(busy.getMessage().contains(ImageFormat.PARTIAL_FILE), busy.getMessage());
        w.abort();
    }

    @Test
    void missingTrailerIsRefused() throws IOException {
        Path dir = tmp.resolve("img");
        ImageWriter w = ImageWriter.create(dir, CODECS, opts);
        w.writeRecord(SampleRecords.process(1));
        w.writePages(1, 0x1000, 1, SampleRecords.pages(1, 0x1000, 1, 4096));
        // someone renames the unfinished file by hand
        Files.copy(dir.resolve(ImageFormat.PARTIAL_FILE), dir.resolve(ImageFormat.IMAGE_FILE));
        w.abort();
        IncompleteImageException e = assertThrows(IncompleteImageException.class, () -> ImageReader.open(dir, CODECS));
        assertTrue(e.getMessage().startsWith("image.cryo has no trailer: the dump did not complete"), e.getMessage());
    }

    static String perms(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }
}
