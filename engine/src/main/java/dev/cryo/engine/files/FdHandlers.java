package dev.cryo.engine.files;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.FdInfo;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_CREAT;
import static dev.cryo.kernel.Fcntl.O_EXCL;
import static dev.cryo.kernel.Fcntl.O_NONBLOCK;
import static dev.cryo.kernel.Fcntl.O_TRUNC;
import static dev.cryo.kernel.Fcntl.O_TMPFILE;
import static dev.cryo.kernel.Fcntl.O_TMPFILE_BIT;

/**
 * The table of fd kinds cryo handles. Adding a kind = one handler class (record, codec, tag, dump,
 * restore, show) and one line here. Dump asks the handlers in this order, so a handler that
 * claims a subset of another's fds (a FIFO is also a path) comes first.
 */
public final class FdHandlers {
    private FdHandlers() {}

    public static final List<FdHandler<?>> ALL = List.of(
            new PipeHandler(),
            new PtyMasterHandler(),
            new PtySlaveHandler(),
            new CurrentTtyHandler(),
            new TunFileHandler(),
            new CharDeviceHandler(),
            new MemfdHandler(),
            new SecretMemfdHandler(),
            new MessageQueueHandler(),
            new DetachedMountFileHandler(), // before the files reopened by path: no path reaches its mount
            new GhostFileHandler(),
            new SymlinkHandler(),
            new RegularFileHandler(),
            new EventFdHandler(),
            new TimerFdHandler(),
            new SignalFdHandler(),
            new EpollHandler(),
            new PidFdHandler(),
            new NsFileHandler(),
            new InotifyHandler(),
            new FanotifyHandler(),
            new UnixSocketHandler(),
            new TcpSocketHandler(),
            new MptcpSocketHandler(),
            new UdpSocketHandler(),
            new RawSocketHandler(),
            new VsockSocketHandler(),
            new NetlinkSocketHandler(),
            new PacketSocketHandler(),
            new IoUringHandler(),
            new SharedFdHandler());

    private static final Map<Integer, FdHandler<?>> BY_TAG = new HashMap<>();
    private static final Map<Class<?>, FdHandler<?>> BY_RECORD = new HashMap<>();

    static {
        for (FdHandler<?> h : ALL) {
            FdHandler<?> clash = BY_TAG.put(h.tag(), h);
            if (clash != null) {
                throw new IllegalStateException(h.getClass().getName() + ": fd kind tag " + h.tag()
                        + " already used by " + clash.getClass().getName());
            }
            if (BY_RECORD.put(h.codec().type(), h) != null) {
                throw new IllegalStateException(h.getClass().getName() + ": record "
                        + h.codec().type().getName() + " has two handlers");
            }
        }
    }

    /** The status flags F_SETFL may change: O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME, O_NONBLOCK. */
    public static final int SETFL_MASK = 02000 | 020000 | 040000 | 01000000 | 04000;

    /** The fd's open flags for reopening it: never create, truncate or require exclusivity. */
    static int openFlags(FdImage fd) {
        int flags = fd.flags() & ~(O_CREAT | O_TRUNC | O_EXCL);
        // an fd made with O_TMPFILE keeps it in its flags; its file is made again, then opened as a file
        return (flags & O_TMPFILE_BIT) != 0 ? flags & ~O_TMPFILE : flags;
    }

    /** The handler of a record, for its restore half, codec and rendering. */
    @SuppressWarnings("unchecked")
    public static <D extends FileDesc> FdHandler<D> of(D d) {
        FdHandler<?> h = BY_RECORD.get(d.getClass());
        if (h == null) {
            throw new IllegalStateException("no fd handler for " + d.getClass().getName());
        }
        return (FdHandler<D>) h;
    }

    /** The handler that wrote records with this tag, or null if this build knows none. */
    public static FdHandler<?> byTag(int tag) {
        return BY_TAG.get(tag);
    }

    /** The codecs of every fd record, for the image registry. */
    public static List<RecordCodec<?>> codecs() {
        return ALL.stream().<RecordCodec<?>>map(FdHandler::codec).toList();
    }

    /** Restores one fd through its kind's handler; returns the fd number it got in the task. */
    public static long restore(FdImage fd, FdHandler.RestoreContext ctx) {
        return of(fd.desc()).restore(fd, fd.desc(), ctx);
    }

    /** Cryo's open file the task takes as it is for this fd ({@link FdHandler#handedIn}), or null. */
    public static dev.cryo.kernel.Fd handedIn(FdImage fd, FdHandler.RestoreContext ctx) {
        return of(fd.desc()).handedIn(fd, fd.desc(), ctx);
    }

    /** The name a restore may hand this fd's object over by ({@link FdHandler#inheritName}), or null. */
    public static String inheritName(FileDesc d) {
        return of(d).inheritName(d);
    }

    /** The record's {@code cryo show} fields. */
    public static Map<String, Object> show(FileDesc d) {
        Map<String, Object> m = new LinkedHashMap<>();
        of(d).show(d, m);
        return m;
    }

    /** Dumps every fd of a frozen task, or fails naming the first fd cryo cannot carry. */
    public static List<FdImage> dumpAll(Pid pid, FdHandler.DumpContext ctx) {
        long t0 = System.nanoTime();
        long[] calls = dev.cryo.kernel.OwnSyscalls.now();
        List<FdImage> all = dumpEach(pid, ctx);
        if (all.size() >= FDS_WORTH_A_LINE) { // a server's many sockets: what reading them cost in calls (every thread's)
            org.slf4j.LoggerFactory.getLogger(FdHandlers.class).debug("pid {}: fds read: {} in {} ms, cryo's syscalls"
                    + " meanwhile: {}", pid, all.size(), (System.nanoTime() - t0) / 1_000_000,
                    dev.cryo.kernel.OwnSyscalls.since(calls));
        }
        return all;
    }

    private static final int FDS_WORTH_A_LINE = 100;

    private static List<FdImage> dumpEach(Pid pid, FdHandler.DumpContext ctx) {
        List<FdImage> out = new ArrayList<>();
        List<FdProbe> dirs = new ArrayList<>();
        MountReach reach = new MountReach(pid);
        for (int fd : ProcFs.fds(pid)) {
            String target = ProcFs.fdTarget(pid, fd);
            FdInfo info = ProcFs.fdInfo(pid, fd);
            FdProbe probe = new FdProbe(pid, fd, target, info);
            FdProbe.Ref owner = ctx.sharedOwner(probe);
            FileDesc desc = owner == null ? dump(probe, ctx, reach) : shared(probe, owner, ctx);
            if (!(desc instanceof RegularFileHandler.RegularFile) && !(desc instanceof SharedFdHandler.SharedFd)
                    && !(desc instanceof GhostFileHandler.GhostFd) && !info.values("lock").isEmpty()) {
                throw new DumpException(probe.where() + " (" + target + "): a lock on a "
                        + of(desc).kind() + " is not supported yet");
            }
            FdOwner signalOwner = ctx.sockets().signalOwner(probe);
            if (signalOwner != null && signalOwner.threadOf() != 0 && signalOwner.threadOf() != pid.value()) {
                throw new DumpException(probe.where() + " (" + target + "): its signal owner (F_SETOWN_EX) is thread "
                        + signalOwner.pid() + " of pid " + signalOwner.threadOf() + ", a thread of another process; not supported");
            }
            out.add(new FdImage(fd, info.flags(), info.pos(), desc, signalOwner));
            if (DirectoryNotifications.mayHold(probe, desc)) {
                dirs.add(probe);
            }
        }
        return DirectoryNotifications.dump(pid, out, dirs);
    }

    private static FileDesc dump(FdProbe probe, FdHandler.DumpContext ctx, MountReach reach) {
        try {
            FdHandler<?> h = handlerOf(probe);
            if (h.reopensByPath(probe)) {
                try {
                    reach.requireLink(probe.procPath().toString(), probe.target(), "fd " + probe.fd() + " (" + probe.target() + ")");
                } catch (DumpException e) {
                    // a file of a mount another mount namespace of the tree has (a child's tmpfs, opened through its
                    // /proc/PID/fd: zdtm's inotify01): reopened as a task of that namespace sees it (RegularFile.mountOf)
                    if (!(h instanceof RegularFileHandler) || OtherMountNamespace.holder(probe, ctx) == 0) {
                        throw e;
                    }
                }
            }
            return h.dump(probe, ctx);
        } catch (IOException e) {
            throw new DumpException(probe.where() + " (" + probe.target() + "): " + e.getMessage(), e);
        }
    }

    static FdHandler<?> handlerOf(FdProbe probe) throws IOException {
        for (FdHandler<?> h : ALL) {
            if (h.handles(probe)) {
                return h;
            }
        }
        throw new DumpException(probe.where() + ": " + UnsupportedFds.describe(probe) + " is not supported yet"
                + UnsupportedFds.why(probe));
    }

    /** A file in flight in a socket queue that fd {@code owner} of the tree holds too. */
    static FileDesc inFlightShare(FdProbe.Ref owner) throws IOException {
        Pid ownerPid = Pid.of(owner.pid());
        FdProbe o = new FdProbe(ownerPid, owner.fd(), ProcFs.fdTarget(ownerPid, owner.fd()),
                ProcFs.fdInfo(ownerPid, owner.fd()));
        refuseSharedThreadFile(o, "a message in flight");
        return new SharedFdHandler.SharedFd(owner.pid(), owner.fd(), handlerOf(o).tag());
    }

    /**
     * Refuses a file of one of the owner's threads other than its main one (a /proc/PID/task/TID file, a thread
     * pidfd) that {@code other} shares (a child forked after it was opened, a message in flight): the owner's fd
     * takes the thread's file once its threads are made, after every task's files and every file in flight are
     * in place, so the other would keep the main thread's.
     */
    private static void refuseSharedThreadFile(FdProbe owner, String other) {
        int thread = ThreadProcFiles.laterThread(owner.target(), owner.pid().value());
        String kind = "a /proc file";
        if (thread == 0) {
            thread = PidFdHandler.laterThread(owner, owner.pid().value());
            kind = "a pidfd";
        }
        if (thread != 0) {
            throw new DumpException(owner.where() + " (" + owner.target() + "), " + kind + " of thread " + thread + " of pid "
                    + owner.pid() + ", is shared with " + other + "; not supported yet (a restore opens a thread's files"
                    + " once its threads are made, after the files every task shares)");
        }
    }

    /** An fd whose open file an earlier fd of the tree owns: only the owner's kind is needed. */
    private static FileDesc shared(FdProbe probe, FdProbe.Ref owner, FdHandler.DumpContext ctx) {
        Pid ownerPid = Pid.of(owner.pid());
        FdProbe o = new FdProbe(ownerPid, owner.fd(), ProcFs.fdTarget(ownerPid, owner.fd()),
                ProcFs.fdInfo(ownerPid, owner.fd()));
        if (probe.pid().value() != owner.pid()) {
            refuseSharedThreadFile(o, "pid " + probe.pid());
        }
        try {
            return new SharedFdHandler.SharedFd(owner.pid(), owner.fd(), handlerOf(o).tag(),
                    FileLocks.dump(probe, ctx, false));
        } catch (IOException e) {
            throw new DumpException(probe.where() + " (shared with " + owner + "): " + e.getMessage(), e);
        }
    }
}
