package dev.cryo.engine.restore;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.files.FileIdentity.Use;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.files.RegularFileHandler;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

import static dev.cryo.kernel.Fcntl.O_APPEND;

/**
 * Checks, before anything is created, that the image can be restored here: every file it refers
 * to is there and still fit for the way the task used it, and every pid is free. A pid still held
 * by a zombie its reaper has not collected yet is waited for briefly.
 *
 * <p>Files (same host): the executable and mapped files must be unchanged (device, inode, size,
 * mtime: the pages not in the image come from them); an open regular file must be the same file,
 * unchanged, unless it is open with O_APPEND, when it may have grown; a directory — open, or a cwd
 * or root — only has to exist and be a directory, since directories change all the time on a live
 * host (see {@link FileIdentity.Use}).
 */
public final class RestoreValidator {
    private RestoreValidator() {}

    public static void validate(ImageContents image, Duration pidWait, Consumer<String> notice) {
        // pids first: a busy pid is the likelier, and more useful, thing to report
        for (int pid : pids(image)) {
            checkPidFree(pid, pidWait, notice);
        }
        validateFiles(image);
    }

    /** Every pid the image needs: its threads' and its zombies'. */
    public static java.util.List<Integer> pids(ImageContents image) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        image.tasks().forEach(t -> t.threads().forEach(th -> out.add(th.tid())));
        image.zombies().forEach(z -> out.add(z.pid()));
        return out;
    }

    /**
     * The image's pids still held by zombies (free once their reaper collects them), without
     * waiting: a caller that must not block polls again later. Fails naming a live holder.
     */
    public static java.util.List<Integer> pidsHeldByZombies(ImageContents image) {
        return pidsHeldByZombies(image, 0);
    }

    /** As above; {@code stubPid} is held by the restore's own stub (a migration's prepared root), or 0. */
    public static java.util.List<Integer> pidsHeldByZombies(ImageContents image, int stubPid) {
        java.util.List<Integer> held = new java.util.ArrayList<>();
        for (int pid : pids(image)) {
            if (pid == stubPid) {
                continue;
            }
            ProcStat st = holder(pid);
            if (st == null) {
                continue;
            }
            if (!isZombie(st)) {
                throw inUse(pid, st);
            }
            held.add(pid);
        }
        return held;
    }

    /** What a caller says when it starts waiting for a pid held by a zombie. */
    public static String waitingNotice(int pid, Duration wait) {
        return waitingNotice(pid, holder(pid), wait);
    }

    /** {@code st}: the zombie as it was seen (read again, it may be reaped already: its name would be lost). */
    private static String waitingNotice(int pid, ProcStat st, Duration wait) {
        return "pid " + pid + " is held by a zombie of '" + (st == null ? "?" : st.comm()) + "'; waiting up to "
                + wait.toSeconds() + " s for it to be reaped";
    }

    /** The failure for a pid still held when the wait is over (null if it is free after all). */
    public static RestoreException stillHeld(int pid) {
        ProcStat st = holder(pid);
        return st == null ? null : inUse(pid, st);
    }

    /**
     * Why the kernel refused a pid (clone3 set_tid said EEXIST): the process that has it, or, when
     * none has, the one that still names it as its session or process group id (the kernel keeps
     * the number while that process lives); scanned only on this failure path.
     */
    public static RestoreException pidTaken(int pid) {
        ProcStat st = holder(pid);
        if (st != null) {
            return inUse(pid, st);
        }
        return dev.cryo.kernel.proc.GroupMembers.outside(java.util.Set.of(pid), java.util.Set.of())
                .map(m -> new RestoreException("pid " + pid + " is in use as the "
                        + dev.cryo.kernel.proc.GroupMembers.role(m, pid) + " id of pid " + m.pid() + " ('" + m.comm()
                        + "'), which is not part of the image: the kernel keeps the number while that process lives"))
                .orElseGet(() -> new RestoreException("pid " + pid + " is in use"));
    }

    /** A pid the kernel keeps only as another process's session or group id: waiting will not free it. */
    public static boolean heldAsGroupId(int pid) {
        return holder(pid) == null
                && dev.cryo.kernel.proc.GroupMembers.outside(java.util.Set.of(pid), java.util.Set.of()).isPresent();
    }

    static ProcStat holder(int pid) {
        try {
            return ProcFs.stat(Pid.of(pid));
        } catch (KernelException e) {
            return null; // free
        }
    }

    static boolean isZombie(ProcStat st) {
        return st.state() == 'Z' || st.state() == 'X';
    }

    private static RestoreException inUse(int pid, ProcStat st) {
        return new RestoreException("pid " + pid + " is in use by '" + st.comm() + "'"
                + (isZombie(st) ? " (a zombie its parent has not reaped)" : ""));
    }

    /** Every file the image refers to is there and fit for its use. */
    public static void validateFiles(ImageContents image) {
        validateFiles(image, InheritedFds.NONE);
    }

    /**
     * As above; a file the user hands over in its stead ({@code --inherit-fd}) is not looked for.
     * Returns the files open for appending that grew since the dump, e.g. "pid 4242 fd 7:
     * /var/lib/redis/appendonly.aof grew by 96 bytes".
     */
    public static List<String> validateFiles(ImageContents image, InheritedFds inherited) {
        List<String> grown = new java.util.ArrayList<>();
        var paths = new dev.cryo.engine.namespaces.MountPaths(image.tasks(), image.namespaceImages());
        java.util.Set<Integer> treePids = new java.util.HashSet<>();
        image.tasks().forEach(t -> treePids.add(t.pid()));
        for (TaskImage t : image.tasks()) {
            int pid = t.pid();
            if (!SharedMemoryHub.isDeletedDirectory(t.cwd()) // else made again for the restore
                    && !procDirectory("pid " + pid + " cwd", t.cwd(), paths.hostPath(pid, t.cwd()), treePids)) {
                checkDirectory("pid " + pid + " cwd", paths.hostPath(pid, t.cwd()));
            }
            if (!procDirectory("pid " + pid + " root", t.root(), paths.hostPath(pid, t.root()), treePids)) {
                checkDirectory("pid " + pid + " root", paths.hostPath(pid, t.root()));
            }
            checkFile("pid " + pid + " executable", seen(paths, pid, t.exe()), Use.MAPPED);
            for (VmaImage v : t.vmas()) {
                v.kind().validate(pid, v);
                if (v.file() != null && v.kind().checksFile()) {
                    checkFile("pid " + pid + " mapping at 0x" + Long.toHexString(v.start()), seen(paths, pid, v.file()),
                            Use.MAPPED);
                }
            }
            for (FdImage fd : dev.cryo.engine.files.InFlightFiles.of(t)) {
                if (fd.desc() instanceof dev.cryo.engine.files.MessageQueueHandler.MessageQueue q) {
                    dev.cryo.engine.files.MessageQueueHandler.check("pid " + pid + " fd " + fd.fd(), q);
                }
                if (fd.desc() instanceof RegularFileHandler.RegularFile f && inherited.of(f) == null) {
                    if (f.outside() != null) { // a pid taken since by another process would give that one's file
                        f.outside().checkSameProcess("pid " + pid + " fd " + fd.fd(), f.file().path());
                    }
                    // files of /proc and /sys are reopened by path as they are: their identity is the kernel's
                    if (!RegularFileHandler.isPseudoFile(f.file().path()) && !RegularFileHandler.isRemovedDirectory(f)) {
                        String what = "pid " + pid + " fd " + fd.fd();
                        // a file of another namespace's mount is looked for as a task of that one sees it
                        FileRef ref = seen(paths, f.mountOf() != 0 ? f.mountOf() : pid, f.file());
                        boolean appending = (fd.flags() & O_APPEND) != 0;
                        checkFile(what, ref, appending ? Use.APPENDING : Use.OPEN);
                        long more = appending && ref != null ? grownBy(ref) : 0;
                        if (more > 0) {
                            grown.add(what + ": " + ref.path() + " grew by " + more + " bytes");
                        }
                    }
                }
            }
        }
        return grown;
    }

    /** How much longer the file is now than at the dump (it was checked to be there). */
    private static long grownBy(FileRef ref) {
        try {
            return java.nio.file.Files.size(Path.of(ref.path())) - ref.size();
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * The file as cryo finds it: a task in a mount namespace of its own named it by its path there
     * (below a bind mount, the source's path here); null when the restore makes it (a tmpfs's).
     */
    private static FileRef seen(dev.cryo.engine.namespaces.MountPaths paths, int pid, FileRef ref) {
        if (ref == null || ref.path() == null) {
            return ref;
        }
        String p = paths.hostPath(pid, ref.path());
        if (!ref.path().equals(p) && ref.path().startsWith("/") && (p == null || !RegularFileHandler.same(Path.of(p), ref))
                && RegularFileHandler.same(Path.of(ref.path()), ref)) {
            return ref; // opened on a host mount before the namespace was made (its stdio): cryo opens it at its path
        }
        return p == null ? null : p.equals(ref.path()) ? ref : ref.withPath(p);
    }

    /**
     * Whether a cwd or root is in a /proc/PID directory, which a restore makes: a task of the tree's
     * is there once the tree is forked (a shell's `cd /proc/self/fdinfo`); an exited process's is
     * entered through a stand-in at its pid ({@link dev.cryo.engine.restore.stage.ProcessState}),
     * which must be free (seen from cryo's namespaces, {@code seen} is {@code path}).
     */
    private static boolean procDirectory(String what, String path, String seen, java.util.Set<Integer> treePids) {
        int n = RegularFileHandler.procDirectoryPid(path);
        if (n < 0) {
            return false;
        }
        if (path.equals(seen) && !treePids.contains(n) && Files.exists(Path.of("/proc/" + n))) {
            ProcStat st = holder(n);
            throw new RestoreException(what + ": " + path + " is the /proc directory of pid " + n + ", which had exited by"
                    + " the dump; a stand-in cannot take that pid again: it is in use by another process now"
                    + (st == null ? "" : " ('" + st.comm() + "')"));
        }
        return true;
    }

    /** A cwd or root only has to exist and be a directory. */
    static void checkDirectory(String what, String path) {
        if (path == null || path.isEmpty()) {
            return;
        }
        Path p = Path.of(path);
        if (!Files.exists(p)) {
            throw new RestoreException(what + ": directory " + path + " is missing");
        }
        if (!Files.isDirectory(p)) {
            throw new RestoreException(what + ": " + path + " is no longer a directory");
        }
    }

    /** The file the image refers to must still be fit for {@code use}; a directory only has to be one. */
    static void checkFile(String what, FileRef ref, Use use) {
        if (ref == null) {
            return;
        }
        if (FileIdentity.isDirectory(ref)) {
            checkDirectory(what, ref.path());
            return;
        }
        FileRef now;
        try {
            now = FileIdentity.of(ref.path(), Path.of(ref.path()));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new RestoreException(what + ": " + ref.path() + " is missing");
        } catch (IOException e) { // not "missing": one that cannot be read (a restore by a user other than root)
            throw new RestoreException(what + ": " + ref.path() + " cannot be read: " + dev.cryo.kernel.FileErrors.reason(e));
        }
        String diff = FileIdentity.difference(ref, now, use);
        if (diff != null) {
            throw new RestoreException(what + ": " + ref.path() + " changed since the dump: " + diff);
        }
    }

    /** Waits (blocking, polling) up to {@code wait} for a pid held by a zombie; for callers that may block. */
    public static void checkPidFree(int pid, Duration wait, Consumer<String> notice) {
        long deadline = System.nanoTime() + wait.toNanos();
        boolean told = false;
        while (true) {
            ProcStat st = holder(pid);
            if (st == null) {
                return;
            }
            if (!isZombie(st) || System.nanoTime() > deadline) {
                throw inUse(pid, st);
            }
            if (!told) {
                notice.accept(waitingNotice(pid, st, wait));
                told = true;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RestoreException("interrupted while waiting for pid " + pid + " to be free");
            }
        }
    }
}
