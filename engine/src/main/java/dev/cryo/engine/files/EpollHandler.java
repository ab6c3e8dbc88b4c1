package dev.cryo.engine.files;

import dev.cryo.kernel.EpollBits;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.Fcntl;
import com.esotericsoftware.kryo.KryoException;
import dev.cryo.engine.DumpException;
import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;
import dev.cryo.engine.model.codec.ModelLimits;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.PipeNudge;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.cryo.engine.show.ShowFormat.hex;

/**
 * epoll: fdinfo lists every watched fd with its event mask and user data; restore creates a new
 * instance and adds them again, after every other fd of the task is in place. The kernel keys a
 * watch by the file and the fd number it was added through, and the program may have closed that
 * fd since (or put another file there) while the file stays open at another fd and stays watched
 * (CRIU's zdtm epoll does it with fd 999). The watched file is told apart with
 * kcmp(KCMP_EPOLL_TFD) and found at another fd of the task ({@code via}); restore puts it at the
 * same number for a moment to add it (moving whatever sits there aside and back), as CRIU does.
 * A oneshot watch that has fired holds no events until the program arms it again; the restore fires
 * it again (see {@link #addFired}).
 */
public final class EpollHandler implements FdHandler<EpollHandler.Epoll> {
    public static final int TAG = 6, RECORD_ID = 116;
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(EpollHandler.class);
    private static final Pattern WATCH = Pattern.compile("(\\d+)\\s+events:\\s*([0-9a-fA-F]+)\\s+data:\\s*([0-9a-fA-F]+)");
    private static final Pattern TARGET = Pattern.compile("ino:\\s*([0-9a-fA-F]+)");

    /** An epoll instance and what it watches: fds of the same task, their event masks and data. */
    public record Epoll(List<Watch> watches) implements FileDesc {
        public Epoll {
            watches = List.copyOf(watches);
        }

        /**
         * A watch added through fd number {@code fd}; {@code via} is -1 when that fd still holds the
         * watched file, else the fd of the task that holds it now (the watch's own fd was closed or
         * holds another file).
         */
        public record Watch(int fd, int events, long data, int via) {
            public Watch(int fd, int events, long data) {
                this(fd, events, data, -1);
            }
        }
    }

    static final RecordCodec<Epoll> CODEC = RecordCodec.of(Epoll.class, RECORD_ID, 1, (out, e) -> {
        if (e.watches().size() > ModelLimits.FDS) {
            throw new IllegalArgumentException("Epoll.watches has " + e.watches().size() + " entries, more than "
                    + ModelLimits.FDS);
        }
        out.writeVarInt(e.watches().size(), true);
        for (Epoll.Watch w : e.watches()) {
            out.writeVarInt(w.fd(), true);
            out.writeInt(w.events());
            out.writeLong(w.data());
            out.writeVarInt(w.via(), false);
        }
    }, (in, version) -> {
        int n = in.readVarInt(true);
        if (n < 0 || n > ModelLimits.FDS) {
            throw new KryoException("Epoll.watches: list length " + n + " exceeds the limit of " + ModelLimits.FDS);
        }
        List<Epoll.Watch> watches = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Epoll.Watch w = new Epoll.Watch(in.readVarInt(true), in.readInt(), in.readLong(), in.readVarInt(false));
            if (w.fd() < 0 || w.via() < -1 || w.via() == w.fd()) {
                throw new KryoException("Epoll.watches: watch of fd " + w.fd() + " via fd " + w.via() + " is not valid");
            }
            watches.add(w);
        }
        return new Epoll(watches);
    });

    @Override
    public String kind() {
        return "epoll";
    }

    @Override
    public int tag() {
        return TAG;
    }

    @Override
    public RecordCodec<Epoll> codec() {
        return CODEC;
    }

    @Override
    public boolean restoresLast() {
        return true;
    }

    @Override
    public boolean handles(FdProbe fd) {
        return fd.target().equals("anon_inode:[eventpoll]");
    }

    @Override
    public Epoll dump(FdProbe fd, DumpContext ctx) {
        ctx.requireUnshared(fd, kind());
        return read(fd, fd.pid());
    }

    /**
     * An epoll no task holds, in flight in an unread message (zdtm's scm05): {@code fd} is cryo's
     * copy; its watches are looked for among the fds of {@code receiver}, the task whose socket
     * queues it, where the restore makes it again.
     */
    static Epoll inFlight(FdProbe fd, Pid receiver) {
        return read(fd, receiver);
    }

    /** The watches of epoll {@code fd}, each file found among the fds of {@code task}. */
    private static Epoll read(FdProbe fd, Pid task) {
        List<Epoll.Watch> watches = new ArrayList<>();
        Map<Integer, Integer> added = new HashMap<>(); // items per fd number so far: the kernel's toff
        boolean threads = !fd.info().values("tfd").isEmpty() && threads(task) > 1; // else no thread pidfd to look for
        for (String line : fd.info().values("tfd")) {
            Matcher m = WATCH.matcher(line);
            if (!m.find()) {
                throw new IllegalStateException(fd.where() + ": cannot read epoll watch '" + line + "' in fdinfo");
            }
            int tfd = Integer.parseInt(m.group(1));
            int toff = added.merge(tfd, 1, Integer::sum) - 1;
            int held = holder(fd, task, tfd, toff, line);
            if (threads) {
                refuseThreadPidfd(fd, task, held < 0 ? tfd : held);
            }
            watches.add(new Epoll.Watch(tfd, (int) Long.parseLong(m.group(2), 16),
                    Long.parseUnsignedLong(m.group(3), 16), held));
        }
        return new Epoll(watches);
    }

    /**
     * A watch of a pidfd of one of the task's own threads: the restore makes the watch on the task's pidfd, which holds
     * the fd until the threads are made; the thread's then takes the fd, and the watch went with the closed one.
     */
    private static void refuseThreadPidfd(FdProbe ep, Pid task, int at) {
        FdProbe watched;
        try {
            String target = ProcFs.fdTarget(task, at);
            if (!target.equals("anon_inode:[pidfd]")) {
                return;
            }
            watched = new FdProbe(task, at, target, ProcFs.fdInfo(task, at));
        } catch (KernelException e) {
            return; // closed meanwhile: holder() has said what it could
        }
        int thread = PidFdHandler.laterThread(watched, task.value());
        if (thread != 0) {
            throw new DumpException(ep.where() + ": epoll watches fd " + at + ", a pidfd of thread " + thread + " of pid "
                    + task + "; not supported yet (the restore makes a thread's pidfd once its threads are made, after"
                    + " the epoll's watches, which would lose it)");
        }
    }

    /**
     * -1 when fd {@code tfd} of {@code task} holds the file the watch was added with; else the fd of
     * {@code task} that holds that file now. Refused when no fd of it holds it (another process,
     * or only a mapping, keeps it open; or, for an epoll in flight, the file is in flight too).
     */
    private static int holder(FdProbe ep, Pid task, int tfd, int toff, String line) {
        Matcher t = TARGET.matcher(line);
        long ino = t.find() ? Long.parseUnsignedLong(t.group(1), 16) : -1;
        boolean own = task.equals(ep.pid());
        try {
            if (Sys.epollTargetIs(task, tfd, ep.pid(), ep.fd(), tfd, toff)) {
                return -1;
            }
            for (int other : ProcFs.fds(task)) {
                if (other != tfd && (!own || other != ep.fd()) && (ino < 0 || inode(task, other) == ino)
                        && Sys.epollTargetIs(task, other, ep.pid(), ep.fd(), tfd, toff)) {
                    return other;
                }
            }
        } catch (SyscallException e) {
            return sameInode(ep, task, tfd, ino); // a kernel without KCMP_EPOLL_TFD: the inode tells what it can
        }
        String whose = own ? "" : "in pid " + task + ", which receives the epoll in flight, ";
        throw new DumpException(ep.where() + ": epoll watches a file through fd " + tfd + ", but " + whose
                + whatIsAt(task, tfd) + " and no other fd of " + (own ? "the task" : "it") + " holds the watched file"
                + " (inode " + ino + "; " + (own ? "another process or a mapping" : "another process, a mapping or a"
                + " message in flight") + " keeps it open); such a watch is not supported yet");
    }

    private static int threads(Pid task) {
        try {
            return ProcFs.stat(task).numThreads();
        } catch (KernelException e) {
            return 1;
        }
    }

    private static long inode(Pid pid, int fd) {
        try {
            return ProcFs.fdInfo(pid, fd).ino();
        } catch (KernelException e) {
            return -1;
        }
    }

    private static String whatIsAt(Pid task, int tfd) {
        return inode(task, tfd) < 0 ? "fd " + tfd + " was closed" : "fd " + tfd + " now holds another file";
    }

    /** Without kcmp: the watch's fd must still hold a file with the watched inode. */
    private static int sameInode(FdProbe ep, Pid task, int tfd, long ino) {
        if (ino < 0 || inode(task, tfd) == ino) {
            return -1;
        }
        throw new DumpException(ep.where() + ": epoll watches a file through fd " + tfd + ", but " + whatIsAt(task, tfd)
                + " (the file is still watched, inode " + ino + "), and this kernel cannot tell which fd holds it "
                + "(kcmp KCMP_EPOLL_TFD); such a watch is not supported here");
    }

    @Override
    public long restore(FdImage fd, Epoll e, RestoreContext ctx) {
        long epfd = ctx.call("epoll_create1", SyscallNr.EPOLL_CREATE1, fd.flags() & Fcntl.O_CLOEXEC);
        epfd = awayFrom(epfd, e, ctx);
        int status = fd.flags() & FdHandlers.SETFL_MASK & ~Fcntl.O_ASYNC; // O_ASYNC: FileRestore, with the owner
        if (status != 0) { // epoll_create1 takes no O_NONBLOCK, which a program may set after (knot-resolver's)
            ctx.call("fcntl(F_SETFL)", SyscallNr.FCNTL, epfd, Fcntl.F_SETFL, status);
        }
        List<Epoll.Watch> fired = e.watches().stream().filter(EpollHandler::fired).toList();
        if (!fired.isEmpty()) {
            addFired(epfd, fired, ctx);
        }
        for (Epoll.Watch w : e.watches()) {
            if (!fired(w)) {
                ctl(EpollBits.EPOLL_CTL_ADD, epfd, w, w.events(), ctx);
            }
        }
        return epfd;
    }

    /** A oneshot watch that has reported its event: the kernel left it only its private bits. */
    private static boolean fired(Epoll.Watch w) {
        return (w.events() & ~EpollBits.PRIVATE_BITS) == 0;
    }

    /**
     * Adds the oneshot watches that had fired. An ADD always arms EPOLLERR and EPOLLHUP, so each is
     * added asking for every event and reported once by an epoll_wait, before any other watch is
     * there to be reported (and lose its edge or its own oneshot), which leaves it as the kernel
     * had left it. A pipe's read end with nothing in it is ready for nothing: a byte of cryo's makes
     * it ready for a second epoll_wait, and is read back ({@link PipeNudge}). A watch whose file is
     * still ready for nothing (a listener with no connection, a timerfd not expired) cannot fire: it
     * gets its dumped mask, i.e. comes back armed for errors and hang-ups only, with a warning.
     */
    private static void addFired(long epfd, List<Epoll.Watch> fired, RestoreContext ctx) {
        for (Epoll.Watch w : fired) {
            ctl(EpollBits.EPOLL_CTL_ADD, epfd, w, w.events() | EpollBits.ANY_EVENT, ctx);
        }
        long out = ctx.put(new byte[EpollBits.EVENT_SIZE * fired.size()]);
        long n = ctx.call("epoll_wait", SyscallNr.EPOLL_WAIT, epfd, out, fired.size(), 0);
        if (n == fired.size() || ctx.taskPid() == 0) {
            return;
        }
        Pid pid = Pid.of(ctx.taskPid());
        java.util.Set<Integer> armed = armed(pid, epfd);
        List<Integer> emptyPipes = fired.stream().map(Epoll.Watch::fd)
                .filter(fd -> armed.contains(fd) && pipeReadEnd(pid, fd)).toList();
        if (!emptyPipes.isEmpty()) {
            PipeNudge.withByteIn(pid, emptyPipes, () -> ctx.call("epoll_wait", SyscallNr.EPOLL_WAIT, epfd, out,
                    emptyPipes.size(), 0));
            armed.retainAll(armed(pid, epfd));
        }
        for (Epoll.Watch w : fired) {
            if (armed.contains(w.fd())) {
                ctl(EpollBits.EPOLL_CTL_MOD, epfd, w, w.events(), ctx);
                log.warn("pid {} epoll fd {}: the oneshot watch of fd {} had fired and waited to be armed again; "
                        + "its file is ready for nothing now, so it comes back armed for errors and hang-ups",
                        ctx.taskPid(), epfd, w.fd());
            }
        }
    }

    /** The fds whose watches in {@code epfd} are armed for some event. */
    private static java.util.Set<Integer> armed(Pid pid, long epfd) {
        java.util.Set<Integer> armed = new java.util.HashSet<>();
        for (String line : ProcFs.fdInfo(pid, (int) epfd).values("tfd")) {
            Matcher m = WATCH.matcher(line);
            if (m.find() && (Long.parseLong(m.group(2), 16) & ~EpollBits.PRIVATE_BITS) != 0) {
                armed.add(Integer.parseInt(m.group(1)));
            }
        }
        return armed;
    }

    /** Whether fd {@code fd} of the task is the read end of a pipe or FIFO (read-only: a FIFO opened O_RDWR is ready to write). */
    private static boolean pipeReadEnd(Pid pid, int fd) {
        try {
            java.nio.file.Path link = java.nio.file.Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd);
            String target = java.nio.file.Files.readSymbolicLink(link).toString();
            return (ProcFs.fdInfo(pid, fd).flags() & Fcntl.O_ACCMODE) == Fcntl.O_RDONLY
                    && PipeHandler.isPipe(target, link);
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * {@code fds} (the task's fds restored last, in fd order) with every epoll that another epoll
     * of them watches moved before it: an epoll can watch an epoll (sd-event embedding, nested
     * loops), and a watch can only be added once its file is there. The kernel refuses loops, so
     * the order always exists.
     */
    public static List<FdImage> nestedFirst(List<FdImage> fds) {
        Map<Integer, FdImage> epolls = new HashMap<>();
        fds.stream().filter(f -> f.desc() instanceof Epoll).forEach(f -> epolls.put(f.fd(), f));
        List<FdImage> out = new ArrayList<>();
        java.util.Set<Integer> placed = new java.util.HashSet<>();
        for (FdImage f : fds) {
            place(f, epolls, placed, out);
        }
        return out;
    }

    private static void place(FdImage f, Map<Integer, FdImage> epolls, java.util.Set<Integer> placed, List<FdImage> out) {
        if (!placed.add(f.fd())) {
            return;
        }
        if (f.desc() instanceof Epoll e) {
            for (Epoll.Watch w : e.watches()) {
                FdImage inner = epolls.get(w.via() >= 0 ? w.via() : w.fd());
                if (inner != null) {
                    place(inner, epolls, placed, out);
                }
            }
        }
        out.add(f);
    }

    /** epoll_ctl({@code op}) of watch {@code w} with {@code events} and its data. */
    private static void ctl(int op, long epfd, Epoll.Watch w, int events, RestoreContext ctx) {
        byte[] event = ByteBuffer.allocate(EpollBits.EVENT_SIZE).order(ByteOrder.LITTLE_ENDIAN).putInt(events)
                .putLong(w.data()).array();
        if (w.via() < 0) { // queued: a server's thousands of watches share batches, not a round trip each
            ctx.laterReading("epoll_ctl(" + opName(op) + " " + w.fd() + ")", SyscallNr.EPOLL_CTL, event, 3, epfd, op,
                    w.fd(), 0);
        } else {
            ctlThrough(op, epfd, w, ctx.put(event), ctx);
        }
    }

    private static String opName(int op) {
        return op == EpollBits.EPOLL_CTL_ADD ? "ADD" : "MOD";
    }

    /**
     * epoll_ctl on the file at fd {@code via} as if through fd number {@code fd}: it is put there for the
     * call, and whatever the task holds at that number is moved aside and back with its close-on-exec flag.
     */
    private static void ctlThrough(int op, long epfd, Epoll.Watch w, long ev, RestoreContext ctx) {
        long aside = -1, fdFlags = 0;
        try {
            fdFlags = ctx.call("fcntl(F_GETFD)", SyscallNr.FCNTL, w.fd(), Fcntl.F_GETFD);
            aside = ctx.call("fcntl(F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, w.fd(), Fcntl.F_DUPFD_CLOEXEC, 0);
        } catch (SyscallException ex) {
            if (!ex.is(Errno.EBADF)) {
                throw ex;
            }
        }
        ctx.call("dup3(" + w.via() + ", " + w.fd() + ")", SyscallNr.DUP3, w.via(), w.fd(), 0);
        ctx.call("epoll_ctl(" + opName(op) + " " + w.fd() + " via " + w.via() + ")", SyscallNr.EPOLL_CTL, epfd, op,
                w.fd(), ev);
        if (aside >= 0) {
            ctx.call("dup3", SyscallNr.DUP3, aside, w.fd(), (fdFlags & Fcntl.FD_CLOEXEC) != 0 ? Fcntl.O_CLOEXEC : 0);
            ctx.call("close", SyscallNr.CLOSE, aside);
        } else {
            ctx.call("close", SyscallNr.CLOSE, w.fd());
        }
    }

    /** The new epoll's fd, moved off any number a watch must be added through for a moment. */
    private static long awayFrom(long epfd, Epoll e, RestoreContext ctx) {
        java.util.Set<Integer> through = new java.util.HashSet<>();
        e.watches().stream().filter(w -> w.via() >= 0).forEach(w -> through.add(w.fd()));
        List<Long> held = new ArrayList<>();
        while (through.contains((int) epfd)) { // each copy takes the lowest free number: one is free of them
            held.add(epfd);
            epfd = ctx.call("fcntl(F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, epfd, Fcntl.F_DUPFD_CLOEXEC, 0);
        }
        for (long h : held) {
            ctx.call("close", SyscallNr.CLOSE, h);
        }
        return epfd;
    }

    @Override
    public void show(Epoll e, Map<String, Object> m) {
        m.put("kind", "epoll");
        m.put("watches", e.watches().stream().map(w -> {
            Map<String, Object> o = new java.util.LinkedHashMap<>();
            o.put("fd", w.fd());
            o.put("events", hex(w.events()));
            o.put("data", hex(w.data()));
            if (w.via() >= 0) {
                o.put("via", w.via()); // the watch's fd was closed: the file is at this one
            }
            return o;
        }).toList());
    }
}
