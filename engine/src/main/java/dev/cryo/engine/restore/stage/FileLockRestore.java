package dev.cryo.engine.restore.stage;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.files.FileLocks;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.SyscallNr;
import static dev.cryo.kernel.Fcntl.F_OFD_SETLK;
import static dev.cryo.kernel.Fcntl.F_RDLCK;
import static dev.cryo.kernel.Fcntl.F_SETLK;
import static dev.cryo.kernel.Fcntl.F_WRLCK;

/**
 * Takes the task's file locks and leases again (flock, POSIX, OFD), once every fd of the tree is in place:
 * a POSIX lock is dropped when its process closes any fd of the file, which the FILES passes do
 * with their temporary fds. Non-blocking: the dumped tree held them all at once, so none waits.
 */
public final class FileLockRestore implements StateStage {
    private static final int FLOCK = dev.cryo.kernel.SyscallNr.FLOCK, LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;

    @Override
    public String name() {
        return "file locks";
    }

    @Override
    public void run(TaskContext t) {
        for (FdImage fd : t.task().fds()) {
            for (FileLocks.Lock l : FileLocks.of(fd.desc())) {
                String what = l.describe() + " on fd " + fd.fd();
                if (l.kind() == FileLocks.LEASE || l.kind() == FileLocks.LEASE_BREAKING) {
                    // after the FILES passes closed cryo's own opens of the file
                    long owner = ownerInside(t, fd.fd());
                    long was = owner < 0 ? -1 : t.call("setfsuid(" + owner + ")", SyscallNr.SETFSUID, owner);
                    t.call("fcntl(" + what + ")", SyscallNr.FCNTL, fd.fd(), dev.cryo.kernel.Fcntl.F_SETLEASE,
                            l.write() ? F_WRLCK : F_RDLCK);
                    if (was >= 0) {
                        t.call("setfsuid(" + was + ")", SyscallNr.SETFSUID, was);
                    }
                    // F_SETLEASE makes the caller the file's signal owner: the dumped one (the process
                    // that took the lease, maybe not this holder) is given back
                    ownerAgain(t, fd);
                    // one being broken is broken again later, once signals are held (LeaseBreaks)
                    continue;
                }
                if (l.kind() == FileLocks.FLOCK) {
                    take(t, what, "flock(" + what + ")", FLOCK, fd.fd(), (l.write() ? LOCK_EX : LOCK_SH) | LOCK_NB);
                    continue;
                }
                // struct flock: short type, short whence (SEEK_SET), pad, off_t start, off_t len, pid_t pid, pad
                long len = l.end() == FileLocks.EOF ? 0 : l.end() - l.start() + 1;
                byte[] fl = new RemoteWriter(32).ints((l.write() ? F_WRLCK : F_RDLCK) & 0xffff, 0)
                        .longs(l.start(), len).ints(0, 0).toBytes();
                take(t, what, "fcntl(" + what + ")", SyscallNr.FCNTL, fd.fd(),
                        l.kind() == FileLocks.POSIX ? F_SETLK : F_OFD_SETLK, t.put(fl));
            }
        }
    }

    /** How long a lock another process holds is waited for. */
    static final java.time.Duration WAIT = java.time.Duration.ofSeconds(5);

    /**
     * Takes one lock, waiting up to {@link #WAIT} while another process holds it: a migration's source that shares
     * the file (two agents on one host, shared storage) lets go of its locks once its image is sent
     * (dev.cryo.engine.dump.HeldLocks), the copy's restore running meanwhile.
     */
    private static void take(TaskContext t, String what, String name, int nr, long... args) {
        long until = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                t.call(name, nr, args);
                return;
            } catch (dev.cryo.kernel.SyscallException e) {
                if (e.errno() != dev.cryo.kernel.Errno.EAGAIN) {
                    throw e;
                }
                if (System.nanoTime() > until) {
                    throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + ": its " + what
                            + ": another process holds a lock on that file, still after " + WAIT.toSeconds() + " s ("
                            + e.getMessage() + ")", e);
                }
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
            }
        }
    }

    /**
     * The owner of the file of fd {@code fd} as the task names it when the task is in a user namespace other
     * than cryo's, else -1: a lease needs the file's owner as fsuid or CAP_LEASE, which a task of a user
     * namespace never has (zdtm's file_lease00 in its uns flavor), so it is taken with that fsuid.
     */
    private static long ownerInside(TaskContext t, int fd) {
        String pid = t.pid().toString();
        String user = dev.cryo.kernel.Namespaces.link(pid, "user");
        if (user == null || user.equals(dev.cryo.kernel.Namespaces.link("self", "user"))) {
            return -1;
        }
        try {
            Number uid = (Number) java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/" + pid + "/fd/" + fd),
                    "unix:uid");
            return InsideUid.of(pid, uid.longValue(), "the owner of the file of its leased fd " + fd);
        } catch (java.io.IOException e) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + pid + ": cannot read the owner of its fd " + fd
                    + ": " + e);
        }
    }

    /**
     * Starts the break again, as CRIU does: a non-blocking open of the file by cryo that the lease
     * refuses (EWOULDBLOCK) leaves it breaking toward the dumped type, its break time running anew.
     * The holder heard the break signal before the dump (one still pending then is in the image with
     * the task's other pending signals), so this break sends none: the file has no signal owner
     * while it starts (zdtm's file_lease04 failed on the second signal: "Ghost signal").
     */
    static void breakAgain(TaskContext t, FdImage fd, FileLocks.Lock l) {
        FileRestore.setOwner(t, fd.fd(), NO_OWNER);
        t.flush();
        int mode = l.start() == Fcntl.F_RDLCK ? Fcntl.O_RDONLY : Fcntl.O_WRONLY;
        String path = "/proc/" + t.pid() + "/fd/" + fd.fd();
        try (dev.cryo.kernel.Fd opened = dev.cryo.kernel.Sys.open(path, mode | Fcntl.O_NONBLOCK | Fcntl.O_CLOEXEC)) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + " fd " + fd.fd() + ": its " + l.describe()
                    + " did not break again: an open of the file went through");
        } catch (dev.cryo.kernel.SyscallException e) {
            if (e.errno() != dev.cryo.kernel.Errno.EAGAIN) {
                throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + " fd " + fd.fd() + ": breaking its "
                        + l.describe() + " again: " + e.getMessage(), e);
            }
        }
        ownerAgain(t, fd);
    }

    /** No signal owner: F_SETOWN_EX to pid 0. */
    private static final dev.cryo.engine.files.FdOwner NO_OWNER = new dev.cryo.engine.files.FdOwner(Fcntl.F_OWNER_PID, 0, 0);

    /** The fd's dumped signal owner set again (none when it had none). */
    private static void ownerAgain(TaskContext t, FdImage fd) {
        dev.cryo.engine.files.FdOwner o = fd.owner();
        FileRestore.setOwner(t, fd.fd(), o == null || o.pid() == 0 ? NO_OWNER : o);
    }
}
