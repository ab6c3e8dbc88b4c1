package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.BootstrapArea;
import dev.cryo.engine.restore.RemoteWriter;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sched;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.SyscallBatch;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What every restore stage of one task works with: the tracer (on its own thread), the task's
 * image, the bootstrap area, and the injector of the main thread once the stub is adopted; plus
 * the small helpers every stage needs (inject a call, open a path, put bytes in scratch memory).
 */
public final class TaskContext {
    private final Tracer tracer;
    private final TaskImage task;
    private final Pid pid;
    private final BootstrapArea boot;
    private final Set<Integer> treePids;
    private final List<Integer> forked = new ArrayList<>();
    private Injector main;
    private final java.util.Map<Integer, dev.cryo.kernel.ptrace.Registers> resumeFrames = new java.util.HashMap<>();
    /** Areas mapped inaccessible so they stay apart from the one before (AnonymousMemory.mapApart). */
    private final java.util.Set<Long> keptApart = new java.util.HashSet<>();
    /** cryo's copies of open files the task holds, each with the position it gets after cryo's last call. */
    private final java.util.Map<dev.cryo.kernel.Fd, Long> positionedLast = new java.util.LinkedHashMap<>();

    /** {@code treePids}: every pid of the image; groups and sessions led from outside it are not recreated. */
    public TaskContext(Tracer tracer, TaskImage task, BootstrapArea boot, Set<Integer> treePids) {
        this(tracer, task, boot, treePids, dev.cryo.engine.namespaces.TreeNamespaces.NONE);
    }

    /** {@code namespaces}: those the tree made (a task in a pid namespace sees other pids than cryo). */
    public TaskContext(Tracer tracer, TaskImage task, BootstrapArea boot, Set<Integer> treePids,
                       dev.cryo.engine.namespaces.TreeNamespaces namespaces) {
        this.namespaces = namespaces;
        this.tracer = tracer;
        this.task = task;
        this.pid = Pid.of(task.pid());
        this.boot = boot;
        this.treePids = Set.copyOf(treePids);
    }

    private dev.cryo.engine.restore.PreparedRoot prepared;
    private final dev.cryo.engine.namespaces.TreeNamespaces namespaces;

    public dev.cryo.engine.namespaces.TreeNamespaces namespaces() {
        return namespaces;
    }

    /** {@code pid} (as cryo sees it) as this task sees it: its pid inside the task's pid namespace; 0 if outside it. */
    public int seen(int pid) {
        return namespaces.seenBy(this.pid.value(), pid);
    }

    /** The stub was prepared while a migration's pre-copy arrived (null: a plain stub). */
    public dev.cryo.engine.restore.PreparedRoot prepared() {
        return prepared;
    }

    public void prepared(dev.cryo.engine.restore.PreparedRoot p) {
        this.prepared = p;
    }

    private boolean seized;
    /** SCHED_FIFO priority the stub runs at while it is made again (0: none; SchedHandler#liftStub). */
    private int rtPriority;
    /** The stub's policy and timer slack before its lift, while it is lifted (null: not lifted). */
    private Sched.Attr liftedFrom;
    private long slackBeforeLift;

    public int rtPriority() {
        return rtPriority;
    }

    public void rtPriority(int p) {
        this.rtPriority = p;
    }

    public Sched.Attr liftedFrom() {
        return liftedFrom;
    }

    public long slackBeforeLift() {
        return slackBeforeLift;
    }

    /** {@code from}: what the stub had before its lift, null once dropped. */
    public void lifted(Sched.Attr from, long slack) {
        this.liftedFrom = from;
        this.slackBeforeLift = slack;
    }

    /** The stub is seized and stopped already, by this context's tracer (StubKeptWarm#take): ADOPT seizes nothing. */
    public boolean seized() {
        return seized;
    }

    public void seized(boolean s) {
        this.seized = s;
    }

    public Tracer tracer() {
        flush();
        return tracer;
    }

    public TaskImage task() {
        return task;
    }

    public Pid pid() {
        return pid;
    }

    /** This task as {@link dev.cryo.engine.restore.SocketHub.Remote}: injected calls, its scratch area, its memory. */
    public dev.cryo.engine.restore.SocketHub.Remote remote() {
        TaskContext t = this;
        return new dev.cryo.engine.restore.SocketHub.Remote() {
            @Override
            public long call(String name, int nr, long... args) {
                return t.call(name, nr, args);
            }

            @Override
            public void later(String name, int nr, long... args) {
                t.later(name, nr, args);
            }

            @Override
            public long put(long offset, byte[] data) {
                return t.put(offset, data);
            }

            @Override
            public byte[] read(long address, int len) {
                return Sys.read(t.pid(), address, len);
            }

            @Override
            public int pid() {
                return t.pid().value();
            }
        };
    }

    public BootstrapArea boot() {
        return boot;
    }

    public Set<Integer> treePids() {
        return treePids;
    }

    /** The main thread's injector; set by {@link StubAdoption}. */
    public Injector main() {
        flush();
        return adopted();
    }

    private Injector adopted() {
        if (main == null) {
            throw new IllegalStateException("pid " + pid + " is not adopted yet");
        }
        return main;
    }

    void main(Injector injector) {
        this.main = injector;
    }

    /** The injector of one thread of the task (the main one, or a fresh one through the bootstrap gadget). */
    public Injector injector(int tid) {
        return tid == pid.value() ? main() : new Injector(tracer, pid, tid, boot.gadget());
    }

    /**
     * Sets the frame a thread resumes with, instead of its dumped registers run through
     * {@link RegisterInstall#resumeFrame} (a stage that re-created a syscall's kernel state).
     */
    public void resumeWith(int tid, dev.cryo.kernel.ptrace.Registers frame) {
        resumeFrames.put(tid, frame);
    }

    /** The frame set by {@link #resumeWith}, or null. */
    public dev.cryo.kernel.ptrace.Registers resumeFrame(int tid) {
        return resumeFrames.get(tid);
    }

    /** Where FILES made the files threads hold alone ({@link dev.cryo.engine.model.ThreadFdTable#alone}): tid to (fd to the task's fd). */
    private final java.util.Map<Integer, java.util.Map<Integer, Integer>> threadFilesAlone = new java.util.HashMap<>();

    /** Fd {@code fd} of thread {@code tid}'s own table, alone there, was made at fd {@code at} of the task's table. */
    public void madeForThread(int tid, int fd, int at) {
        threadFilesAlone.computeIfAbsent(tid, k -> new java.util.HashMap<>()).put(fd, at);
    }

    /** The fds of the task's table {@link #madeForThread} made for thread {@code tid}, by the thread's fd (none: empty). */
    public java.util.Map<Integer, Integer> madeForThread(int tid) {
        return threadFilesAlone.getOrDefault(tid, java.util.Map.of());
    }

    private final java.util.Map<Long, byte[]> areaNotes = new java.util.HashMap<>();

    /** What a memory kind learned mapping the area at {@code address}, for its protect once the pages are written. */
    public void keepApart(long start) {
        keptApart.add(start);
    }

    public boolean keptApart(long start) {
        return keptApart.contains(start);
    }

    /**
     * Moves {@code own} (cryo's copy of an open file the task took) to {@code position} once cryo's
     * last call in the task is made ({@link RegisterInstall}), then closes it; a failed restore only closes it.
     */
    public void positionLast(dev.cryo.kernel.Fd own, long position) {
        positionedLast.put(own, position);
    }

    /** With the bootstrap area gone: every file of {@link #positionLast} to its position (the task is still stopped). */
    void positionFilesLast() {
        try {
            positionedLast.forEach((own, at) -> dev.cryo.kernel.Sys.call(() -> "lseek(fd " + own.value() + " of pid " + pid
                    + " to " + at + ")", dev.cryo.kernel.SyscallNr.LSEEK, own.value(), at, 0, 0));
        } finally {
            closePositionedLast();
        }
    }

    /** Failure path: cryo's copies closed, unpositioned. */
    public void closePositionedLast() {
        positionedLast.keySet().forEach(dev.cryo.kernel.Fd::close);
        positionedLast.clear();
    }

    public void noteArea(long address, byte[] note) {
        areaNotes.put(address, note.clone());
    }

    /** The note {@link #noteArea} kept for the area at {@code address}; null if none. */
    public byte[] areaNote(long address) {
        byte[] note = areaNotes.get(address);
        return note == null ? null : note.clone();
    }

    /** Pids forked by this task so far: a failure kills them too. */
    public List<Integer> forked() {
        return forked;
    }

    /**
     * A syscall injected into the main thread; failures throw with the call named. It runs last in
     * the batch of the calls queued before it ({@link #later}): one ptrace round trip for them all,
     * where the queue's batch and then the call's entry and exit stops took three. Calls that cannot
     * end a batch ({@link #ridesBatch}) run on their own, after the queue.
     */
    public long call(String name, int nr, long... args) {
        try {
            if (!ridesBatch(nr, args)) {
                return main().call(name, nr, args);
            }
            boolean known = fdTable != null && tracer.roundTrips() == fdTableTrips;
            merged = deferred.size();
            mergedArgs = args;
            deferred.add(new SyscallBatch.Call(nr, args));
            deferredNames.add(name);
            flush();
            long r = mergedResult;
            if (known && fdTable != null) {
                if (!FdTableEffect.apply(fdTable, nr, args, r)) {
                    fdTable = null;
                }
            }
            return r;
        } finally {
            merged = -1;
            highUsed = false; // the call that read what a put left there has run
        }
    }

    /** The queue index of the call {@link #call} runs with the queue (-1: none), its arguments and result. */
    private int merged = -1;
    private long[] mergedArgs;
    private long mergedResult;
    /** A {@link #put} since the last call reached the batch's area: the next call runs on its own. */
    private boolean highUsed;

    /**
     * Calls that never end a batch: they fork, exec, end or wait; change the memory the batch runs
     * from, or the signal mask and handlers it ends with; install a filter that could refuse its
     * final tgkill; or queue a signal (which could be the batch's own).
     */
    private static final java.util.Set<Integer> ALONE = java.util.Set.of(dev.cryo.kernel.SyscallNr.CLONE,
            dev.cryo.kernel.SyscallNr.CLONE3, dev.cryo.kernel.SyscallNr.EXECVE, dev.cryo.kernel.SyscallNr.EXECVEAT,
            dev.cryo.kernel.SyscallNr.EXIT, dev.cryo.kernel.SyscallNr.EXIT_GROUP, dev.cryo.kernel.SyscallNr.WAIT4,
            dev.cryo.kernel.SyscallNr.WAITID, dev.cryo.kernel.SyscallNr.PAUSE, dev.cryo.kernel.SyscallNr.NANOSLEEP,
            dev.cryo.kernel.SyscallNr.CLOCK_NANOSLEEP, dev.cryo.kernel.SyscallNr.RT_SIGTIMEDWAIT,
            dev.cryo.kernel.SyscallNr.RESTART_SYSCALL, dev.cryo.kernel.SyscallNr.MMAP, dev.cryo.kernel.SyscallNr.MUNMAP,
            dev.cryo.kernel.SyscallNr.MREMAP, dev.cryo.kernel.SyscallNr.MPROTECT, dev.cryo.kernel.SyscallNr.PKEY_MPROTECT,
            dev.cryo.kernel.SyscallNr.REMAP_FILE_PAGES, dev.cryo.kernel.SyscallNr.SHMAT, dev.cryo.kernel.SyscallNr.SHMDT,
            dev.cryo.kernel.SyscallNr.MSEAL, dev.cryo.kernel.SyscallNr.RT_SIGPROCMASK,
            dev.cryo.kernel.SyscallNr.RT_SIGACTION, dev.cryo.kernel.SyscallNr.SECCOMP, dev.cryo.kernel.SyscallNr.KILL,
            dev.cryo.kernel.SyscallNr.TGKILL, dev.cryo.kernel.SyscallNr.RT_SIGQUEUEINFO,
            dev.cryo.kernel.SyscallNr.RT_TGSIGQUEUEINFO, dev.cryo.kernel.SyscallNr.PIDFD_SEND_SIGNAL,
            dev.cryo.kernel.SyscallNr.ARCH_PRCTL, dev.cryo.kernel.SyscallNr.RSEQ);

    /** Whether a {@link #call} may run as the last call of a batch. */
    private boolean ridesBatch(int nr, long[] args) {
        if (ALONE.contains(nr) || highUsed || main == null
                || nr == dev.cryo.kernel.SyscallNr.PRCTL && args.length > 0 && args[0] == dev.cryo.kernel.Prctl.PR_SET_SECCOMP) {
            return false;
        }
        long from = boot.data() + BATCH_AT, to = boot.data() + BootstrapArea.DATA_SIZE;
        for (long a : args) {
            if (a >= from && a < to) {
                return false; // a struct where the batch's table goes, or one of areaAtEnd
            }
        }
        return true;
    }

    private final List<SyscallBatch.Call> deferred = new ArrayList<>();
    private final List<String> deferredNames = new ArrayList<>();

    /**
     * A call into the main thread whose result matters only as success or failure, and whose
     * arguments point at no memory (munmap, mmap over a fixed area, mprotect, madvise, close...):
     * queued, and run with the others queued in one syscall batch (one ptrace round trip) at the
     * next {@link #flush} — which anything else that touches the task (a call, the tracer, the
     * injectors) does first, so the calls still run in order. A failure throws at the flush, with
     * the call named.
     */
    public void later(String name, int nr, long... args) {
        deferred.add(new SyscallBatch.Call(nr, args));
        deferredNames.add(name);
        if (!FdTableEffect.NEUTRAL.contains(nr)) { // queued, they leave the table as the kernel has it
            queuedFdChange = true;
        }
        if (fdTable != null) { // what the queued call does to the table
            if (nr == dev.cryo.kernel.SyscallNr.CLOSE) {
                fdTable.remove((int) args[0]);
            } else if (nr == dev.cryo.kernel.SyscallNr.DUP3) {
                fdTable.add((int) args[1]);
            } else if (nr == dev.cryo.kernel.SyscallNr.CLOSE_RANGE) {
                fdTable.removeIf(fd -> fd >= args[0] && Integer.toUnsignedLong(fd) <= args[1]);
            }
        }
    }

    /**
     * The task's fd table as the calls queued so far leave it, while it is known: every change to it
     * since it was known was a queued call of {@link #later} or {@link #openQueued}; null otherwise.
     * Valid while the tracer made no round trip but the queue's own ({@link #fdTableTrips}): any
     * other call may have opened or closed an fd.
     */
    private java.util.TreeSet<Integer> fdTable;
    private long fdTableTrips;

    /** The task's fd table as the calls queued so far leave it, while it is known (a copy); null otherwise. */
    public java.util.Set<Integer> fdTableNow() {
        return fdTable != null && tracer.roundTrips() == fdTableTrips ? new java.util.HashSet<>(fdTable) : null;
    }

    /** The table is {@code open} once the calls queued so far have run (a close_range among them). */
    public void fdTableWillBe(java.util.Set<Integer> open) {
        fdTable = new java.util.TreeSet<>(open);
        fdTableTrips = tracer.roundTrips();
    }

    /**
     * openat(AT_FDCWD, path, flags) queued with the calls around it, when the fd it gets is known
     * now: the lowest one free in the table as the queue leaves it (the flush checks that it got
     * it). Opened at once, as {@link #open}, when the table is not known, another task shares it,
     * or the open may need cryo's help (a user namespace's, a path of cryo's fds).
     */
    public long openQueued(String path, int flags) {
        byte[] name = RemoteWriter.cString(path);
        if (cryoFdOf(path) >= 0 || sharesFdTable() || namespaces.userNamespaceOf(pid.value()).isPresent()
                || name.length > BootstrapArea.PAGE) {
            fdTable = null;
            return open(path, flags);
        }
        if (fdTable == null || tracer.roundTrips() != fdTableTrips) {
            // changed in a way the model could not follow (a socket received): read once the queue has run
            if (queuedFdChange) {
                flush();
            }
            fdTableWillBe(new java.util.HashSet<>(dev.cryo.kernel.proc.ProcFs.fds(pid)));
        }
        if (queueDataEnd() + name.length > BootstrapArea.PAGE) {
            flush();
        }
        int fd = lowestFree(fdTable);
        queueOpen(path, name, flags, fd);
        fdTable.add(fd);
        return fd;
    }

    private static int lowestFree(java.util.Set<Integer> open) {
        int fd = 0;
        while (open.contains(fd)) {
            fd++;
        }
        return fd;
    }

    /** Queues openat of {@code path} (its bytes {@code name}, written in the first data page), which must give {@code fd}. */
    private void queueOpen(String path, byte[] name, int flags, int fd) {
        pathsUsed = queueDataEnd();
        long at = boot.data() + pathsUsed;
        Sys.write(pid, at, name);
        pathsUsed += name.length;
        expectedFds.put(deferred.size(), fd);
        later("open(" + path + ")", dev.cryo.kernel.SyscallNr.OPENAT, -100, at, flags, 0);
    }

    /** Drops the queued calls unrun: the task is being killed. */
    public void abandonLater() {
        dropQueue();
        fdTable = null;
    }

    private void dropQueue() {
        deferred.clear();
        deferredNames.clear();
        expectedFds.clear();
        afterQueue.clear();
        pathsUsed = 0;
        putEnd = 0;
        predictedFd = -1;
        queuedFdChange = false;
    }

    /** A call queued since the last flush may have opened or closed an fd (one not in {@link FdTableEffect#NEUTRAL}). */
    private boolean queuedFdChange;
    /** Checks of what the queued calls did, run once they have run ({@link #afterQueue}). */
    private final List<Runnable> afterQueue = new ArrayList<>();

    /** Runs {@code check} (it reads what the calls queued so far did, from outside) once they have run. */
    public void afterQueue(Runnable check) {
        afterQueue.add(check);
    }

    /**
     * Writes {@code data} for queued calls to read, in the bootstrap data area's first page beside the
     * paths of queued opens, without running the queue (a {@link #put} runs it first): it stays there
     * until the queue has run. Runs the queue first only when the page is full: so the calls that
     * read one stash are queued before the next stash, or {@link #stashRoom} is made for them all.
     */
    public long stash(byte[] data) {
        stashRoom(data.length);
        int at = (queueDataEnd() + 7) & ~7;
        Sys.write(pid, boot.data() + at, data);
        pathsUsed = at + data.length;
        return boot.data() + at;
    }

    /** Room for stashes of {@code bytes} in all (8 more each), none of which runs the queue: it runs now if there is none. */
    public void stashRoom(int bytes) {
        if (bytes > BootstrapArea.PAGE) {
            throw new IllegalArgumentException(bytes + " bytes do not fit the bootstrap's first data page");
        }
        if (((queueDataEnd() + 7) & ~7) + bytes > BootstrapArea.PAGE) {
            flush();
        }
    }

    /** The ptrace round trips so far, the queue left queued (a stage's count for the debug log). */
    public long roundTrips() {
        return tracer.roundTrips();
    }

    private boolean sharesFdTable;

    /**
     * Whether this task's fd table is its parent's or a child's too (CLONE_FILES); asked until it
     * is (a child that shares it may be forked later).
     */
    private boolean sharesFdTable() {
        if (!sharesFdTable) {
            boolean shared = task.ids().sharesParentFds();
            if (!shared) {
                try {
                    for (Pid child : dev.cryo.kernel.proc.ProcFs.children(pid)) {
                        if (Sys.shareResource(pid, child, Sys.KCMP_FILES)) {
                            shared = true;
                            break;
                        }
                    }
                } catch (RuntimeException e) {
                    shared = true; // cannot tell: the safe way
                }
            }
            sharesFdTable = shared;
        }
        return sharesFdTable;
    }

    /** Queued opens: index in the queue → the fd it must return. */
    private final java.util.Map<Integer, Integer> expectedFds = new java.util.HashMap<>();
    /** Bytes of the first data page taken by the paths of queued opens and the stashes ({@link #stash}). */
    private int pathsUsed;
    /** The end of the bytes {@link #put} wrote since the queue last ran, for a call still to come. */
    private int putEnd;

    /** Where the queue's next path or stash may go: past the others and past what puts left for a call. */
    private int queueDataEnd() {
        return Math.max(pathsUsed, putEnd);
    }
    private int predictedFd = -1;

    /**
     * Queues open(path), the calls {@code use} queues with its fd, and close(fd): the whole use of a
     * file, in the same batch as the calls around it. The fd is known before the open runs: the
     * lowest free one, since the task opens nothing else meanwhile and each such fd is closed again
     * before the next open; the flush checks that every open returned it.
     */
    /**
     * As {@link #laterWithFile(String, int, java.util.function.LongConsumer)} for dumped file {@code dumped}
     * (null: none to check): when the task's own view no longer names it at its path but cryo's does —
     * a program that pivoted its root and dropped the old one without exec'ing maps its binary and
     * libraries from there — cryo opens it and the task takes that file; so too when the view of an
     * ancestor in another mount namespace names it (a child that pivoted its own namespace's root away:
     * zdtm's mntns_pivot_root; the dump let only that through, MountReach.requireMapped).
     */
    public void laterWithFile(String path, dev.cryo.engine.model.FileRef dumped, int flags,
                              java.util.function.LongConsumer use) {
        String at = dumped == null ? null : seenElsewhere(path, dumped);
        if (at == null) {
            laterWithFile(path, flags, use);
            return;
        }
        try (dev.cryo.kernel.Fd mine = cryosOpen(at, flags)) {
            laterWithFile(CRYO_FDS + mine.value(), flags, use); // taken at once, before mine closes
        }
    }

    /** The task opens dumped file {@code dumped} at {@code path}, or takes cryo's open of it when only cryo sees it there (above). */
    public long open(String path, dev.cryo.engine.model.FileRef dumped, int flags) {
        String at = dumped == null ? null : seenElsewhere(path, dumped);
        if (at == null) {
            return open(path, flags);
        }
        try (dev.cryo.kernel.Fd mine = cryosOpen(at, flags)) {
            return openCryoFd(mine.value(), flags);
        }
    }

    private static dev.cryo.kernel.Fd cryosOpen(String path, int flags) {
        return dev.cryo.kernel.Sys.open(path, flags & ~(dev.cryo.kernel.Fcntl.O_CREAT | dev.cryo.kernel.Fcntl.O_EXCL));
    }

    private Boolean otherMountNamespace;
    /** Per path: where cryo opens it for the task, "" where the task opens it itself. */
    private final java.util.Map<String, String> seenElsewhere = new java.util.HashMap<>();

    /**
     * Where cryo opens {@code path} for the task when the task's own view does not name dumped file {@code f}
     * there: in cryo's view, or through the root of the nearest ancestor in another mount namespace that
     * names it; null: the task opens it. Looked at through /proc/PID/root, once a path: a mapped file's path
     * (as maps shows it) holds no link to mislead that look, and RegularFileHandler.onlyOutside's look from
     * the task's own root takes a thread a path, for every library of every task in a mount namespace of its own.
     */
    private String seenElsewhere(String path, dev.cryo.engine.model.FileRef f) {
        if (!path.startsWith("/") || path.startsWith(CRYO_FDS)) {
            return null;
        }
        if (otherMountNamespace == null) {
            otherMountNamespace = dev.cryo.engine.files.RegularFileHandler.inOtherMountNamespace(pid.value());
        }
        if (!otherMountNamespace) {
            return null;
        }
        String at = seenElsewhere.computeIfAbsent(path, p -> {
            if (dev.cryo.engine.files.RegularFileHandler.same(java.nio.file.Path.of(pid.procDir() + "/root" + p), f)) {
                return "";
            }
            if (dev.cryo.engine.files.RegularFileHandler.same(java.nio.file.Path.of(p), f)) {
                return p;
            }
            String up = ancestorSeeing(p, f);
            return up == null ? "" : up;
        });
        return at.isEmpty() ? null : at;
    }

    /** /proc/A/root + {@code path} of the nearest ancestor A in another mount namespace whose view names {@code f} there. */
    private String ancestorSeeing(String path, dev.cryo.engine.model.FileRef f) {
        String own = dev.cryo.kernel.Namespaces.link(pid.toString(), "mnt");
        long cryo = ProcessHandle.current().pid();
        Pid at = pid;
        try {
            for (int hops = 0; hops < 64; hops++) {
                int up = dev.cryo.kernel.proc.ProcFs.stat(at).ppid();
                if (up <= 1 || up == cryo) {
                    return null; // cryo's own view was looked at already
                }
                at = Pid.of(up);
                String ns = dev.cryo.kernel.Namespaces.link(at.toString(), "mnt");
                String seen = at.procDir() + "/root" + path;
                if (ns != null && !ns.equals(own) && dev.cryo.engine.files.RegularFileHandler.same(java.nio.file.Path.of(seen), f)) {
                    return seen;
                }
            }
        } catch (RuntimeException e) {
            return null; // an ancestor gone meanwhile: the task opens it, and fails naming it
        }
        return null;
    }

    public void laterWithFile(String path, int flags, java.util.function.LongConsumer use) {
        try (dev.cryo.kernel.Fd mine = cryosOpenOfOwnArea(path, flags)) {
            if (mine != null) {
                laterWithFile(CRYO_FDS + mine.value(), flags, use); // taken at once, before mine closes
                return;
            }
        }
        fdTable = null; // its fd is predicted its own way (below)
        int cryoFd = cryoFdOf(path);
        if (cryoFd >= 0) {
            long fd = openCryoFd(cryoFd, flags);
            use.accept(fd);
            later("close", dev.cryo.kernel.SyscallNr.CLOSE, fd);
            predictedFd = -1; // the table changed outside the queue: read it again at the next queued open
            return;
        }
        byte[] name = RemoteWriter.cString(path);
        if (name.length > BootstrapArea.PAGE) {
            throw new IllegalArgumentException("path longer than PATH_MAX: " + path);
        }
        if (queueDataEnd() + name.length > BootstrapArea.PAGE) {
            flush();
        }
        if (predictedFd < 0 && sharesFdTable()) {
            // another task opens and closes in this table meanwhile: no fd can be predicted
            long fd = open(path, flags);
            use.accept(fd);
            later("close", dev.cryo.kernel.SyscallNr.CLOSE, fd);
            return;
        }
        if (predictedFd < 0) {
            if (queuedFdChange) {
                flush(); // the fd table as the kernel has it
            }
            predictedFd = lowestFree(new java.util.HashSet<>(dev.cryo.kernel.proc.ProcFs.fds(pid)));
        }
        queueOpen(path, name, flags, predictedFd);
        use.accept(predictedFd);
        later("close", dev.cryo.kernel.SyscallNr.CLOSE, predictedFd);
    }

    /** Where a flush writes its batch: past the first data page, which holds a path (PATH_MAX) at most. */
    private static final long BATCH_AT = BootstrapArea.PAGE;
    private static final int BATCH_MAX = 128;

    /** Runs the calls {@link #later} queued, in batches; call by call when the thread cannot take a batch. */
    public void flush() {
        boolean known = fdTable != null && tracer.roundTrips() == fdTableTrips; // no other call since
        boolean ran = false;
        List<Runnable> checks = afterQueue.isEmpty() ? List.of() : List.copyOf(afterQueue);
        try {
            runDeferred();
            ran = true;
        } finally {
            dropQueue();
            if (ran && known) {
                fdTableTrips = tracer.roundTrips(); // the queue's own round trips: the table is as modelled
            } else {
                fdTable = null;
            }
        }
        checks.forEach(Runnable::run);
    }

    private void runDeferred() {
        int done = 0; // queue indexes already run, for the expected fds
        while (!deferred.isEmpty()) {
            int n = Math.min(BATCH_MAX, deferred.size());
            List<SyscallBatch.Call> calls = new ArrayList<>(deferred.subList(0, n));
            List<String> names = new ArrayList<>(deferredNames.subList(0, n));
            deferred.subList(0, n).clear();
            deferredNames.subList(0, n).clear();
            Injector inj = adopted();
            int stop = SyscallBatch.stopSignalWhileBuilt(tracer.pendingSignals(pid.value()));
            long[] r;
            if (stop == 0 || BATCH_AT + SyscallBatch.size(n) > BootstrapArea.DATA_SIZE) {
                r = new long[n];
                for (int i = 0; i < n; i++) {
                    r[i] = inj.raw(calls.get(i).nr(), calls.get(i).args());
                    if (Injector.isError(r[i])) {
                        break; // reported below, as a batch's would be
                    }
                }
            } else {
                r = SyscallBatch.runWhileBuilt(tracer, inj, boot.data() + BATCH_AT, calls, stop, boot.pauseLoop());
            }
            for (int i = 0; i < n; i++) {
                if (done + i == merged) { // the call of call(): its own result, its failure as an injection's
                    if (Injector.isError(r[i])) {
                        throw Injector.failure(names.get(i), mergedArgs, pid, r[i]);
                    }
                    mergedResult = r[i];
                    continue;
                }
                if (Injector.isError(r[i])) {
                    var e = new dev.cryo.kernel.SyscallException(names.get(i) + " in pid " + pid, (int) -r[i]);
                    // not the call of call()'s failure, which its caller may catch to take another way
                    throw merged < 0 ? e : new dev.cryo.engine.restore.RestoreException(e.getMessage(), e);
                }
                Integer fd = expectedFds.get(done + i);
                if (fd != null && r[i] != fd) {
                    throw new dev.cryo.engine.restore.RestoreException(names.get(i) + " in pid " + pid + " gave fd "
                            + r[i] + ", not the lowest free one (" + fd + ") the calls after it used");
                }
            }
            done += n;
        }
    }

    /** openat(AT_FDCWD, path, flags) in the task; returns the fd. */
    public long open(String path, int flags) {
        try (dev.cryo.kernel.Fd mine = cryosOpenOfOwnArea(path, flags)) {
            if (mine != null) {
                return openCryoFd(mine.value(), flags);
            }
        }
        int cryoFd = cryoFdOf(path);
        if (cryoFd >= 0) {
            return openCryoFd(cryoFd, flags);
        }
        long at = put(RemoteWriter.cString(path));
        try {
            return call("open(" + path + ")", dev.cryo.kernel.SyscallNr.OPENAT, -100, at, flags, 0);
        } catch (dev.cryo.kernel.SyscallException e) {
            if ((e.errno() != dev.cryo.kernel.Errno.EACCES && e.errno() != dev.cryo.kernel.Errno.EPERM)
                    || namespaces.userNamespaceOf(pid.value()).isEmpty()) {
                throw e;
            }
            // a file it had open from before its user namespace, whose owner is not mapped in
            // there: cryo opens it, in the task's mount namespace, and hands it over
            try (dev.cryo.kernel.Fd mine = dev.cryo.kernel.Sys.open("/proc/" + pid + "/root" + path,
                    flags & ~(dev.cryo.kernel.Fcntl.O_CREAT | dev.cryo.kernel.Fcntl.O_EXCL))) {
                return dev.cryo.engine.namespaces.CryoFdCourier.deliver(this, mine.value());
            }
        }
    }

    private static final String CRYO_FDS = "/proc/" + ProcessHandle.current().pid() + "/fd/";

    /**
     * The fd of cryo's that {@code path} names ({@code /proc/CRYO/fd/N}, how a task opens a file cryo
     * made for it) when the task is inside a pid namespace of the tree's, whose /proc need not show
     * cryo, inside a user namespace of the tree's, which has no ptrace rights over cryo, or in a mount
     * namespace of its own, whose root may have no /proc (after pivot_root); -1 otherwise.
     */
    private int cryoFdOf(String path) {
        if (!path.startsWith(CRYO_FDS) || !takesCryosFiles()) {
            return -1;
        }
        try {
            return Integer.parseInt(path.substring(CRYO_FDS.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Opens cryo's fd {@code n} anew for the task: cryo opens it again through its own /proc (a new
     * open file with the task's flags), and the task takes that (its /proc may not show cryo, or be none).
     */
    /** Whether the task takes the files cryo holds for it from cryo instead of opening /proc/CRYO/... (see {@link #cryoFdOf}). */
    private boolean takesCryosFiles() {
        boolean viaPidfd = namespaces.insidePidNamespace(pid.value()) && namespaces.cryoFd() > 0;
        return viaPidfd || !namespaces.userNamespaceOf(pid.value()).isEmpty()
                || dev.cryo.engine.files.RegularFileHandler.inOtherMountNamespace(pid.value());
    }

    private static final String CRYO_MAP_FILES = "/proc/" + ProcessHandle.current().pid() + "/map_files/";

    /**
     * cryo's open of {@code path} when it names an area of cryo's (a parked shared memory object,
     * SharedMemoryFile#parkedAnonymous) and the task takes cryo's files (above), else null: the task opens it.
     */
    private dev.cryo.kernel.Fd cryosOpenOfOwnArea(String path, int flags) {
        return path.startsWith(CRYO_MAP_FILES) && takesCryosFiles() ? cryosOpen(path, flags) : null;
    }

    private long openCryoFd(int n, int flags) {
        try (dev.cryo.kernel.Fd mine = dev.cryo.kernel.Sys.open(CRYO_FDS + n,
                flags & ~(dev.cryo.kernel.Fcntl.O_CREAT | dev.cryo.kernel.Fcntl.O_EXCL))) {
            return FileRestore.take(this, (int) ProcessHandle.current().pid(), mine.value());
        }
    }

    /** Copies bytes to the start of the bootstrap data area and returns their address in the task. */
    public long put(byte[] data) {
        return put(0, data);
    }

    /** Copies bytes at {@code offset} into the bootstrap data area (for calls that take several buffers). */
    public long put(long offset, byte[] data) {
        if (offset < 0 || offset + data.length > BootstrapArea.DATA_SIZE) {
            throw new IllegalArgumentException(data.length + " bytes at +" + offset
                    + " do not fit the bootstrap data area");
        }
        long end = offset + data.length;
        if (offset < ((pathsUsed + 7) & ~7) || end > BATCH_AT) {
            flush(); // over what queued calls read (paths, stashes, areaAtEnd), or where their batch goes
        }
        Sys.write(pid, boot.data() + offset, data);
        if (end > BATCH_AT) {
            highUsed = true;
        } else {
            putEnd = (int) Math.max(putEnd, end); // the queue's next paths and stashes go after it
        }
        return boot.data() + offset;
    }

    /**
     * The address of {@code length} bytes at the end of the bootstrap data area, for a queued call's
     * struct that holds the fd of a queued open ({@link #laterWithFile}): written there (Sys.write)
     * without running what is queued, they stay until the flush, past the queued paths (the first
     * page) and a full batch's table; the next {@link #put} runs the queue first. -1 when they do
     * not fit there.
     */
    public long areaAtEnd(int length) {
        long offset = BootstrapArea.DATA_SIZE - length;
        return offset < BATCH_AT + SyscallBatch.size(BATCH_MAX) ? -1 : boot.data() + offset;
    }

    /** A NUL-terminated string in the bootstrap data area. */
    public long putString(String s) {
        return put(RemoteWriter.cString(s));
    }
}
