package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.FdInfo;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;

/**
 * Files in flight: passed in an unread message of a unix socket (SCM_RIGHTS). The dump's peek
 * gives cryo a descriptor of each. One that a task of the tree holds too (the same open file
 * description) is carried as a share of that task's fd; any other, which no task may hold any
 * more, is dumped by its kind's handler through cryo's own /proc entries, like an fd of the
 * tree. The restore makes them in the task holding the socket once every fd of the tree is in
 * place, takes them into cryo and sends them again with their messages (FileRestore).
 */
public final class InFlightFiles {
    private InFlightFiles() {}

    /** The unix sockets whose queues this thread is dumping, innermost last (a socket in flight may pass files too). */
    private static final ThreadLocal<java.util.ArrayDeque<Long>> QUEUES = ThreadLocal.withInitial(java.util.ArrayDeque::new);
    /** The task whose socket holds the outermost queue: every file in flight below it is made again there. */
    private static final ThreadLocal<Pid> RECEIVER = new ThreadLocal<>();

    /**
     * The task that would receive file {@code fd}, which cryo holds while it dumps a file in flight (the probe names
     * cryo's own pid), or the probe's holder for any other.
     */
    static Pid receiverOf(FdProbe fd) {
        Pid r = RECEIVER.get();
        return r != null && fd.pid().value() == ProcessHandle.current().pid() ? r : fd.pid();
    }

    /**
     * {@code ownerPid} of a {@link SharedFdHandler.SharedFd} in flight that is a file passed earlier
     * in the same queue (the same open file passed twice): {@code ownerFd} is that file's index
     * among all the files the queue passes, in order.
     */
    public static final int EARLIER_IN_QUEUE = 0;

    /**
     * Dumps the files cryo received by peeking one message of {@code holder}'s socket; the records'
     * fd numbers are their indexes in the message. {@code earlier}: the files of the messages before
     * it in the same queue, in order (this message's are added). {@code where} names the socket.
     */
    static List<FdImage> dump(long queueOf, List<Fd> fds, List<Fd> earlier, FdHandler.DumpContext ctx, Pid holder,
                              String where) {
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        List<FdImage> out = new ArrayList<>();
        boolean outermost = QUEUES.get().isEmpty();
        if (outermost) {
            RECEIVER.set(holder);
        } else {
            holder = RECEIVER.get(); // the caller named cryo itself, which holds the socket in flight
        }
        QUEUES.get().addLast(queueOf);
        try {
            for (int i = 0; i < fds.size(); i++) {
                int fd = fds.get(i).value();
                int before = -1;
                for (int k = 0; k < earlier.size() && before < 0; k++) {
                    if (dev.cryo.kernel.Sys.sameOpenFile(self, earlier.get(k).value(), self, fd)) {
                        before = k;
                    }
                }
                earlier.add(fds.get(i));
                String target = ProcFs.fdTarget(self, fd);
                FdInfo info = ProcFs.fdInfo(self, fd);
                FdProbe probe = new FdProbe(self, fd, target, info);
                String what = where + ": file " + (i + 1) + " of " + fds.size() + " passed in an unread message ("
                        + target + ")";
                FileDesc desc;
                try {
                    FdProbe.Ref owner = ctx.treeOwner(probe);
                    // one the tree holds is a share of that fd (zdtm's scm06: each end of a pair in its own
                    // queue); one it does not would be dumped here with its queue, which holds it again (named
                    // with what it is by the catch below)
                    if (target.startsWith("socket:[") && before < 0 && owner == null
                            && QUEUES.get().contains(Long.parseLong(target.substring(8, target.length() - 1)))) {
                        throw new DumpException("the socket is in flight in " + (target.equals("socket:[" + queueOf
                                + "]") ? "its own queue" : "the queue of a socket it carries itself") + " (a loop), and no"
                                + " task of the tree holds it; not supported");
                    }
                    desc = before >= 0 ? new SharedFdHandler.SharedFd(EARLIER_IN_QUEUE, before, FdHandlers.handlerOf(probe).tag())
                            : describe(probe, owner, ctx, holder);
                } catch (DumpException | IOException e) {
                    throw new DumpException(what + ": " + e.getMessage().replace(probe.where() + ": ", ""), e);
                }
                if (!info.values("lock").isEmpty()) {
                    throw new DumpException(what + ": it holds a lock no task of the tree holds; not supported");
                }
                FdOwner signalOwner = signalOwner(probe, what);
                // close-on-exec belongs to the fd the receiver will get, not to the file in flight
                out.add(new FdImage(i, info.flags() & ~O_CLOEXEC, info.pos(), desc, signalOwner));
            }
        } finally {
            QUEUES.get().removeLast();
            if (outermost) {
                RECEIVER.remove();
                ctx.ghostFiles().reassign(self, holder); // deleted files in flight go with the holder's image
            }
        }
        return out;
    }

    /**
     * A file cryo holds that no other fd of the tree is (a share of one that is), by its kind's handler through cryo's
     * own /proc entries; an epoll's watches name fds of the task that added them, found among {@code holder}'s.
     */
    private static FileDesc describe(FdProbe probe, FdProbe.Ref owner, FdHandler.DumpContext ctx, Pid holder)
            throws IOException {
        if (owner != null) {
            return FdHandlers.inFlightShare(owner);
        }
        ThreadProcFiles.refuseInFlight(probe);
        FdHandler<?> h = FdHandlers.handlerOf(probe);
        return h instanceof EpollHandler ? EpollHandler.inFlight(probe, holder) : h.dump(probe, ctx);
    }

    private static FdOwner signalOwner(FdProbe probe, String what) {
        FdOwner signalOwner = FdOwner.probe(probe.pid(), probe.fd(), probe.info().flags(), probe.target());
        if (signalOwner != null && signalOwner.threadOf() != 0) {
            throw new DumpException(what + ": its signal owner (F_SETOWN_EX) is thread " + signalOwner.pid()
                    + " of pid " + signalOwner.threadOf() + "; not supported for a file in flight");
        }
        return signalOwner;
    }

    /**
     * Fd {@code fd} of thread {@code tid}'s own fd table that its process {@code holder} does not hold (opened after
     * unshare(CLONE_FILES) in that thread), through {@code held}, cryo's copy: dumped as a file in flight is, to be
     * made in {@code holder} once its table is in place and moved into the thread's (ThreadFilesRestore). Its record
     * keeps the thread's fd number and close-on-exec flag. Refused: an epoll (its watches name fds of the thread's
     * table), a lock.
     */
    public static FdImage ofThreadAlone(Fd held, int fd, boolean cloexec, Pid holder, int tid, FdHandler.DumpContext ctx) {
        Pid self = Pid.of((int) ProcessHandle.current().pid());
        String target = ProcFs.fdTarget(self, held.value());
        FdInfo info = ProcFs.fdInfo(self, held.value());
        FdProbe probe = new FdProbe(self, held.value(), target, info);
        String what = "pid " + holder + " thread " + tid + " fd " + fd + " (" + target + "), in its own fd table alone";
        RECEIVER.set(holder);
        try {
            FileDesc desc;
            try {
                if (target.equals("anon_inode:[eventpoll]")) {
                    throw new DumpException("an epoll set, whose watches name fds of the thread's table; not supported yet");
                }
                desc = describe(probe, ctx.treeOwner(probe), ctx, holder);
            } catch (DumpException | IOException e) {
                throw new DumpException(what + ": " + e.getMessage().replace(probe.where() + ": ", ""), e);
            }
            if (!info.values("lock").isEmpty()) {
                throw new DumpException(what + ": it holds a lock; not supported yet");
            }
            return new FdImage(fd, info.flags() & ~O_CLOEXEC | (cloexec ? O_CLOEXEC : 0), info.pos(), desc,
                    signalOwner(probe, what));
        } finally {
            RECEIVER.remove();
            ctx.ghostFiles().reassign(self, holder); // a deleted file goes with the holder's image
        }
    }

    /**
     * The fds of task {@code t}, the files its threads hold alone in tables of their own
     * ({@link dev.cryo.engine.model.ThreadFdTable#alone}) and the files in flight among them: every record a hub
     * builds from for that task.
     */
    public static List<FdImage> of(dev.cryo.engine.model.TaskImage t) {
        List<FdImage> fds = t.fds();
        for (dev.cryo.engine.model.ThreadImage th : t.threads()) {
            if (th.files() != null && !th.files().alone().isEmpty()) {
                fds = fds == t.fds() ? new ArrayList<>(fds) : fds;
                fds.addAll(th.files().alone());
            }
        }
        return withInFlight(fds);
    }

    /**
     * {@code fds} and the files in flight in the queues of their unix sockets, and in the queues of
     * the sockets in flight among those: every record a hub builds from.
     */
    public static List<FdImage> withInFlight(List<FdImage> fds) {
        List<FdImage> out = null;
        for (FdImage fd : fds) {
            if (fd.desc() instanceof UnixSocketHandler.UnixSocket u && u.passesFiles()) {
                if (out == null) {
                    out = new ArrayList<>(fds);
                }
                for (UnixSocketHandler.Message m : u.queue()) {
                    out.addAll(withInFlight(m.files()));
                }
            }
        }
        return out == null ? fds : out;
    }
}
