package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.*;

/** A real image, damaged in the ways disks and copies damage files: `cryo show` names what is wrong. */
class ShowDamagedImageTest {
    @TempDir
    static Path tmp;
    static Path image;

    @BeforeAll
    static void dumpOnce() throws Exception {
        try (DetachedProcess p = Workloads.counter(tmp)) {
            image = tmp.resolve("img");
            Cli r = Cli.run("dump", "-t", p.pid().toString(), "-D", image.toString(), "--no-progress");
            assertEquals(0, r.code(), r.toString());
        }
    }

    private Path copy(String name) throws Exception {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.copy(image.resolve("image.cryo"), dir.resolve("image.cryo"), StandardCopyOption.REPLACE_EXISTING);
        return dir;
    }

    @Test
    void everyByteFlipIsReportedWithItsChunk() throws Exception {
        long size = Files.size(image.resolve("image.cryo"));
        // a sample of positions across the header, page chunks, records, index and trailer
        for (long pos : new long[]{3, 40, 100, size / 3, size / 2, size - 2000, size - 100, size - 5}) {
            Path dir = copy("flip-" + pos);
            try (RandomAccessFile f = new RandomAccessFile(dir.resolve("image.cryo").toFile(), "rw")) {
                f.seek(pos);
                int b = f.read();
                f.seek(pos);
                f.write(b ^ 0x5a);
            }
            Cli r = Cli.run("show", dir.toString());
            assertEquals(1, r.code(), "flip at " + pos + ": " + r);
            assertTrue(r.err().matches("(?s)cryo: image\\.cryo .*(chunk \\d+|header|trailer|index).*"),
                    "flip at " + pos + " must name the damaged part: " + r.err());
            assertEquals("", r.out(), "nothing printed from a damaged image");
        }
    }

    @Test
    void aTruncatedImageIsRefused() throws Exception {
        Path dir = copy("cut");
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("image.cryo").toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        Cli r = Cli.run("show", dir.toString());
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("did not complete") || r.err().contains("truncated"), r.err());
    }

    @Test
    void anImageWithoutItsTrailerIsRefused() throws Exception {
        Path dir = copy("no-trailer");
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("image.cryo").toFile(), "rw")) {
            f.setLength(f.length() - 32);
        }
        Cli r = Cli.run("show", dir.toString());
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("no trailer"), r.err());
    }
}
