package dev.cryo.engine.dump;

import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileHandles;
import dev.cryo.kernel.Sys;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Another name of a deleted file, looked for by a thread that joined a mount namespace of the tree (its root the
 * task's): its /proc need not be cryo's, so the file is told by its handle, not by paths of /proc. The name is in
 * the deleted name's directory, or where the kernel names the file opened by its handle through a mount of its
 * file system (one whose root holds the name: a bind of another directory names it outside itself).
 */
final class NamespaceLinks {
    private NamespaceLinks() {}

    /** {@code points}: the mounts of the file's device in that namespace; {@code fds}: cryo's /proc/self/fd. */
    static String find(String path, FileHandles.Handle h, List<String> points, Fd fds) {
        Path dir = Path.of(path).getParent();
        if (dir != null) {
            try (java.util.stream.Stream<Path> entries = Files.list(dir)) {
                String beside = entries.filter(e -> is(e.toString(), h)).map(Path::toString).findFirst().orElse(null);
                if (beside != null) {
                    return beside;
                }
            } catch (java.io.IOException | RuntimeException gone) {
                // its directory is gone too, or this view does not show it: the name is elsewhere
            }
        }
        for (String point : points) {
            try (Fd mount = Sys.open(point, Fcntl.O_RDONLY | Fcntl.O_DIRECTORY);
                 Fd file = FileHandles.open(mount, h.type(), h.bytes())) {
                String found = Sys.readlinkAt(fds, Integer.toString(file.value()));
                if (found.startsWith("/") && !found.endsWith(" (deleted)") && is(found, h)) {
                    return found;
                }
            } catch (RuntimeException e) {
                // not through this mount
            }
        }
        return null;
    }

    /** Whether {@code path}, a final link not followed, is the file of handle {@code h}. */
    private static boolean is(String path, FileHandles.Handle h) {
        try (Fd f = Sys.open(path, Fcntl.O_PATH | Fcntl.O_NOFOLLOW)) {
            FileHandles.Handle g = FileHandles.of(f);
            return g.type() == h.type() && Arrays.equals(g.bytes(), h.bytes());
        } catch (RuntimeException e) {
            return false;
        }
    }
}
