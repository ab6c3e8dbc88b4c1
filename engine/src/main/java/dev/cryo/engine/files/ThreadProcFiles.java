package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A file under /proc/PID/task/TID of one of the holder's own threads other than its main one (netdata keeps
 * each of its threads' {@code stat} open to read their CPU time). FILES runs before the threads are made, so
 * the fd holds the main thread's same file until then ({@link #standIn}); once the threads exist the
 * thread's own file takes its place ({@link #reopen}), as a thread's pidfd does ({@link PidFdHandler}).
 */
public final class ThreadProcFiles {
    private ThreadProcFiles() {}

    private static final Pattern THREAD_FILE = Pattern.compile("^/proc/(\\d+)/task/(\\d+)(/.*)?$");

    /** The main thread's file for a file of one of the task's own later threads; null for any other path. */
    static String standIn(String path, int taskPid, java.util.function.IntPredicate ownThread) {
        Matcher m = THREAD_FILE.matcher(path);
        if (!m.matches() || Integer.parseInt(m.group(1)) != taskPid || !ownThread.test(Integer.parseInt(m.group(2)))) {
            return null;
        }
        return "/proc/" + m.group(1) + "/task/" + m.group(1) + (m.group(3) == null ? "" : m.group(3));
    }

    /**
     * Refuses an fd of {@code holder} sharing the open file of fd {@code ownerFd} of {@code ownerPid} (inherited by a
     * fork, or in flight in a unix message) when that file is under /proc of one of the owner's later threads: the
     * owner's fd takes the thread's file only once its threads are made, after every task's files are in place, so
     * the other holder would keep the main thread's.
     */
    static void refuseShared(String where, String ownerTarget, int ownerPid, int holder) {
        Matcher m = THREAD_FILE.matcher(ownerTarget);
        if (holder != ownerPid && m.matches() && Integer.parseInt(m.group(1)) == ownerPid
                && Integer.parseInt(m.group(2)) != ownerPid) {
            throw new dev.cryo.engine.DumpException(where + ": " + ownerTarget + ", a /proc file of thread " + m.group(2)
                    + " of pid " + ownerPid + ", is shared with pid " + ownerPid + "; not supported yet (a restore opens a"
                    + " thread's files once its threads are made, after the files every task shares)");
        }
    }

    /**
     * After the task's threads are made: each fd on a file of one of them is opened again on that thread's file,
     * at its position, at its number and at every fd of the task sharing it.
     */
    public static void reopen(dev.cryo.engine.restore.stage.TaskContext t) {
        int pid = t.pid().value();
        java.util.Set<Integer> threads = new java.util.HashSet<>();
        t.task().threads().forEach(th -> threads.add(th.tid()));
        threads.remove(pid);
        if (threads.isEmpty()) {
            return;
        }
        for (FdImage f : t.task().fds()) {
            if (!(f.desc() instanceof RegularFileHandler.RegularFile r) || r.file().path() == null
                    || standIn(r.file().path(), pid, threads::contains) == null) {
                continue;
            }
            String path = r.file().path();
            long fd = t.open(path, FdHandlers.openFlags(f));
            if (f.position() != 0) {
                t.call("lseek(" + path + ")", SyscallNr.LSEEK, fd, f.position(), 0);
            }
            for (FdImage g : t.task().fds()) {
                boolean same = g == f || g.desc() instanceof SharedFdHandler.SharedFd s
                        && s.ownerPid() == pid && s.ownerFd() == f.fd();
                if (same) {
                    t.call("dup3(" + path + ", " + g.fd() + ")", SyscallNr.DUP3, fd, g.fd(), g.flags() & Fcntl.O_CLOEXEC);
                }
            }
            t.call("close", SyscallNr.CLOSE, fd);
        }
    }
}
