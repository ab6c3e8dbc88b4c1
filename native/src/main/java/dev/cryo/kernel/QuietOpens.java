package dev.cryo.kernel;

import com.sun.jna.Memory;
import com.sun.jna.Native;

import static dev.cryo.kernel.FanotifyAbi.*;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Opens the files of a detached mount (open_tree's clone) without a notification event for anyone's inotify
 * watch, fanotify mark or dnotify on them: a dump that leaves the tree running reads its tmpfs so, and the
 * tree's watches see nothing of it. Every open, read and close, even through a clone of the mount, is an event
 * for a watch on the file or its directory, for an inode or filesystem mark; only an fd the kernel opens with
 * FMODE_NONOTIFY makes none, and fanotify's event fds are such. So a group of cryo's marks the clone for
 * FAN_OPEN_PERM, a thread of cryo's opens the file there, cryo takes the event's fd and denies the open: a denied
 * open makes no event (the open events come once it succeeds), and the event's fd reads the file, or lists the
 * directory, with none.
 */
public final class QuietOpens implements AutoCloseable {
    private static final int POLLIN = 1;
    /** How long an open through the clone waits for its event (a file under another mount has none: opened plainly). */
    private static final long WAIT_MS = 30_000;

    /** openat's directory: the clone, or AT_FDCWD. */
    private final int base;
    private final Fd group;
    /** The thread that opens: only its opens are denied, any other's let through (a mark on a mount in use). */
    private volatile long openerTid;
    /** The last open handed to the thread: one still waiting when a walk fails lets its fd go at {@link #close}. */
    private Future<Long> pending;
    private final ExecutorService opener = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "cryo quiet opens");
        t.setDaemon(true);
        return t;
    });

    private QuietOpens(int base, Fd group) {
        this.base = base;
        this.group = group;
    }

    /**
     * Quiet opens below detached mount {@code clone}; null where the kernel has no fanotify permission events
     * (CONFIG_FANOTIFY_ACCESS_PERMISSIONS) or refuses the mark: the files are then opened plainly, as before.
     */
    public static QuietOpens on(Fd clone) {
        // "." below it: the clone is an O_PATH fd, which a NULL path refuses (EBADF); a clone of a file is opened plainly
        return marked(clone.value(), FAN_MARK_MOUNT, ".");
    }

    /**
     * Directory {@code path} opened read-only with no event (a watch on it would see an open and a close): a mark on
     * its inode for the moment of the open, which lets any other program's open through. Opened plainly where the
     * kernel has no permission events.
     */
    public static Fd directory(String path) {
        QuietOpens q = marked(Fcntl.AT_FDCWD, 0, path);
        if (q == null) {
            return Sys.open(path, Fcntl.O_RDONLY | Fcntl.O_DIRECTORY);
        }
        try (q) {
            return q.open(path, Fcntl.O_DIRECTORY);
        }
    }

    /** A group marking the mount ({@code FAN_MARK_MOUNT}) or inode (0) of {@code path} below {@code base}; null if refused. */
    private static QuietOpens marked(int base, int markType, String path) {
        long g = LibC.syscall(SyscallNr.FANOTIFY_INIT, FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID,
                Fcntl.O_RDONLY | Fcntl.O_LARGEFILE | Fcntl.O_CLOEXEC, 0, 0, 0, 0);
        if (g < 0) {
            return null;
        }
        Fd group = new Fd((int) g);
        Memory p = Sys.cString(path);
        if (LibC.syscall(SyscallNr.FANOTIFY_MARK, group.value(), FAN_MARK_ADD | markType, FAN_OPEN_PERM | FAN_ONDIR,
                base, Sys.address(p), 0) < 0) {
            group.close();
            return null;
        }
        return new QuietOpens(base, group);
    }

    /** The bytes of regular file {@code rel} (relative to the clone's root), {@code size} of them at most. */
    public byte[] read(String rel, long size) {
        try (Fd f = open(rel, 0)) {
            Memory buf = new Memory(Math.max(1, size));
            long at = 0;
            while (at < size) {
                final long off = at;
                long n = Sys.call(() -> "pread(" + rel + ", " + off + ")", SyscallNr.PREAD64, f.value(),
                        Sys.address(buf) + at, size - at, at);
                if (n == 0) {
                    break; // shorter now: the tree is frozen, but another program may write it
                }
                at += n;
            }
            return buf.getByteArray(0, (int) at);
        }
    }

    /** The names in directory {@code rel} ("" for the clone's root), but "." and "..". */
    public List<String> names(String rel) {
        List<String> out = new ArrayList<>();
        try (Fd d = open(rel, Fcntl.O_DIRECTORY)) {
            Memory buf = new Memory(32768);
            long n;
            while ((n = Sys.call(() -> "getdents64(" + rel + ")", SyscallNr.GETDENTS64, d.value(), Sys.address(buf),
                    buf.size(), 0)) > 0) {
                for (long at = 0; at < n; at += buf.getShort(at + 16) & 0xffff) {
                    String name = buf.getString(at + 19, StandardCharsets.UTF_8.name());
                    if (!name.equals(".") && !name.equals("..")) {
                        out.add(name);
                    }
                }
            }
        }
        return out;
    }

    /** {@code rel} opened read-only ({@code flags} added) with no event: the fd of cryo's own event for it, its open denied. */
    private Fd open(String rel, int flags) {
        String path = rel.isEmpty() ? "." : rel;
        Future<Long> open = pending = opener.submit(() -> {
            openerTid = LibC.syscall(SyscallNr.GETTID, 0, 0, 0, 0, 0, 0);
            Memory p = Sys.cString(path);
            long fd = LibC.syscall(SyscallNr.OPENAT, base, Sys.address(p), Fcntl.O_RDONLY | Fcntl.O_CLOEXEC
                    | Fcntl.O_NOFOLLOW | flags, 0, 0, 0);
            return fd >= 0 ? fd : -(long) Native.getLastError();
        });
        Memory pfd = new Memory(8);
        Memory event = new Memory(4096);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MS);
        while (System.nanoTime() < deadline) {
            pfd.setInt(0, group.value());
            pfd.setInt(4, POLLIN);
            if (Sys.call(() -> "poll(fanotify)", SyscallNr.POLL, Sys.address(pfd), 1, 20, 0) > 0) {
                long n = Sys.call(() -> "read(fanotify)", SyscallNr.READ, group.value(), Sys.address(event), event.size(), 0);
                Fd quiet = null;
                for (long at = 0; at + METADATA_MIN <= n; at += event.getInt(at + EVENT_LEN)) {
                    int fd = event.getInt(at + EVENT_FD);
                    if (fd < 0) {
                        continue;
                    }
                    boolean ours = quiet == null && event.getInt(at + EVENT_PID) == openerTid;
                    Memory answer = new Memory(8);
                    answer.setInt(0, fd);
                    answer.setInt(4, ours ? FAN_DENY : FAN_ALLOW);
                    Sys.call(() -> "write(fanotify, response)", SyscallNr.WRITE, group.value(), Sys.address(answer), 8, 0);
                    if (ours) {
                        quiet = new Fd(fd);
                    } else {
                        new Fd(fd).close();
                    }
                }
                if (quiet != null) {
                    long r = result(open, rel);
                    if (r >= 0) {
                        new Fd((int) r).close();
                    }
                    return quiet;
                }
            } else if (open.isDone()) {
                long r = result(open, rel);
                if (r < 0) {
                    throw new SyscallException("openat(" + rel + ")", (int) -r);
                }
                return new Fd((int) r); // not through the marked mount: opened as before
            }
        }
        throw new KernelException("open of " + rel + " through cryo's clone of its mount had no fanotify event in "
                + WAIT_MS / 1000 + " s");
    }

    private static long result(Future<Long> open, String rel) {
        try {
            return open.get(WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelException("interrupted opening " + rel, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new KernelException("open of " + rel + " through cryo's clone of its mount: " + e, e);
        }
    }

    /** Closes the group (an open still waiting is let through, and its fd closed) and ends the thread. */
    @Override
    public void close() {
        group.close();
        opener.shutdown();
        if (pending != null && !pending.isDone()) {
            try {
                long r = pending.get(WAIT_MS, TimeUnit.MILLISECONDS);
                if (r >= 0) {
                    new Fd((int) r).close();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                // nothing opened
            }
        }
    }
}
