package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import java.util.Map;

import static dev.cryo.kernel.Fcntl.F_SETFD;
import static dev.cryo.kernel.Fcntl.O_EXCL;
import static dev.cryo.kernel.Fcntl.O_NONBLOCK;

/**
 * pidfd (pidfd_open, clone's CLONE_PIDFD): fdinfo's "Pid:" names the task it refers to. A pidfd
 * of a task of the tree is opened again on the restored task, which has the same pid; one of a
 * task already reaped (Pid: -1: a supervisor's pidfd of a child it has waited for) is opened on a
 * {@link DeadTaskStandIn} that then ends with the task's exit status, one per dead task for the whole
 * tree ({@link DeadTaskHub}); one of a task outside the tree
 * cannot be brought back and is refused. Thread pidfds (PIDFD_THREAD) keep that flag.
 */
public final class PidFdHandler implements FdHandler<PidFdHandler.PidFd> {
    public static final int TAG = 160, RECORD_ID = 161;

    /** The pid of a pidfd of a reaped task, as fdinfo shows it. */
    public static final int DEAD = -1;

    /**
     * A pidfd: the pid (or tid, for a thread pidfd) it refers to, {@link #DEAD} for a reaped task, whose
     * wait status the kernel keeps for the pidfd ({@code exitStatus}; -1 when it keeps none) and whose
     * pidfs inode ({@code deadIno}: pidfds opened apart on one task share it, in any holder) groups the
     * pidfds of one dead task on one stand-in. Version 1 had no dead pidfd, 2 no inode.
     */
    public record PidFd(int pid, int exitStatus, long deadIno) implements FileDesc {
        public PidFd(int pid) {
            this(pid, DeadTaskStandIn.NO_STATUS, 0);
        }
    }

    static final RecordCodec<PidFd> CODEC = RecordCodec.of(PidFd.class, RECORD_ID, 3, (out, p) -> {
        out.writeVarInt(p.pid(), true);
        out.writeInt(p.exitStatus());
        out.writeLong(p.deadIno());
    }, (in, version) -> new PidFd(in.readVarInt(true), version >= 2 ? in.readInt() : DeadTaskStandIn.NO_STATUS,
            version >= 3 ? in.readLong() : 0));

    @Override
    public String kind() {
        return "pidfd";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<PidFd> codec() {
        return CODEC;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return isPidfd(fd);
    }

    private static boolean isPidfd(FdProbe fd) {
        return fd.target().equals("anon_inode:[pidfd]");
    }

    @Override
    public PidFd dump(FdProbe fd, DumpContext ctx) {
        String value = fd.info().value("Pid").orElseThrow(
                () -> new DumpException(fd.where() + ": a pidfd without a Pid line in its fdinfo")).trim();
        int target = Integer.parseInt(value);
        if (target == DEAD) {
            return dead(fd);
        }
        if (target <= 0) {
            throw new DumpException(fd.where() + ": a pidfd of a process outside cryo's pid namespace");
        }
        if (!ctx.inTree(target)) {
            throw new DumpException(fd.where() + ": a pidfd of pid " + target + ", which is not part of the dumped "
                    + "tree: only pidfds of the tree's own tasks can be restored");
        }
        if ((fd.info().flags() & O_EXCL) != 0 && target != fd.pid().value()) {
            int tgid = threadGroup(target);
            if (tgid != target && tgid != fd.pid().value()) {
                throw new DumpException(fd.where() + ": a thread pidfd (PIDFD_THREAD) of thread " + target + " of pid "
                        + tgid + ": a pidfd of another process's thread is not supported yet");
            }
        }
        return new PidFd(target);
    }

    /** A pidfd of a reaped task, with the exit status the kernel keeps for it. */
    private static PidFd dead(FdProbe fd) {
        int status;
        try (dev.cryo.kernel.Fd pidfd = Sys.pidfdOpen(fd.pid()); dev.cryo.kernel.Fd dup = Sys.pidfdGetfd(pidfd, fd.pid(), fd.fd())) {
            status = Sys.pidfdExitStatus(dup);
        }
        if (status != DeadTaskStandIn.NO_STATUS && (status & 0x80) != 0) {
            throw new DumpException(fd.where() + ": a pidfd of a process that was killed by "
                    + dev.cryo.kernel.Signals.name(status & 0x7f) + " and dumped core: a stand-in cannot end that way again");
        }
        return new PidFd(DEAD, status, fd.info().ino());
    }

    /**
     * The thread other than its main one of {@code ownerPid} that pidfd {@code fd} (a thread pidfd) refers to,
     * or 0: the owner's fd takes that thread's pidfd only once its threads are made ({@link #reopenThreadPidfds}).
     */
    static int laterThread(FdProbe fd, int ownerPid) {
        if (!isPidfd(fd) || (fd.info().flags() & O_EXCL) == 0) {
            return 0;
        }
        int target = fd.info().value("Pid").map(v -> Integer.parseInt(v.trim())).orElse(0);
        return target > 0 && target != ownerPid && threadGroup(target) == ownerPid ? target : 0;
    }

    /** The thread group (process) of task {@code tid}, from its /proc status. */
    private static int threadGroup(int tid) {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(dev.cryo.kernel.ExitedLeaders.proc(tid) + "/status"))) {
                if (line.startsWith("Tgid:")) {
                    return Integer.parseInt(line.substring(5).trim());
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            throw new DumpException("pidfd of task " + tid + ": cannot read its /proc status: " + e.getMessage());
        }
        throw new DumpException("pidfd of task " + tid + ": no Tgid line in its /proc status");
    }

    @Override
    public long restore(FdImage fd, PidFd p, RestoreContext ctx) {
        int flags = fd.flags() & (O_NONBLOCK | O_EXCL); // O_EXCL in a pidfd's flags is PIDFD_THREAD
        if (p.pid() == DEAD) { // the stand-in ends and is reaped once every task's files are in place
            int standIn = ctx.deadTaskStandIn(p.deadIno(), p.exitStatus());
            if (ctx.seenByTask(standIn) == 0) { // a holder in a pid namespace of its own cannot name it: cryo hands it in
                try (dev.cryo.kernel.Fd own = Sys.pidfdOpen(dev.cryo.kernel.Pid.of(standIn), flags & O_NONBLOCK)) {
                    return ctx.take((int) ProcessHandle.current().pid(), own.value());
                }
            }
            long r = ctx.call("pidfd_open(stand-in " + standIn + " of a reaped task)", SyscallNr.PIDFD_OPEN, standIn,
                    flags & O_NONBLOCK);
            if ((fd.flags() & Fcntl.O_CLOEXEC) == 0) {
                ctx.call("fcntl(F_SETFD)", SyscallNr.FCNTL, r, F_SETFD, 0);
            }
            return r;
        }
        // a pidfd of one of the task's own threads: the thread is made later (STATE); until then the fd
        // holds a pidfd of the task itself, and reopenThreadPidfds puts the thread's in its place
        // inside a pid namespace the task names the process by its pid there
        int of = ctx.ownThread(p.pid()) ? (int) ctx.call("getpid", SyscallNr.GETPID) : ctx.seenByTask(p.pid());
        if (of == 0) {
            throw new dev.cryo.engine.restore.RestoreException("a pidfd of pid " + p.pid()
                    + ", which is outside the pid namespace of its holder; not supported yet");
        }
        long r = ctx.call("pidfd_open(" + p.pid() + ", as " + of + " there)", SyscallNr.PIDFD_OPEN, of, flags);
        if ((fd.flags() & Fcntl.O_CLOEXEC) == 0) {
            ctx.call("fcntl(F_SETFD)", SyscallNr.FCNTL, r, F_SETFD, 0); // pidfd_open always sets it
        }
        return r;
    }

    /**
     * After the task's threads are made: each pidfd of one of its own threads is opened (the fd held a
     * pidfd of the task until now), at its number and at every fd of the task sharing it.
     */
    public static void reopenThreadPidfds(dev.cryo.engine.restore.stage.TaskContext t) {
        java.util.Set<Integer> threads = new java.util.HashSet<>();
        t.task().threads().forEach(th -> threads.add(th.tid()));
        threads.remove(t.pid().value());
        for (FdImage f : t.task().fds()) {
            if (f.desc() instanceof PidFd p && threads.contains(p.pid())) {
                long r = t.call("pidfd_open(thread " + p.pid() + ")", SyscallNr.PIDFD_OPEN,
                        t.namespaces().seenBy(t.pid().value(), p.pid()),
                        f.flags() & (O_NONBLOCK | O_EXCL));
                for (FdImage g : t.task().fds()) {
                    boolean same = g == f || g.desc() instanceof SharedFdHandler.SharedFd s
                            && s.ownerPid() == t.pid().value() && s.ownerFd() == f.fd();
                    if (same) {
                        t.call("dup3(pidfd of thread " + p.pid() + ", " + g.fd() + ")", SyscallNr.DUP3, r, g.fd(),
                                g.flags() & Fcntl.O_CLOEXEC);
                    }
                }
                t.call("close", SyscallNr.CLOSE, r);
            }
        }
    }

    @Override
    public void show(PidFd p, Map<String, Object> m) {
        m.put("kind", "pidfd");
        m.put("pid", p.pid());
        if (p.pid() == DEAD) {
            m.put("reaped", p.exitStatus() == DeadTaskStandIn.NO_STATUS ? "exit status not kept"
                    : new dev.cryo.kernel.WaitStatus(0, p.exitStatus()).exited()
                    ? "exited " + ((p.exitStatus() >> 8) & 0xff) : "killed by " + dev.cryo.kernel.Signals.name(p.exitStatus() & 0x7f));
        }
    }
}
