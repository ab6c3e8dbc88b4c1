package dev.cryo.engine.restore.stage;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdHandlers;
import dev.cryo.engine.files.SharedFdHandler;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.restore.FileHubs;
import dev.cryo.engine.restore.InheritedFds;
import dev.cryo.engine.restore.PipeHub;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.PtyHub;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.files.UnixSocketHandler;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import java.util.ArrayList;
import java.util.List;

import static dev.cryo.kernel.Fcntl.FD_CLOEXEC;
import static dev.cryo.kernel.Fcntl.F_SETFD;
import static dev.cryo.kernel.Fcntl.F_SETFL;
import static dev.cryo.kernel.Fcntl.F_SETOWN_EX;
import static dev.cryo.kernel.Fcntl.F_SETSIG;
import static dev.cryo.kernel.Fcntl.O_ASYNC;
import static dev.cryo.kernel.Fcntl.O_CLOEXEC;

/**
 * FILES: closes the stub's fds and recreates every dumped fd at its number through its kind's
 * handler ({@link FdHandlers}), in passes the supervisor runs for all tasks with a barrier in
 * between, so an fd that shares its open file with another task's finds it there:
 * {@link Pass#OWN} objects, then {@link Pass#SHARED} fds taken from their owners followed by the
 * kinds that refer to other fds (epoll), then {@link Pass#LATE} the fds sharing those.
 */
public final class FileRestore {

    public enum Pass { OWN, SHARED, LATE }

    private FileRestore() {}

    public static void run(TaskContext t, FileHubs hubs, Pass pass) {
        run(t, hubs, pass, false);
    }

    /**
     * As above; {@code nextHere}: the next pass follows at once on this thread and no other task runs in
     * between (a lone task's passes): this pass's calls queued for the task run with the next one's, one
     * ptrace round trip of a migration's downtime less, unless a stand-in of this pass ends at its end or
     * the task's keyrings, made between the passes, write into its bootstrap area.
     */
    public static void run(TaskContext t, FileHubs hubs, Pass pass, boolean nextHere) {
        PipeHub pipes = hubs.pipes();
        SocketHub sockets = hubs.sockets();
        SharedMemoryHub objects = hubs.objects();
        PtyHub ptys = hubs.ptys();
        SocketHub.Remote remote = t.remote();
        // a table shared with the parent (CLONE_FILES) is restored by the task that carries it: this
        // one must not touch it (no temporary fd either, it could land where the other restores one)
        boolean parentsTable = t.task().ids().sharesParentFds();
        if (pass == Pass.OWN) {
            if (!parentsTable) {
                int keep = t.namespaces().insidePidNamespace(t.pid().value()) ? t.namespaces().cryoFd() : 0;
                // queued with the plain opens that follow: the table they are opened in is known
                if (keep > 0) { // the pidfd of cryo the task takes its files through: closed in STATE
                    t.later("close_range", SyscallNr.CLOSE_RANGE, 0, keep - 1, 0);
                    t.later("close_range", SyscallNr.CLOSE_RANGE, keep + 1, 0xffffffffL, 0);
                    t.fdTableWillBe(java.util.Set.of(keep));
                } else {
                    t.later("close_range", SyscallNr.CLOSE_RANGE, 0, 0xffffffffL, 0);
                    t.fdTableWillBe(java.util.Set.of());
                }
                ControllingTerminal.foreground(t, ptys); // a sharer does it in SESSIONS, see TaskRestorer
            }
            // a deleted cwd stands again only while the deleted files do: entered now, gone by STATE
            String deadPid = dev.cryo.engine.files.RegularFileHandler.deadProcDir(t.task().cwd());
            String gone = deadPid != null ? null : objects.deletedDirectory(t.task().cwd(), t.pid().value());
            if (gone != null) {
                t.call("chdir(" + gone + ")", SyscallNr.CHDIR, t.putString(gone));
            }
            if (deadPid != null) { // zdtm's unhashed_proc: entered on a stand-in at that pid, a dead one's once it ends
                String dir = t.task().cwd().substring(0, t.task().cwd().length() - " (deleted)".length());
                try (dev.cryo.engine.files.DeadTaskStandIns standIn = new dev.cryo.engine.files.DeadTaskStandIns()) {
                    standIn.atPid(t.pid(), Integer.parseInt(deadPid), "pid " + t.pid() + "'s current directory " + dir);
                    t.call("chdir(" + dir + ")", SyscallNr.CHDIR, t.putString(dir));
                }
            }
        }
        if (parentsTable) {
            return;
        }
        // stand-ins at the pids of exited processes its /proc files name: each ends once every fd is in place
        dev.cryo.engine.files.DeadTaskStandIns standIns = new dev.cryo.engine.files.DeadTaskStandIns();
        boolean[] standInMade = {false};
        KeptFds kept = new KeptFds(t, remote);
        FdHandler.RestoreContext ctx = new FdHandler.RestoreContext() {
            @Override
            public int deadTaskStandIn(long ino, int status) {
                return hubs.deadTasks().of(ino, status, t.pid().value());
            }

            @Override
            public void deadPidStandIn(int pid, String what, dev.cryo.engine.files.OutsideProcess as) {
                standInMade[0] = true;
                standIns.atPid(t.pid(), pid, "pid " + t.pid() + " " + what, as);
            }

            @Override
            public long open(String path, int flags) {
                return t.open(path, flags);
            }

            @Override
            public long openQueued(String path, int flags) { // only in the loop over the fds below
                return pass == Pass.OWN ? t.openQueued(path, flags) : t.open(path, flags);
            }

            @Override
            public void later(String name, int nr, long... args) {
                if (pass == Pass.OWN) {
                    t.later(name, nr, args);
                } else {
                    t.call(name, nr, args);
                }
            }

            @Override
            public void laterReading(String name, int nr, byte[] data, int at, long... args) {
                long[] a = args.clone();
                a[at] = t.stash(data);
                t.later(name, nr, a);
            }

            @Override
            public int taskPid() {
                return t.pid().value();
            }

            @Override
            public long call(String name, int nr, long... args) {
                return t.call(name, nr, args);
            }

            @Override
            public long put(byte[] data) {
                return t.put(data);
            }

            @Override
            public String pipePath(long pipeId, boolean readEnd) {
                return pipes.path(pipeId, readEnd);
            }

            @Override
            public int claimPipeEnd(long pipeId, boolean readEnd) {
                return pipes.claim(pipeId, readEnd);
            }

            @Override
            public void fifoReady(long pipeId) {
                pipes.ready(pipeId, t.pid().value());
            }

            @Override
            public long openFifoReader(long pipeId, boolean hungUp, java.util.function.LongSupplier open) {
                return pipes.openingFifoReader(pipeId, hungUp, open);
            }

            @Override
            public long take(int pid, int fd) {
                return FileRestore.take(t, pid, fd, kept);
            }

            @Override
            public int ptyMaster(long instance, int index) {
                return ptys.master(instance, index);
            }

            @Override
            public int ptySlave(long instance, int index, int flags) {
                return ptys.slave(instance, index, flags);
            }

            @Override
            public int hungUpPtySlave(long instance, int index, int flags) {
                return ptys.hungUpSlave(instance, index, flags);
            }

            @Override
            public long plantSocket(long ino, int fdFlags) {
                return sockets.plant(ino, fdFlags, remote, kept.receiver());
            }

            @Override
            public Fd socketHandedIn(long ino, int fdFlags) {
                return sockets.handOver(ino, fdFlags);
            }

            @Override
            public long openPositionedLast(String path, int flags, long position) {
                Fd own = dev.cryo.kernel.Sys.open(path, flags);
                try {
                    long fd = FileRestore.take(t, (int) ProcessHandle.current().pid(), own.value());
                    t.positionLast(own, position);
                    return fd;
                } catch (RuntimeException e) {
                    own.close();
                    throw e;
                }
            }

            @Override
            public void whenRestored(Fd held, java.util.function.Consumer<Fd> action) {
                sockets.whenRestored(held, action);
            }

            @Override
            public String sharedMemoryPath(long ino) {
                return objects.path(ino);
            }

            @Override
            public int seenByTask(int pid) {
                return t.namespaces().seenBy(t.pid().value(), pid);
            }

            @Override
            public boolean ofTheTree(int id) {
                return hubs.deadTasks().ofTheTree(id);
            }

            @Override
            public java.util.List<Integer> ownThreads() {
                return t.task().threads().stream().map(th -> th.tid()).filter(tid -> tid != t.pid().value()).toList();
            }

            @Override
            public boolean hasSharedMemory(long ino) {
                return objects.has(ino);
            }

            @Override
            public int claimMemfd(long ino) {
                return objects.claimMemfd(ino);
            }

            @Override
            public String ghostPath(dev.cryo.engine.model.FileRef file) {
                return objects.ghostPath(file);
            }

            @Override
            public String ghostPath(dev.cryo.engine.model.FileRef file, int mountOf) {
                return objects.ghostPath(file, mountOf);
            }

            @Override
            public String deletedDirectory(String path) {
                String at = objects.deletedDirectory(path, t.pid().value());
                if (at == null) {
                    throw new IllegalStateException("removed directory " + path + " was not made again");
                }
                return at;
            }
        };
        List<Fd> own = new ArrayList<>();
        try (standIns; kept) {
            List<FdImage> todo = inPass(t.task().fds(), pass);
            for (int i = 0; i < todo.size(); i++) {
                FdImage fd = todo.get(i);
                InheritedFds.Source given = hubs.inherited().of(fd.desc());
                boolean ownDup = given == null && fd.desc() instanceof SharedFdHandler.SharedFd s
                        && s.ownerPid() == t.pid().value();
                List<FdImage> run = pass == Pass.OWN && given == null && !ownDup ? handedInRun(todo, i, hubs, ctx, own) : List.of();
                if (!run.isEmpty()) {
                    if (!run.stream().allMatch(FileRestore::madeInTaskAlone)) {
                        t.flush();
                    }
                    HandedIn.place(t, run, own, kept, sockets);
                    own.clear();
                    run.forEach(f -> signalOwner(t, f));
                    i += run.size() - 1;
                    continue;
                }
                if (!(given == null && madeInTaskAlone(fd)) && !ownDup) {
                    // what it does outside the task (a hub, cryo's own reads) finds every fd before it in place
                    t.flush();
                }
                if (ownDup && fd.desc() instanceof SharedFdHandler.SharedFd s) {
                    // its own fd's open file (a 2>&1): one dup3, not pidfd_open, pidfd_getfd and three closes;
                    // queued, within the task: the pass's end runs it before another task looks
                    t.later("dup3(fd " + s.ownerFd() + ")", SyscallNr.DUP3, s.ownerFd(), fd.fd(), fd.flags() & O_CLOEXEC);
                    signalOwner(t, fd);
                    continue;
                }
                // a pipe given is joined through the pipe hub like any other (its every end, in any task)
                long tmp = given != null && !(fd.desc() instanceof dev.cryo.engine.files.PipeHandler.Pipe)
                        ? ctx.take(given.pid(), given.fd()) : FdHandlers.restore(fd, ctx);
                if (tmp != fd.fd()) {
                    ctx.later("dup3", SyscallNr.DUP3, tmp, fd.fd(), fd.flags() & O_CLOEXEC);
                    ctx.later("close", SyscallNr.CLOSE, tmp);
                } else {
                    // landed on its number already: close-on-exec is whatever the way it was made gave
                    ctx.later("fcntl(F_SETFD)", SyscallNr.FCNTL, tmp, F_SETFD, (fd.flags() & O_CLOEXEC) != 0 ? FD_CLOEXEC : 0);
                }
                signalOwner(t, fd);
            }
            if (!nextHere || standInMade[0] || t.task().security().keyrings() == null || !t.task().security().keyrings().isEmpty()) {
                t.flush(); // every fd in place before another task takes one of them, or a stand-in ends
            }
            if (pass == Pass.OWN) {
                ControllingTerminal.takeVirtualConsole(t);
            }
            if (pass == Pass.LATE) {
                passFilesAgain(t, ctx, sockets);
                threadFilesAlone(t, ctx);
                notifyAgain(t);
                ringEventFdsAgain(t);
            }
        }
    }

    /**
     * The fds from {@code todo[from]} on whose open files cryo holds already, each taken as it is
     * ({@link FdHandler#handedIn}; cryo's files added to {@code own}), up to as many as one message carries.
     */
    private static List<FdImage> handedInRun(List<FdImage> todo, int from, FileHubs hubs, FdHandler.RestoreContext ctx,
                                             List<Fd> own) {
        List<FdImage> run = new ArrayList<>();
        for (int j = from; j < todo.size() && run.size() < dev.cryo.engine.restore.FdDelivery.Receiver.MAX_FILES; j++) {
            FdImage f = todo.get(j);
            Fd mine = hubs.inherited().of(f.desc()) == null ? FdHandlers.handedIn(f, ctx) : null;
            if (mine == null) {
                break;
            }
            run.add(f);
            own.add(mine);
        }
        return run;
    }

    /**
     * A plain file or device ({@link FdHandler.RestoreContext#openQueued}), a unix socket cryo sends
     * in, an anonymous pipe's end the task takes from cryo or opens through /proc itself: nothing
     * outside the task looks at the fds before it, so the calls queued for them need not run first
     * (the task's own calls for it run after them, in their batch).
     */
    private static boolean madeInTaskAlone(FdImage fd) {
        return fd.desc() instanceof dev.cryo.engine.files.RegularFileHandler.RegularFile
                || fd.desc() instanceof dev.cryo.engine.files.CharDeviceHandler.CharDevice
                || fd.desc() instanceof UnixSocketHandler.UnixSocket
                || fd.desc() instanceof dev.cryo.engine.files.PipeHandler.Pipe p && p.fifoPath().isEmpty();
    }

    /**
     * The files passed in the unread messages of this task's sockets (SCM_RIGHTS), once every fd
     * of the tree is in place (a file in flight may share one): each made in the task through its
     * kind's handler, taken into cryo, closed in the task, then sent again with its message.
     */
    private static void passFilesAgain(TaskContext t, FdHandler.RestoreContext ctx, SocketHub sockets) {
        for (FdImage fd : t.task().fds()) {
            if (fd.desc() instanceof UnixSocketHandler.UnixSocket u && u.primary() && u.fillsLate()) {
                try {
                    passAgain(u, t, ctx, sockets);
                } catch (RuntimeException e) {
                    throw new RestoreException("pid " + t.pid() + " fd " + fd.fd() + ": cannot pass the files of its"
                            + " unread messages again: " + e.getMessage(), e);
                }
            }
        }
    }

    /**
     * The files the task's threads hold alone in fd tables of their own, once every fd of the tree is in place (one
     * may be a share of another task's): each made in the task's table by its kind's handler, at a number
     * {@link ThreadFilesRestore} moves into its thread's table.
     */
    private static void threadFilesAlone(TaskContext t, FdHandler.RestoreContext ctx) {
        for (dev.cryo.engine.model.ThreadImage th : t.task().threads()) {
            for (FdImage f : th.files() == null ? List.<FdImage>of() : th.files().alone()) {
                try {
                    long at = FdHandlers.restore(f, ctx);
                    signalOwner(t, new FdImage((int) at, f.flags(), f.position(), f.desc(), f.owner()));
                    t.madeForThread(th.tid(), f.fd(), (int) at);
                } catch (RuntimeException e) {
                    throw new RestoreException("pid " + t.pid() + " thread " + th.tid() + " fd " + f.fd() + ", in its own fd"
                            + " table alone: " + e.getMessage(), e);
                }
            }
        }
    }

    /**
     * Fills the queue of {@code u} with its messages and their files; a socket in flight among them
     * gets its own queue filled first, the same way.
     */
    private static void passAgain(UnixSocketHandler.UnixSocket u, TaskContext t, FdHandler.RestoreContext ctx,
                                  SocketHub sockets) {
        List<List<Fd>> passed = new ArrayList<>();
        List<Fd> all = new ArrayList<>(); // in queue order: a file passed twice names its first time
        try {
            for (UnixSocketHandler.Message m : u.queue()) {
                List<Fd> mine = new ArrayList<>();
                passed.add(mine);
                for (FdImage f : m.files()) {
                    if (f.desc() instanceof SharedFdHandler.SharedFd s
                            && s.ownerPid() == dev.cryo.engine.files.InFlightFiles.EARLIER_IN_QUEUE) {
                        Fd first = all.get(s.ownerFd());
                        mine.add(first);
                        all.add(first);
                        continue;
                    }
                    if (f.desc() instanceof UnixSocketHandler.UnixSocket inner && inner.primary() && inner.fillsLate()) {
                        passAgain(inner, t, ctx, sockets);
                    }
                    long tmp = FdHandlers.restore(f, ctx);
                    signalOwner(t, new FdImage((int) tmp, f.flags(), f.position(), f.desc(), f.owner()));
                    try (Fd pidfd = Sys.pidfdOpen(t.pid())) {
                        Fd taken = Sys.pidfdGetfd(pidfd, t.pid(), (int) tmp);
                        mine.add(taken);
                        all.add(taken);
                    }
                    t.call("close", SyscallNr.CLOSE, tmp);
                }
            }
            sockets.fillPassing(u, passed);
        } finally {
            all.forEach(f -> {
                if (f.isOpen()) {
                    f.close();
                }
            });
        }
    }

    /**
     * The eventfd each io_uring of the task had registered for its completions, registered again now that both are in
     * place (IORING_REGISTER_EVENTFD or _ASYNC, as before).
     */
    private static void ringEventFdsAgain(TaskContext t) {
        for (FdImage fd : t.task().fds()) {
            if (!(fd.desc() instanceof dev.cryo.engine.files.IoUringHandler.IoUringRing r) || r.eventFd() < 0) {
                continue;
            }
            String what = "pid " + t.pid() + " fd " + fd.fd() + ": io_uring_register(IORING_REGISTER_EVENTFD"
                    + (r.eventFdAsync() ? "_ASYNC" : "") + ", fd " + r.eventFd() + ")";
            long at = t.put(java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(r.eventFd()).array());
            try {
                t.call(what, SyscallNr.IO_URING_REGISTER, fd.fd(), r.eventFdAsync() ? dev.cryo.kernel.IoUring.REGISTER_EVENTFD_ASYNC
                        : dev.cryo.kernel.IoUring.REGISTER_EVENTFD, at, 1);
            } catch (RuntimeException e) {
                throw new RestoreException(what + ": the ring's eventfd cannot be registered again: " + e.getMessage(), e);
            }
        }
    }

    /**
     * The directory notifications of the task's fd table (fcntl F_NOTIFY), each through the fd it
     * was made through, once nothing closes an fd of the table any more (a close of any fd of the
     * open file drops it); F_NOTIFY makes the task the file's owner, so the dumped owner and signal follow.
     */
    private static void notifyAgain(TaskContext t) {
        for (FdImage fd : t.task().fds()) {
            if (fd.dirNotify() == 0) {
                continue;
            }
            String what = "pid " + t.pid() + " fd " + fd.fd() + ": fcntl(F_NOTIFY, "
                    + dev.cryo.kernel.DirNotifications.describe(fd.dirNotify()) + ")";
            try {
                t.call(what, SyscallNr.FCNTL, fd.fd(), Fcntl.F_NOTIFY, Integer.toUnsignedLong(fd.dirNotify()));
            } catch (RuntimeException e) {
                throw new RestoreException(what + ": its directory notification cannot be made again: " + e.getMessage(), e);
            }
            dev.cryo.engine.files.FdOwner o = fd.owner() != null ? fd.owner()
                    : new dev.cryo.engine.files.FdOwner(Fcntl.F_OWNER_PID, 0, 0); // none: F_NOTIFY's is taken back
            if (!ownedByLaterThread(t, o)) {
                setOwner(t, fd.fd(), o);
            }
        }
    }

    /**
     * The file's SIGIO/SIGURG owner and signal, then O_ASYNC, which handlers do not set (it
     * registers the file for those signals). The owner is a pid of the tree or of the host.
     */
    private static void signalOwner(TaskContext t, FdImage fd) {
        dev.cryo.engine.files.FdOwner o = fd.owner();
        if (o != null) {
            if (o.pid() != 0 && !ownedByLaterThread(t, o)) {
                setOwner(t, fd.fd(), o);
            }
            if (o.signal() != 0) {
                t.call("fcntl(pid " + t.pid() + " fd " + fd.fd() + ", F_SETSIG)", SyscallNr.FCNTL, fd.fd(), F_SETSIG, o.signal());
            }
        }
        if ((fd.flags() & O_ASYNC) != 0) {
            t.call("fcntl(pid " + t.pid() + " fd " + fd.fd() + ", F_SETFL)", SyscallNr.FCNTL, fd.fd(), F_SETFL,
                    fd.flags() & dev.cryo.engine.files.FdHandlers.SETFL_MASK);
        }
    }

    /** F_SETOWN_EX of fd {@code fd} of the task to {@code o}. */
    static void setOwner(TaskContext t, int fd, dev.cryo.engine.files.FdOwner o) {
        String what = "pid " + t.pid() + " fd " + fd;
        // inside a pid namespace the task names the owner by its pid there (a group by its leader's)
        int seen = o.pid() == 0 ? 0 : t.namespaces().seenBy(t.pid().value(), o.pid());
        if (o.pid() != 0 && seen == 0) {
            throw new RestoreException(what + ": its signal owner (" + o + ") is outside the task's pid namespace,"
                    + " where the task cannot name it");
        }
        long ex = t.put(new dev.cryo.engine.files.FdOwner(o.type(), seen, o.signal()).ownerEx());
        try {
            t.call("fcntl(" + what + ", F_SETOWN_EX " + o + ")", SyscallNr.FCNTL, fd, F_SETOWN_EX, ex);
        } catch (RuntimeException e) {
            throw new RestoreException(what + ": its signal owner (" + o + ") cannot be set again: "
                    + e.getMessage(), e);
        }
    }

    /**
     * An owner that is one of the task's own threads other than its main one: it does not exist
     * at FILES (threads are made later), so {@link ThreadSignalOwners} sets it once it does.
     */
    static boolean ownedByLaterThread(TaskContext t, dev.cryo.engine.files.FdOwner o) {
        return o.type() == dev.cryo.kernel.Fcntl.F_OWNER_TID && o.pid() != t.pid().value()
                && t.task().threads().stream().anyMatch(th -> th.tid() == o.pid());
    }

    /** pidfd_getfd in the task: a new fd (close-on-exec) for the open file of fd {@code fd} of {@code pid}. */
    public static long take(TaskContext t, int pid, int fd) {
        return take(t, pid, fd, null);
    }

    /** {@link #take(TaskContext, int, int)}, through {@code kept}'s pidfd of the process when it keeps one. */
    static long take(TaskContext t, int pid, int fd, KeptFds kept) {
        if (pid == ProcessHandle.current().pid() && t.namespaces().userNamespaceOf(t.pid().value()).isPresent()) {
            return dev.cryo.engine.namespaces.CryoFdCourier.deliver(t, fd); // no ptrace rights over cryo in there
        }
        int seen = t.seen(pid); // the task names pid as it sees it (inside a pid namespace of the tree)
        if (seen == 0 && pid == ProcessHandle.current().pid() && t.namespaces().cryoFd() > 0) {
            int pidfd = t.namespaces().cryoFd(); // inherited: cryo is outside the namespace
            return t.call("pidfd_getfd(pid " + pid + " fd " + fd + ")", SyscallNr.PIDFD_GETFD, pidfd, fd, 0);
        }
        var users = t.namespaces();
        boolean otherUserNs = users.userNamespaceOf(t.pid().value()).isPresent()
                && !users.userNamespaceOf(t.pid().value()).equals(users.userNamespaceOf(pid));
        if ((seen == 0 || otherUserNs) && pid != ProcessHandle.current().pid()) {
            // an owner outside the task's pid namespace (a sandbox's monitor, unshare, sharing their stdio with it),
            // or outside its user namespace (no ptrace rights over it from in there: an outer namespace's task)
            return throughCryo(t, pid, fd);
        }
        if (seen == 0) {
            throw new dev.cryo.engine.restore.RestoreException("pid " + t.pid() + " shares an open file with pid " + pid
                    + ", which is outside its pid namespace; not supported yet");
        }
        long held = kept != null ? kept.pidfd(pid, seen) : -1;
        long pidfd = held >= 0 ? held : t.call("pidfd_open(" + pid + ")", SyscallNr.PIDFD_OPEN, seen, 0);
        try {
            return t.call("pidfd_getfd(pid " + pid + " fd " + fd + ")", SyscallNr.PIDFD_GETFD, pidfd, fd, 0);
        } catch (dev.cryo.kernel.SyscallException e) {
            if (e.errno() != dev.cryo.kernel.Errno.EPERM) {
                throw e;
            }
            // the owner is not dumpable (its stub changed its effective uid to fork a user namespace as that
            // namespace's owner) and the task holds no capability where the owner's memory was made
            return throughCryo(t, pid, fd);
        } finally {
            if (pidfd != held) {
                t.later("close", SyscallNr.CLOSE, pidfd); // with the task's next call
            }
        }
    }

    /** Cryo takes the open file of fd {@code fd} of {@code pid} and hands it in to the task as one of its own. */
    private static long throughCryo(TaskContext t, int pid, int fd) {
        dev.cryo.kernel.Pid owner = dev.cryo.kernel.Pid.of(pid);
        try (dev.cryo.kernel.Fd pidfd = dev.cryo.kernel.Sys.pidfdOpen(owner);
             dev.cryo.kernel.Fd mine = dev.cryo.kernel.Sys.pidfdGetfd(pidfd, owner, fd)) {
            return take(t, (int) ProcessHandle.current().pid(), mine.value());
        }
    }

    static List<FdImage> inPass(List<FdImage> fds, Pass pass) {
        return switch (pass) {
            case OWN -> fds.stream().filter(fd -> !(fd.desc() instanceof SharedFdHandler.SharedFd)
                    && !FdHandlers.of(fd.desc()).restoresLast()).toList();
            case SHARED -> java.util.stream.Stream.concat(
                    fds.stream().filter(fd -> fd.desc() instanceof SharedFdHandler.SharedFd s && !s.ownerLate()),
                    dev.cryo.engine.files.EpollHandler.nestedFirst(fds.stream().filter(fd -> !(fd.desc() instanceof SharedFdHandler.SharedFd)
                            && FdHandlers.of(fd.desc()).restoresLast()).toList()).stream()).toList();
            case LATE -> fds.stream().filter(fd -> fd.desc() instanceof SharedFdHandler.SharedFd s && s.ownerLate())
                    .toList();
        };
    }
}
