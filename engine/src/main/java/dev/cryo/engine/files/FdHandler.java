package dev.cryo.engine.files;

import dev.cryo.engine.image.RecordCodec;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.FileDesc;

import java.io.IOException;
import java.util.Map;

/**
 * One kind of kernel object behind a file descriptor: its image record {@code D} (declared in
 * the handler class), the record's versioned codec and persisted kind tag, the dump half, the
 * restore half and the {@code cryo show} rendering. {@link FdHandlers} lists them all in one table.
 *
 * <p>Persisted numbers: {@link #tag()} is written before every record of this kind and
 * {@link #codec()}'s id registers the record in the image registry; both are never reused (see
 * the id ranges in {@code ModelCodecs}). The codec's version starts at 1.
 */
public interface FdHandler<D extends FileDesc> {
    /** Human name of the kind, used in messages ("pipe", "regular file"). */
    String kind();

    /** The fd-kind tag that precedes this kind's record in an FdImage. */
    int tag();

    /** The versioned codec of this kind's record; {@code codec().type()} is the record class. */
    RecordCodec<D> codec();

    boolean handles(FdProbe fd) throws IOException;

    D dump(FdProbe fd, DumpContext ctx) throws IOException;

    /**
     * Recreates the object inside the task being restored (by injected syscalls) and returns the
     * fd number it got there; the caller moves it to its dumped number.
     */
    long restore(FdImage fd, D desc, RestoreContext ctx);

    /**
     * The open file cryo holds already for this fd (a socket it rebuilt, an anonymous pipe's end it
     * made), its file status flags set, when the task is to take it as it is; null when {@link #restore}
     * makes the fd in the task. The files pass hands a run of such fds in together: one message and one
     * injected recvmsg for them all. Cryo keeps its fd (do not close it).
     */
    default dev.cryo.kernel.Fd handedIn(FdImage fd, D desc, RestoreContext ctx) {
        return null;
    }

    /**
     * The record's fields for {@code cryo show}, starting with {@code "kind"}; they follow the
     * fd's number, flags and position.
     */
    void show(D desc, Map<String, Object> out);

    /**
     * The name by which a restore may be handed this object in its stead (CRIU's
     * {@code --inherit-fd fd[N]:NAME}): {@code pipe:[INODE]} for a pipe, the path without its leading
     * slash for a file; null for kinds that cannot be inherited.
     */
    default String inheritName(D desc) {
        return null;
    }

    /** Whether restore reopens the fd's file by its path, which must then reach it ({@link MountReach}). */
    default boolean reopensByPath(FdProbe fd) {
        return false;
    }

    /** Objects that refer to other fds of the task (epoll) are restored after all the others. */
    default boolean restoresLast() {
        return false;
    }

    /** What a restore half may do inside the task being restored. */
    interface RestoreContext {
        /** openat(AT_FDCWD, path, flags) in the task. */
        long open(String path, int flags);

        /** The task being restored (0: none, in tests). */
        default int taskPid() {
            return 0;
        }

        /** A syscall injected into the task; failures throw with the call named. */
        long call(String name, int nr, long... args);

        /**
         * As {@link #open}, for a file whose open has no other effect and whose fd nothing reads before
         * the task's next call: the open may be queued with the calls around it (one ptrace round trip for
         * them all), and the fd it will get is returned at once. Here: opened at once.
         */
        default long openQueued(String path, int flags) {
            return open(path, flags);
        }

        /**
         * As {@link #call}, for a call whose result matters only as success or failure and whose arguments
         * point at no memory: it may be queued with the calls around it (a failure throws then). Here: made
         * at once.
         */
        default void later(String name, int nr, long... args) {
            call(name, nr, args);
        }

        /**
         * As {@link #later}, for a call that reads {@code data}, whose address in the task replaces argument
         * {@code at}: the bytes wait beside the queue, so a run of such calls (an epoll's watches) shares its
         * batches, in every pass (the pass's end runs them before another task looks). Here: made at once.
         */
        default void laterReading(String name, int nr, byte[] data, int at, long... args) {
            long[] a = args.clone();
            a[at] = put(data);
            call(name, nr, a);
        }

        /** Copies bytes into scratch memory of the task and returns their address there. */
        long put(byte[] data);

        /** The path through which the task opens its end of a dumped pipe. */
        String pipePath(long pipeId, boolean readEnd);

        /**
         * The fd number in cryo's own process of the pipe end it holds for {@code pipeId}, the
         * first time an end is asked for (the task then takes that very open file with
         * {@link #take}, which keeps the flags pipe() gives); -1 afterwards.
         */
        default int claimPipeEnd(long pipeId, boolean readEnd) {
            return -1;
        }

        /**
         * Runs {@code open}, the task's open of FIFO {@code pipeId} for reading, with a writer of
         * cryo's present for that instant when the reader was {@code hungUp} and with none otherwise
         * (see {@code LocalPipe#openingReader}).
         */
        default long openFifoReader(long pipeId, boolean hungUp, java.util.function.LongSupplier open) {
            return open.getAsLong();
        }

        /** Before the task opens FIFO {@code pipeId} by its path: cryo holds it open, its bytes in. */
        default void fifoReady(long pipeId) {
        }

        /**
         * pidfd_getfd in the task: a new fd for the very open file description fd {@code fd} of
         * process {@code pid} refers to (shared position and flags). The new fd is close-on-exec.
         */
        long take(int pid, int fd);

        /**
         * Runs {@code action} on {@code held} (a file of cryo's) once the whole tree is restored and
         * runs, then closes it; a restore that fails only closes it. Here (no restore around): at once.
         */
        default void whenRestored(dev.cryo.kernel.Fd held, java.util.function.Consumer<dev.cryo.kernel.Fd> action) {
            try (held) {
                action.accept(held);
            }
        }

        /**
         * Opens {@code path} in cryo's own view of the filesystem (not the task's) and has the task
         * take that open file: a file the task holds through a mount of cryo's namespace.
         */
        default long openAsCryo(String path, int flags) {
            try (dev.cryo.kernel.Fd own = dev.cryo.kernel.Sys.open(path, flags)) {
                return take((int) ProcessHandle.current().pid(), own.value());
            }
        }

        /**
         * Opens {@code path} as task {@code pid} of the tree sees it (its mount namespace and root) and has
         * the task take that open file: a file the task holds through a mount of that task's namespace.
         */
        default long openSeenBy(int pid, String path, int flags) {
            try (dev.cryo.kernel.Fd own = dev.cryo.kernel.Namespaces.seenBy(dev.cryo.kernel.Pid.of(pid),
                    () -> dev.cryo.kernel.Sys.open(path, flags))) {
                return take((int) ProcessHandle.current().pid(), own.value());
            }
        }

        /**
         * As {@link #openAsCryo}, the file moved to {@code position} only after cryo's last call in the
         * task: a /proc/PID/maps-like file renders the layout when it is positioned, and until then
         * that shows cryo's bootstrap area. Here (no restore around): at once.
         */
        default long openPositionedLast(String path, int flags, long position) {
            try (dev.cryo.kernel.Fd own = dev.cryo.kernel.Sys.open(path, flags)) {
                dev.cryo.kernel.Sys.call(() -> "lseek(" + path + ")", dev.cryo.kernel.SyscallNr.LSEEK, own.value(), position, 0, 0);
                return take((int) ProcessHandle.current().pid(), own.value());
            }
        }

        /**
         * The pid (in cryo's pid namespace) of a live stand-in for the reaped task whose pidfds share pidfs
         * inode {@code ino}: the same one for every pidfd of it any task of the tree opens, ending with
         * {@code status} once they are all opened ({@link DeadTaskHub}).
         */
        default int deadTaskStandIn(long ino, int status) {
            throw new IllegalStateException("no stand-in for a reaped task here");
        }

        /**
         * A live stand-in at {@code pid}, a process that had exited by the dump, until every fd of the
         * task is in place: a /proc/PID file is opened on it and names a dead process again once it
         * ends. {@code what} names the file in errors; {@code as} (may be null: root) gives it the creds
         * of the process the file was of, whose owner the file takes.
         */
        default void deadPidStandIn(int pid, String what, OutsideProcess as) {
            throw new IllegalStateException("no stand-in for a dead pid here");
        }

        /**
         * Puts socket {@code ino}, rebuilt by cryo before this stage, into the task; returns its fd
         * number there. {@code fdFlags}: the dumped fd's flags (O_NONBLOCK, O_CLOEXEC).
         */
        long plantSocket(long ino, int fdFlags);

        /**
         * Socket {@code ino}, rebuilt by cryo before this stage, for the task to take as it is
         * ({@link FdHandler#handedIn}): its O_NONBLOCK set from {@code fdFlags}. Null here (tests).
         */
        default dev.cryo.kernel.Fd socketHandedIn(long ino, int fdFlags) {
            return null;
        }

        /**
         * The pid the task gives a syscall for task {@code pid} as cryo sees it: its pid in the task's pid
         * namespace; 0 when the task cannot see it.
         */
        default int seenByTask(int pid) {
            return pid;
        }

        /** Whether {@code id} is a task's pid or a thread's id of the restored tree (threads are made after FILES). */
        default boolean ofTheTree(int id) {
            return true;
        }

        /** The threads of the task being restored other than its main one (made after FILES). */
        default java.util.List<Integer> ownThreads() {
            return java.util.List.of();
        }

        /** Whether {@code tid} is one of {@link #ownThreads}. */
        default boolean ownThread(int tid) {
            return ownThreads().contains(tid);
        }

        /** Whether this restore makes shared memory object {@code ino} (a memfd, shared anonymous memory). */
        default boolean hasSharedMemory(long ino) {
            return false;
        }

        /** The path through which the task opens the restored shared memory object (memfd) of this inode. */
        String sharedMemoryPath(long ino);

        /**
         * cryo's own fd of the memfd restored for {@code ino} the first time it is asked for (the
         * task then takes that very file with {@link #take}); -1 afterwards or when there is none.
         */
        default int claimMemfd(long ino) {
            return -1;
        }

        /** The path of a recreated deleted file until the restore unlinks it. */
        String ghostPath(dev.cryo.engine.model.FileRef file);

        /**
         * Where the task opens deleted file {@code file} through the mount it held it by: its path there, in the
         * mount namespace of task {@code mountOf} (0: cryo's), when that is not where the file is made again.
         */
        default String ghostPath(dev.cryo.engine.model.FileRef file, int mountOf) {
            return ghostPath(file);
        }

        /** Where a removed directory (dumped path "DIR (deleted)") stands again until the restore removes it. */
        default String deletedDirectory(String path) {
            throw new IllegalStateException("no removed directory " + path + " is made again here");
        }

        /**
         * cryo's own fd of the master it reopened for dumped pty {@code index} of devpts
         * {@code instance} (0: the host's; the task takes that very open file with {@link #take}).
         */
        default int ptyMaster(long instance, int index) {
            throw new IllegalStateException("pty " + index + " was not reopened");
        }

        /**
         * A new open file of the slave of dumped pty {@code index} of devpts {@code instance} with
         * exactly {@code flags}, made in cryo's process (the task takes it with {@link #take}); cryo
         * closes its copy later.
         */
        default int ptySlave(long instance, int index, int flags) {
            throw new IllegalStateException("pty " + index + " was not reopened");
        }

        /**
         * A new open file with {@code flags} of the slave standing for hung-up pty {@code index} of devpts {@code instance}
         * (made in cryo's process, the task takes it with {@link #take}); cryo closes that pair's
         * master after FILES, which hangs the slave up again.
         */
        default int hungUpPtySlave(long instance, int index, int flags) {
            throw new IllegalStateException("hung-up pty " + index + " was not made");
        }
    }

    /** State shared by all tasks of one dump: pipe data and shared memory are carried once. */
    interface DumpContext {
        /** True the first time a pipe id is seen in this dump. */
        boolean claimPipeData(long pipeId);

        /**
         * Claims detached mount {@code mountId} for the open file {@code where} names: null the first time, else
         * what the first claim named (a restore makes a tmpfs per open file, DetachedMountFileHandler). Here: null.
         */
        default String claimDetachedMount(long mountId, String where) {
            return null;
        }

        /** The pages of shared memory objects already carried by tasks of this dump. */
        dev.cryo.engine.dump.SharedMemoryClaims sharedMemory();

        /** The deleted files of this dump, carried once each (up to the ghost limit). */
        dev.cryo.engine.dump.GhostFiles ghostFiles();

        /** Whether the controlling terminal may be dumped (CRIU's --shell-job). */
        boolean shellJob();

        /**
         * For objects restore recreates per process (eventfd, timerfd, epoll): fails if another
         * task of the tree holds the very same open file, which restore could not share again.
         * (Shared open files are now carried by {@link #sharedOwner}; kept for implementations.)
         */
        void requireUnshared(FdProbe fd, String kind);

        /** The tables the tree's processes share: a task sharing its parent's fd table dumps no fds. */
        default dev.cryo.engine.dump.SharedTables tables() {
            return dev.cryo.engine.dump.SharedTables.NONE;
        }

        /**
         * The bytes of unread events inotify or fanotify group {@code fd} held when the tree was frozen,
         * before cryo read any file of it; null when not measured then ({@link NotificationQueues}).
         */
        default Integer queuedAtFreeze(FdProbe.Ref fd) {
            return null;
        }

        /** Whether a pid (or the tid of a thread) belongs to a task of the dumped tree, zombies included. */
        default boolean inTree(int pid) {
            return false;
        }

        /** The pids of the dumped tree, zombies included (none: a task dumped alone). */
        default java.util.Collection<Integer> treePids() {
            return java.util.List.of();
        }

        /**
         * The fd of the tree that owns the open file description {@code fd} shares (see
         * {@link OpenFiles}), or null when {@code fd} owns it or shares it with nobody. A shared
         * fd is dumped as a {@link SharedFdHandler.SharedFd} and never reaches its kind's handler.
         */
        default FdProbe.Ref sharedOwner(FdProbe fd) {
            return null;
        }

        /**
         * The fd of the tree whose open file description fd {@code probe} (an fd cryo holds: a file
         * passed in a socket queue) refers to, or null when no task holds it.
         */
        default FdProbe.Ref treeOwner(FdProbe probe) {
            return null;
        }

        /** What the socket handlers of this dump share (sock_diag view, flags, repaired connections). */
        SocketDumpState sockets();

        /** The processes Landlock probes of this dump compare tasks with (null: cryo alone, as a lone collect has). */
        default dev.cryo.engine.dump.LandlockWitnesses landlockWitnesses() {
            return null;
        }

        /**
         * The ids of the mounts of cryo's own mount namespace. An implementation for a whole dump reads
         * them once: a container's every regular fd asks ({@link RegularFileHandler#onHostMount}).
         */
        default java.util.Set<Integer> cryosMountIds() throws IOException {
            return WatchTargets.mountIds();
        }

        /**
         * The mount ids of cryo's and the tree's mount namespaces. An implementation for a whole dump reads each
         * once: every fd a container holds, and every deleted file, asks which namespace has its mount.
         */
        default dev.cryo.engine.dump.MountTables mountTables() {
            return new dev.cryo.engine.dump.MountTables(treePids());
        }

        /** The bytes taken out of the tree's pty pairs, given back if the tree runs on. */
        TakenTtyBytes ttyBytes();

        /** The host's pty ends, scanned once per dump (by default: at each call, for contexts of one task). */
        default PtyEnds ptyEnds() {
            return new PtyEnds();
        }
    }
}
