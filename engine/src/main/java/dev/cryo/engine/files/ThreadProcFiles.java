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

    /**
     * The main thread's file for a file of one of the task's own later threads ({@code threads}); null for any
     * other path. The path names them by cryo's ids (the host's /proc) or, when the task mounted a /proc of its
     * own pid namespace, by the ids {@code seen} gives inside it (a restore opened that one by name before the
     * thread existed, and failed).
     */
    static String standIn(String path, int taskPid, java.util.Collection<Integer> threads,
                          java.util.function.IntUnaryOperator seen) {
        Matcher m = THREAD_FILE.matcher(path);
        if (!m.matches()) {
            return null;
        }
        int named = Integer.parseInt(m.group(1));
        int thread = Integer.parseInt(m.group(2));
        int inside = seen.applyAsInt(taskPid);
        boolean ours = named == taskPid && threads.contains(thread)
                || named == inside && inside != taskPid && threads.stream().anyMatch(t -> seen.applyAsInt(t) == thread);
        return ours ? "/proc/" + named + "/task/" + named + (m.group(3) == null ? "" : m.group(3)) : null;
    }

    /**
     * The thread of {@code ownerPid} other than its main one whose /proc file {@code target} is (by cryo's ids or
     * by those of the owner's own pid namespace, as the path names it), or 0: the owner's fd takes that file only
     * once its threads are made ({@link #reopen}).
     */
    static int laterThread(String target, int ownerPid) {
        Matcher m = THREAD_FILE.matcher(target);
        if (!m.matches() || m.group(1).equals(m.group(2))) {
            return 0;
        }
        int named = Integer.parseInt(m.group(1));
        return named == ownerPid || named == idInside(ownerPid) ? Integer.parseInt(m.group(2)) : 0;
    }

    /**
     * A file in flight that no task holds, under /proc/PID/task/TID of a thread other than the main one: the
     * restore makes files in flight before any thread, so it would open the thread's file before the thread
     * exists (or a thread of another process, whose file cryo does not reopen).
     */
    static void refuseInFlight(FdProbe probe) {
        Matcher m = THREAD_FILE.matcher(probe.target());
        if (m.matches() && !m.group(1).equals(m.group(2))) {
            throw new dev.cryo.engine.DumpException(probe.where() + ": a /proc file of thread " + m.group(2) + " of pid "
                    + m.group(1) + "; not supported in flight (a restore sends files in flight again before it makes"
                    + " any thread)");
        }
    }

    /**
     * Refuses a file under /proc/PID/task/TID of a thread other than the main one of another task of the tree: the
     * restore opens every task's files before it makes any thread, so the open failed (ENOENT) after the dump had
     * killed the tree. A holder whose /proc is its own pid namespace's names the task by its id there.
     */
    static void refuseOtherTasksThread(FdProbe fd, FdHandler.DumpContext ctx) {
        Matcher m = THREAD_FILE.matcher(fd.target());
        if (!m.matches() || m.group(1).equals(m.group(2))) {
            return;
        }
        int named = Integer.parseInt(m.group(1));
        int holder = fd.pid().value();
        if (named == holder || named == idInside(holder)) {
            return;
        }
        boolean inside = RegularFileHandler.inOwnPidNamespace(fd.pid()) && SenderStandIns.procOfItsOwn(fd.pid());
        int task = inside ? treeTaskSeenBy(holder, named, ctx) : ctx.inTree(named) ? named : 0;
        if (task != 0) {
            throw new dev.cryo.engine.DumpException(fd.where() + ": " + fd.target() + " is a /proc file of thread "
                    + m.group(2) + " of pid " + named + (task == named ? "" : " (pid " + task + " in cryo's namespace)")
                    + ", another task of the tree; not supported yet (a restore opens every task's files before it"
                    + " makes any thread)");
        }
    }

    /**
     * The task of the tree (cryo's pid) whose id is {@code id} in {@code holder}'s pid namespace, or 0: one in that
     * namespace or in one below it, where its ids list (NSpid) has the holder's level.
     */
    private static int treeTaskSeenBy(int holder, int id, FdHandler.DumpContext ctx) {
        dev.cryo.kernel.Pid h = dev.cryo.kernel.Pid.of(holder);
        int level = dev.cryo.kernel.proc.ProcFs.nsIds(h, h, "NSpid").size() - 1;
        String ns = dev.cryo.kernel.Namespaces.link(Integer.toString(holder), "pid");
        for (int pid : ctx.treePids()) {
            dev.cryo.kernel.Pid p = dev.cryo.kernel.Pid.of(pid);
            try {
                java.util.List<Integer> ids = dev.cryo.kernel.proc.ProcFs.nsIds(p, p, "NSpid");
                boolean below = ids.size() > level + 1
                        || ids.size() == level + 1 && ns != null && ns.equals(dev.cryo.kernel.Namespaces.link(Integer.toString(pid), "pid"));
                if (below && ids.get(level) == id) {
                    return pid;
                }
            } catch (dev.cryo.kernel.KernelException gone) {
                // a task that left: not the one named
            }
        }
        return 0;
    }

    /** The owner's pid in its own pid namespace, which a /proc mounted there names it by. */
    private static int idInside(int pid) {
        try {
            java.util.List<Integer> ids = dev.cryo.kernel.proc.ProcFs.nsIds(dev.cryo.kernel.Pid.of(pid),
                    dev.cryo.kernel.Pid.of(pid), "NSpid");
            return ids.isEmpty() ? pid : ids.get(ids.size() - 1);
        } catch (dev.cryo.kernel.KernelException e) {
            return pid;
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
        java.util.function.IntUnaryOperator seen = id -> t.namespaces().seenBy(pid, id);
        for (FdImage f : t.task().fds()) {
            if (!(f.desc() instanceof RegularFileHandler.RegularFile r) || r.file().path() == null
                    || standIn(r.file().path(), pid, threads, seen) == null) {
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
