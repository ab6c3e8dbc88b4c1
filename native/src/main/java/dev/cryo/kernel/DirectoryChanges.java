package dev.cryo.kernel;

import java.nio.file.Path;

/**
 * An inotify instance of cryo's own that tells whether anything changed in the directories it
 * watches since each was watched: a write to one of their files (cgroupfs's files keep their mtime
 * on a write, but vfs_write queues IN_MODIFY before it returns), an owner or mode, an entry made,
 * removed or moved. A directory that could not be watched counts as changed. Files can be watched
 * too (a write, truncation, owner, mode or times changed; through a /proc link, the file it leads to).
 * One instance may have several holders ({@link #share}): it is closed when the last one closes it.
 */
public final class DirectoryChanges implements AutoCloseable {
    /** inotify(7): every change to a directory's entries, their contents and their attributes. */
    private static final int IN_MODIFY = 0x2, IN_ATTRIB = 0x4, IN_MOVED_FROM = 0x40, IN_MOVED_TO = 0x80,
            IN_CREATE = 0x100, IN_DELETE = 0x200, IN_DELETE_SELF = 0x400, IN_MOVE_SELF = 0x800;
    private static final int ANY_CHANGE = IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
            | IN_DELETE_SELF | IN_MOVE_SELF;

    /** The instance, with what all its holders watched. */
    private static final class Instance {
        final Fd fd;
        final java.util.Set<Path> watched = new java.util.HashSet<>();
        volatile boolean unwatched;
        final java.util.concurrent.atomic.AtomicInteger holders = new java.util.concurrent.atomic.AtomicInteger(1);

        Instance(Fd fd) {
            this.fd = fd;
        }
    }

    private final Instance in;

    private DirectoryChanges(Instance in) {
        this.in = in;
    }

    /**
     * Another holder of this instance (one instance per task for all it reads before a freeze: the
     * user's instances are few), which it must close; a change watched by either is seen by both.
     */
    public DirectoryChanges share() {
        in.holders.incrementAndGet();
        return new DirectoryChanges(in);
    }

    /**
     * inotify instances count against a per-user limit (fs.inotify.max_user_instances, 128 by default)
     * that cryo shares with every process of its user, the dumped tree's too when it runs as root: a
     * tree of 140 tasks, one instance each, made its own inotify_init1 fail with EMFILE while it was
     * dumped. cryo keeps at most an eighth of the limit (16 of 128) open at once.
     */
    private static final java.util.concurrent.Semaphore INSTANCES = new java.util.concurrent.Semaphore(
            Math.max(1, userInstanceLimit() / 8));

    /** A new instance, or null when cryo already holds its share of the user's instances. */
    public static DirectoryChanges tryOpen() {
        if (!INSTANCES.tryAcquire()) {
            return null;
        }
        try {
            return new DirectoryChanges(new Instance(new Fd((int) Sys.call(() -> "inotify_init1(IN_NONBLOCK | IN_CLOEXEC)",
                    SyscallNr.INOTIFY_INIT1, Fcntl.O_NONBLOCK | Fcntl.O_CLOEXEC, 0, 0, 0))));
        } catch (RuntimeException e) {
            INSTANCES.release();
            throw e;
        }
    }

    private static int userInstanceLimit() {
        try {
            // not Files.readString: the JDK trusts a /proc/sys file's size (0) and gives its first byte only
            return Integer.parseInt(dev.cryo.kernel.proc.ProcFs.text("/proc/sys/fs/inotify/max_user_instances").trim());
        } catch (RuntimeException e) {
            return 128; // the kernel's default
        }
    }

    /** Watches {@code dir} from now on (once: a directory seen again keeps its first watch). */
    public void watch(Path dir) {
        synchronized (in) { // holders read on threads of their own
            if (!in.watched.add(dir)) {
                return;
            }
        }
        long r = LibC.syscall(SyscallNr.INOTIFY_ADD_WATCH, in.fd.value(), Sys.address(Sys.cString(dir.toString())), ANY_CHANGE,
                0, 0, 0);
        if (r == -1) {
            in.unwatched = true; // removed meanwhile, or out of watches: a change as far as the caller knows
        }
    }

    /** Whether anything changed in a watched directory since it was watched (or one could not be). */
    public boolean changed() {
        return in.unwatched || Sys.pendingBytes(in.fd) > 0;
    }

    /**
     * Closes the instance on a thread of its own: closing one that holds watches waits for the
     * kernel's reaper of its marks (an SRCU grace period: 2-16 ms measured here at load 12, in a
     * freeze when it was closed there), which nobody needs to wait for.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && in.holders.decrementAndGet() == 0) {
            CLOSER.execute(() -> {
                try {
                    in.fd.close();
                } finally {
                    INSTANCES.release();
                }
            });
        }
    }

    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private static final java.util.concurrent.Executor CLOSER = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cryo-inotify-close");
        t.setDaemon(true);
        return t;
    });
}
