package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdProbe;
import dev.cryo.engine.files.InFlightFiles;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.ThreadFdTable;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.List;

/**
 * The dump half of a thread's own fd table ({@link ThreadFdTable}), read from the frozen task: a thread that
 * unshared its fd table (kcmp KCMP_FILES: not its process's) gets each of its fds recorded as the open file its
 * process holds at some fd (kcmp KCMP_FILE; the same number first, then those whose link reads the same), with its
 * own close-on-exec flag; an fd of the thread's table alone (an open file its process does not hold: one it opened
 * since) is taken into cryo (pidfd_getfd through a pidfd of the thread) and dumped as a file in flight is
 * ({@link InFlightFiles#ofThreadAlone}). Refused by name: two threads sharing a table that is not their process's
 * (a restore gives each its own), and an open file alone held at two fds of such tables (a restore makes each anew).
 */
final class ThreadFilesReader {
    private ThreadFilesReader() {}

    /**
     * Sets the fd table of each of {@code threads} that holds its own; {@code parentsTable}: the process shares its
     * parent's table (clone with CLONE_FILES), whose files its parent's restore makes.
     */
    static void addOwnTables(Pid pid, List<ThreadImage> threads, FdHandler.DumpContext ctx, boolean parentsTable) {
        if (threads.size() < 2) {
            return; // (an exited leader's table is gone: kcmp and /proc read its stand-in thread's, the process's)
        }
        List<Pid> own = new ArrayList<>();
        List<Integer> processFds = null;
        List<FdProbe.Ref> alone = new ArrayList<>(); // (tid, fd) of every fd alone so far
        for (int i = 0; i < threads.size(); i++) {
            Pid t = Pid.of(threads.get(i).tid());
            if (t.equals(pid) || Sys.shareResource(pid, t, Sys.KCMP_FILES)) {
                continue;
            }
            for (Pid other : own) {
                if (Sys.shareResource(other, t, Sys.KCMP_FILES)) {
                    throw new DumpException("pid " + pid + " thread " + t + " has an fd table of its own (unshare("
                            + "CLONE_FILES) in that thread) that it shares with thread " + other + " but not with its"
                            + " process: a restore gives each thread its own; not supported yet");
                }
            }
            own.add(t);
            if (processFds == null) {
                processFds = ProcFs.fds(pid);
            }
            threads.set(i, threads.get(i).withFiles(table(pid, t, processFds, alone, ctx, parentsTable)));
        }
    }

    private static ThreadFdTable table(Pid pid, Pid t, List<Integer> processFds, List<FdProbe.Ref> alone,
                                       FdHandler.DumpContext ctx, boolean parentsTable) {
        List<ThreadFdTable.Entry> entries = new ArrayList<>();
        List<FdImage> own = new ArrayList<>();
        for (int fd : ProcFs.fds(t)) {
            int at = processFd(pid, t, fd, processFds);
            boolean cloexec = ProcFs.fdInfo(t, fd).cloexec();
            if (at >= 0) {
                entries.add(new ThreadFdTable.Entry(fd, at, cloexec));
                continue;
            }
            for (FdProbe.Ref other : alone) {
                if (Sys.sameOpenFile(Pid.of(other.pid()), other.fd(), t, fd)) {
                    throw new DumpException("pid " + pid + " thread " + t + ": its fd " + fd + " (" + ProcFs.fdTarget(t, fd)
                            + ") is the open file of thread " + other.pid() + "'s fd " + other.fd() + ", which its process"
                            + " does not hold; a restore makes each fd of a thread's own table alone anew: not supported yet");
                }
            }
            if (parentsTable) {
                throw new DumpException("pid " + pid + " thread " + t + ": its fd " + fd + " (" + ProcFs.fdTarget(t, fd)
                        + ") is in its own fd table alone, and its process shares its parent's table (clone with"
                        + " CLONE_FILES); not supported yet");
            }
            alone.add(new FdProbe.Ref(t.value(), fd));
            try (Fd pidfd = Sys.pidfdOpen(t, Sys.PIDFD_THREAD); Fd held = Sys.pidfdGetfd(pidfd, t, fd)) {
                own.add(InFlightFiles.ofThreadAlone(held, fd, cloexec, pid, t.value(), ctx));
            }
        }
        return new ThreadFdTable(entries, own);
    }

    /** The fd of the process that is the open file at {@code fd} of thread {@code t}; -1: none. */
    private static int processFd(Pid pid, Pid t, int fd, List<Integer> processFds) {
        if (processFds.contains(fd) && Sys.sameOpenFile(pid, fd, t, fd)) {
            return fd;
        }
        String target = ProcFs.fdTarget(t, fd);
        for (int m : processFds) {
            if (ProcFs.fdTarget(pid, m).equals(target) && Sys.sameOpenFile(pid, m, t, fd)) {
                return m;
            }
        }
        return -1;
    }
}
