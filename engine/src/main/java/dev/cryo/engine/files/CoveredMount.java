package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * An fd of a file on a mount that a later mount of the same file system covers (zdtm's overmounted_file: a tmpfs
 * bound over itself after the file was opened): its path, seen from the holder's root, reaches the same file
 * through the covering mount, so a restore reopening it by path put the fd on that mount, not on the covered
 * one, and an umount of the covering mount then found it busy. Refused at dump, as CRIU refuses it.
 */
final class CoveredMount {
    private CoveredMount() {}

    /** Refuses {@code fd} when its path reaches its very file through another mount of the holder's namespace. */
    static void refuse(FdProbe fd, FdHandler.DumpContext ctx) {
        if (fd.info() == null || !fd.target().startsWith("/") || fd.target().endsWith(" (deleted)")) {
            return;
        }
        int id = fd.info().mntId();
        Path seen = Path.of(fd.pid().procDir() + "/root" + fd.target());
        int there;
        try {
            there = (int) Sys.mountId(seen.toString());
            if (there == id || !ctx.mountTables().of(fd.pid().value()).contains(id)
                    || !ctx.mountTables().of(fd.pid().value()).contains(there)
                    || !sameInode(seen, fd.procPath())) {
                return;
            }
        } catch (IOException | RuntimeException e) { // nothing at that path, or another file: not this case
            return;
        }
        throw new DumpException(fd.where() + ": " + fd.target() + " is open on mount " + id + ", which mount " + there
                + " of the same file system now covers at that path; reopened by its path it would come back on mount "
                + there + " (an umount of that one would then find it busy); not supported (CRIU refuses it too)");
    }

    private static boolean sameInode(Path a, Path b) throws IOException {
        return Files.getAttribute(a, "unix:ino", LinkOption.NOFOLLOW_LINKS).equals(Files.getAttribute(b, "unix:ino"))
                && Files.getAttribute(a, "unix:dev", LinkOption.NOFOLLOW_LINKS).equals(Files.getAttribute(b, "unix:dev"));
    }
}
