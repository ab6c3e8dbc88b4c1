package dev.cryo.engine.restore;

import dev.cryo.engine.image.ImageFormat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * An image restored as root recreates processes with the credentials written in it, so whoever can
 * write an image can run code as anyone. A restore therefore trusts only an image directory and
 * file owned by root or by the user restoring, and writable by nobody else (group or others), like
 * sshd's StrictModes. Symbolic links are judged by what they are, not followed.
 */
public final class ImageTrust {
    private ImageTrust() {}

    private static final int GROUP_WRITE = 020, OTHER_WRITE = 02;

    /** Throws a RestoreException that says why, before anything of the image is read. */
    public static void check(Path dir) {
        int me = currentUid();
        checkOne(dir, "image directory", me);
        Path file = dir.resolve(ImageFormat.IMAGE_FILE);
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            if (Files.isSymbolicLink(file)) {
                throw new RestoreException(file + " is a symbolic link: an image file must be a regular file");
            }
            checkOne(file, "image file", me);
        }
    }

    private static void checkOne(Path p, String what, int me) {
        int uid;
        int mode;
        try {
            uid = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | UnsupportedOperationException e) {
            return; // absent: the reader reports a missing image with its own message
        }
        if (uid != 0 && uid != me) {
            throw new RestoreException(what + " " + p + " is owned by uid " + uid + ", neither root nor you (uid " + me
                    + "): an image is trusted only from its owner, since it says which user its processes run as");
        }
        if ((mode & (GROUP_WRITE | OTHER_WRITE)) != 0) {
            throw new RestoreException(what + " " + p + " is writable by " + ((mode & OTHER_WRITE) != 0 ? "anyone" : "its group")
                    + " (mode " + String.format("%04o", mode & 07777) + "): someone else could have forged it; "
                    + "restore refuses it (chmod go-w it if you trust its contents)");
        }
    }

    private static int currentUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            return 0;
        }
    }
}
