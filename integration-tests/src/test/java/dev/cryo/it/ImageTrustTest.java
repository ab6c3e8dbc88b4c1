package dev.cryo.it;

import dev.cryo.kernel.testing.DetachedProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A restore as root recreates processes with the credentials written in the image, so an image
 * that someone else could have written is refused before anything is read or created.
 */
class ImageTrustTest {
    @TempDir
    Path tmp;

    @Test
    void anImageWritableByOthersOrOwnedBySomeoneElseIsRefused() throws Exception {
        Path img = tmp.resolve("img");
        try (DetachedProcess p = Workloads.counter(tmp)) {
            Cli dump = Cli.run("dump", "-t", p.pid().toString(), "-D", img.toString(), "-R", "--no-progress");
            assertEquals(0, dump.code(), dump.toString());
            Path file = img.resolve("image.cryo");
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            byte[] before = Files.readAllBytes(file);

            Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("rwxrwxrwx"));
            Cli r = Cli.run("restore", "-D", img.toString(), "-d");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.err().contains("image directory " + img + " is writable by anyone"), r.toString());
            Files.setPosixFilePermissions(img, PosixFilePermissions.fromString("rwx------"));

            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw--w----"));
            r = Cli.run("restore", "-D", img.toString(), "-d");
            assertTrue(r.err().contains("image file " + file + " is writable by its group"), r.toString());
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));

            Files.setAttribute(file, "unix:uid", 65534);
            r = Cli.run("restore", "-D", img.toString(), "-d");
            assertTrue(r.err().contains("is owned by uid 65534, neither root nor you"), r.toString());
            Files.setAttribute(file, "unix:uid", 0);

            // trusted again: what stops it now is only the running original's pid
            r = Cli.run("restore", "-D", img.toString(), "-d");
            assertTrue(r.err().contains("pid " + p.pid() + " is in use"), r.toString());
            assertArrayEquals(before, Files.readAllBytes(file), "the image is only ever read");
        }
    }
}
