package dev.cryo.engine.dump;

import dev.cryo.engine.files.FileLocks;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Tracer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The file locks (flock, POSIX, OFD) of a task held frozen while its copy starts elsewhere (a migration's
 * two-phase handover). The copy takes them again; where it shares the files with the frozen source (two agents
 * on one host, or storage both hosts mount) it found them taken by the source itself, and the migration failed
 * (tarantool's lock on its data directory: "flock(...): EAGAIN"). So the held task lets go of them once its image
 * is sent, and takes them back before it runs here again if the migration fails. Leases stay: no other process may
 * take one on a file the source has open anyway.
 */
public final class HeldLocks {
    private static final int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
    private static final int STRUCT_FLOCK = 32;

    private HeldLocks() {}

    /**
     * Lets go of every flock, POSIX and OFD lock of the dumped task; returns what it did not let go. Those of a file
     * another process waits to lock stay: that process would take them (the frozen tree's own waiters left their
     * wait when they were seized), and the source could not take them back if the migration failed.
     */
    public static List<String> release(Tracer tracer, Pid pid, TaskImage task) {
        String locks = procLocks();
        return each(tracer, pid, task, (inj, fd, l) -> {
            String waiter = waiterOn(locks, pid, fd.fd());
            if (waiter != null) {
                throw new Kept("kept while held, as another process waits for a lock on the file (" + waiter + ")");
            }
            set(inj, fd, l, true);
        }, Duration.ZERO);
    }

    private static final class Kept extends RuntimeException {
        Kept(String message) {
            super(message, null, false, false);
        }
    }

    private static String procLocks() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/locks"));
        } catch (java.io.IOException e) {
            return null;
        }
    }

    private static final java.util.regex.Pattern DEV_INO = java.util.regex.Pattern.compile(" ([0-9a-f]+:[0-9a-f]+:\\d+) ");

    /** The /proc/locks line of a request waiting for a lock on fd's file (null: none, or not known). */
    private static String waiterOn(String locks, Pid pid, int fd) {
        if (locks == null) {
            return "/proc/locks could not be read";
        }
        String info;
        try {
            info = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/fdinfo/" + fd));
        } catch (java.io.IOException e) {
            return "its fdinfo could not be read: " + e.getMessage();
        }
        java.util.regex.Matcher m = DEV_INO.matcher(info);
        if (!m.find()) {
            return null;
        }
        String file = " " + m.group(1) + " ";
        return locks.lines().filter(l -> l.contains("->") && l.contains(file)).map(String::trim).findFirst().orElse(null);
    }

    /**
     * Takes them back; one another process holds (the copy being killed after a failed migration) is tried again
     * until {@code within} has passed. Returns what could not be taken back, naming pid, fd, file and lock.
     */
    public static List<String> retake(Tracer tracer, Pid pid, TaskImage task, Duration within) {
        return each(tracer, pid, task, (inj, fd, l) -> set(inj, fd, l, false), within);
    }

    private interface Op {
        void run(Injector inj, FdImage fd, FileLocks.Lock l);
    }

    private static List<String> each(Tracer tracer, Pid pid, TaskImage task, Op op, Duration within) {
        List<String> problems = new ArrayList<>();
        if (task.fds().stream().allMatch(fd -> held(fd).isEmpty())) {
            return problems;
        }
        try (Injector inj = RemoteTask.bareInjector(tracer, pid, pid.value(), ProcFs.maps(pid))) {
            for (FdImage fd : task.fds()) {
                for (FileLocks.Lock l : held(fd)) {
                    long until = System.nanoTime() + within.toNanos();
                    while (true) {
                        try {
                            op.run(inj, fd, l);
                            break;
                        } catch (Kept e) {
                            problems.add("pid " + pid + " fd " + fd.fd() + " (" + path(pid, fd.fd()) + "): its "
                                    + l.describe() + " " + e.getMessage());
                            break;
                        } catch (SyscallException e) {
                            if (e.errno() == Errno.EAGAIN && System.nanoTime() < until) {
                                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
                                continue;
                            }
                            problems.add("pid " + pid + " fd " + fd.fd() + " (" + path(pid, fd.fd()) + "): its "
                                    + l.describe() + ": " + e.getMessage());
                            break;
                        }
                    }
                }
            }
        } catch (RuntimeException e) {
            problems.add("pid " + pid + ": its file locks: " + e.getMessage());
        }
        return problems;
    }

    private static String path(Pid pid, int fd) {
        try {
            return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/" + pid + "/fd/" + fd)).toString();
        } catch (java.io.IOException | RuntimeException e) {
            return "its file unknown: " + e.getMessage();
        }
    }

    private static List<FileLocks.Lock> held(FdImage fd) {
        return FileLocks.of(fd.desc()).stream().filter(l -> l.kind() == FileLocks.FLOCK || l.kind() == FileLocks.POSIX
                || l.kind() == FileLocks.OFD).toList();
    }

    private static void set(Injector inj, FdImage fd, FileLocks.Lock l, boolean unlock) {
        String what = (unlock ? "unlock " : "") + l.describe() + " on fd " + fd.fd();
        if (l.kind() == FileLocks.FLOCK) {
            inj.call("flock(" + what + ")", SyscallNr.FLOCK, fd.fd(), unlock ? LOCK_UN : (l.write() ? LOCK_EX : LOCK_SH) | LOCK_NB);
            return;
        }
        // struct flock as FileLockRestore writes it, at the stopped thread's rsp (mapped for sure, unlike below it),
        // what was there put back after: no thread of the frozen tree runs meanwhile
        long len = l.end() == FileLocks.EOF ? 0 : l.end() - l.start() + 1;
        int type = unlock ? Fcntl.F_UNLCK : l.write() ? Fcntl.F_WRLCK : Fcntl.F_RDLCK;
        byte[] fl = new RemoteWriter(STRUCT_FLOCK).ints(type & 0xffff, 0).longs(l.start(), len).ints(0, 0).toBytes();
        long at = (inj.savedRegisters().rsp() + 15) & ~15L;
        byte[] was = Sys.read(inj.pid(), at, STRUCT_FLOCK);
        Sys.write(inj.pid(), at, fl);
        try {
            inj.call("fcntl(" + what + ")", SyscallNr.FCNTL, fd.fd(),
                    l.kind() == FileLocks.POSIX ? Fcntl.F_SETLK : Fcntl.F_OFD_SETLK, at);
        } finally {
            Sys.write(inj.pid(), at, was);
        }
    }
}
