package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FdImage;
import dev.cryo.kernel.DirNotifications;
import dev.cryo.kernel.ExitedLeaders;
import dev.cryo.kernel.Pid;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Directory notifications (dnotify, {@code fcntl(fd, F_NOTIFY, DN_*)}): state of a task's fd table
 * that no /proc file shows. The dump reads them with cryo's BPF iterator ({@link DirNotifications})
 * and records each on the fd it was made through, with that file's signal owner and F_SETSIG signal
 * (F_NOTIFY itself makes the caller the owner); the restore registers it again once every fd is in
 * place (closing any fd of that open file in the table drops the registration).
 */
public final class DirectoryNotifications {
    private DirectoryNotifications() {}

    /** The fds of a frozen task's table that may hold a registration: those of a directory. */
    static boolean mayHold(FdProbe probe, dev.cryo.engine.model.FileDesc desc) {
        if (desc instanceof RegularFileHandler.RegularFile r) {
            return FileIdentity.isDirectory(r.file());
        }
        return desc instanceof SharedFdHandler.SharedFd s && s.ownerTag() == RegularFileHandler.TAG
                && java.nio.file.Files.isDirectory(probe.procPath());
    }

    /**
     * {@code fds} with the registrations of {@code pid}'s fd table set on the fds they were made
     * through; {@code dirs} are the fds of directories (no registration can be elsewhere).
     */
    static List<FdImage> dump(Pid pid, List<FdImage> fds, List<FdProbe> dirs) {
        if (dirs.isEmpty()) {
            return fds;
        }
        List<DirNotifications.Registration> found;
        try {
            found = DirNotifications.of(ExitedLeaders.reader(pid.value()));
        } catch (DirNotifications.TooMany e) {
            throw new DumpException("pid " + pid + " " + e.getMessage() + "; its directory notifications (fcntl F_NOTIFY)"
                    + " cannot all be seen", e);
        } catch (RuntimeException e) {
            return unseen(pid, fds, dirs, e);
        }
        Map<Integer, DirNotifications.Registration> byFd = new HashMap<>();
        found.forEach(r -> byFd.put(r.fd(), r));
        java.util.Set<Integer> dirFds = new java.util.HashSet<>();
        dirs.forEach(d -> dirFds.add(d.fd()));
        List<FdImage> out = new ArrayList<>(fds.size());
        for (FdImage f : fds) {
            DirNotifications.Registration r = byFd.get(f.fd());
            if (r == null && dirFds.contains(f.fd()) && f.owner() == null) {
                // a spent one-shot registration leaves its owner and F_SETSIG signal on the file
                f = new FdImage(f.fd(), f.flags(), f.position(), f.desc(), owner(pid, f.fd()), 0);
            }
            if (r == null || r.notifyFd() != f.fd()) {
                DirNotifications.Registration made = r == null ? null : byFd.get(r.notifyFd());
                if (r != null && (made == null || made.notifyFd() != r.notifyFd())) {
                    throw new DumpException("pid " + pid + " fd " + f.fd() + ": a directory notification (fcntl F_NOTIFY, "
                            + DirNotifications.describe(r.dnMask()) + ") made through fd " + r.notifyFd()
                            + ", which no longer holds this directory; it cannot be made again as it is");
                }
                out.add(f);
                continue;
            }
            out.add(new FdImage(f.fd(), f.flags(), f.position(), f.desc(), f.owner() != null ? f.owner() : owner(pid, f.fd()),
                    r.dnMask()));
        }
        return out;
    }

    /** The signal owner of directory fd {@code fd} (F_NOTIFY sets it; F_SETSIG's signal too), or null. */
    private static FdOwner owner(Pid pid, int fd) {
        FdOwner owner = FdOwner.read(pid, fd);
        if (owner != null && owner.threadOf() != 0 && owner.threadOf() != pid.value()) {
            throw new DumpException("pid " + pid + " fd " + fd + ": the signal owner (F_SETOWN_EX) of its directory is thread "
                    + owner.pid() + " of pid " + owner.threadOf() + ", a thread of another process; not supported");
        }
        return owner;
    }

    /**
     * Where the iterator cannot run (no BTF, no bpf() for cryo, kallsyms hidden): a directory fd
     * with a signal owner, which F_NOTIFY always sets, may hold a registration cryo cannot see.
     */
    private static List<FdImage> unseen(Pid pid, List<FdImage> fds, List<FdProbe> dirs, RuntimeException why) {
        for (FdProbe d : dirs) {
            FdOwner owner = FdOwner.read(pid, d.fd());
            if (owner != null) {
                throw new DumpException(d.where() + " (" + d.target() + "): a directory with a signal owner (" + owner
                        + "), which a directory notification (fcntl F_NOTIFY) sets, and cryo cannot read those here: "
                        + why.getMessage(), why);
            }
        }
        return fds;
    }
}
