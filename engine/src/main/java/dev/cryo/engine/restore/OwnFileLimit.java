package dev.cryo.engine.restore;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.Limits;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * cryo's own limit on open files (RLIMIT_NOFILE) against what a restore holds at once: it builds every
 * socket of the image in its own process before handing each to its task, and makes every shared memory object
 * there too, so a tree of more sockets or objects than that limit failed part way with EMFILE and a message about
 * whatever it was opening then (stress-ng's sockpair stressor: 20 000 sockets in two processes; its mlock stressor:
 * 39 000 shared anonymous areas, "cannot start the root task: open(/proc/self/map_files/...): EMFILE"). The limit
 * is raised as far as cryo may (the soft one to the hard one; the hard one, up to fs.nr_open, with
 * CAP_SYS_RESOURCE), else the restore is refused by name before any task is made.
 */
final class OwnFileLimit {
    private OwnFileLimit() {}

    /** Files cryo itself keeps open beside the sockets (its jars, the image, pidfds, /proc files). */
    static final int MARGIN = 512;

    /**
     * Makes room for {@code count} more open files, or refuses the restore naming the limit and {@code what} they are
     * (a plural noun, and how the restore holds them in cryo's own process).
     */
    static void roomFor(int count, String what) {
        long open = openNow(), need = open + count + MARGIN;
        Limits.Limit now = limit();
        if (now.softUnlimited() || now.soft() >= need) {
            return;
        }
        try { // a hard limit above fs.nr_open is refused too
            Sys.setOwnLimit(Limits.RLIMIT_NOFILE, need, now.hardUnlimited() ? Limits.INFINITY : Math.max(now.hard(), need));
        } catch (KernelException noCapSysResource) {
            if (!now.hardUnlimited() && now.soft() < now.hard()) {
                Sys.setOwnLimit(Limits.RLIMIT_NOFILE, now.hard(), now.hard());
            }
        }
        Limits.Limit after = limit();
        if (!after.softUnlimited() && after.soft() < need) {
            throw new RestoreException("the image holds " + count + " " + what + ", and cryo may open only " + after.soft()
                    + " files"
                    + " (RLIMIT_NOFILE, " + open + " open now; raising the hard limit needs CAP_SYS_RESOURCE): run the"
                    + " restore with ulimit -n of at least " + need);
        }
    }

    private static Limits.Limit limit() {
        try {
            return Limits.parse("/proc/self/limits", Files.readString(Path.of("/proc/self/limits")))
                    .get(Limits.RLIMIT_NOFILE);
        } catch (IOException e) {
            throw new RestoreException("cannot read cryo's own /proc/self/limits: " + e.getMessage(), e);
        }
    }

    private static long openNow() {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            throw new RestoreException("cannot list cryo's own /proc/self/fd: " + e.getMessage(), e);
        }
    }
}
