package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.ThreadFs;
import dev.cryo.engine.model.ThreadImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.List;

/**
 * The dump half of a thread's own cwd, root and umask ({@link ThreadFs}): a thread that unshared its fs
 * (kcmp KCMP_FS: not its process's) gets its own recorded, whatever their values, since a later chdir in
 * it must not move its process's. Read from the frozen task. Refused by name where a restore could not make
 * it again: two threads sharing an fs that is not their process's (a restore gives each its own), a
 * chrooted process (the thread's paths are cryo's, which its process's root no longer reaches), a cwd or
 * root removed or in an exited process's /proc directory.
 */
final class ThreadFsReader {
    private ThreadFsReader() {}

    /** Sets the fs of each of {@code threads} that holds its own; {@code root}: its process's root directory. */
    static void addOwnFs(Pid pid, List<ThreadImage> threads, String root) {
        if (threads.size() < 2) {
            return; // (an exited leader's fs is gone: kcmp and /proc read its stand-in thread's, the process's)
        }
        List<Pid> own = new ArrayList<>();
        for (int i = 0; i < threads.size(); i++) {
            Pid t = Pid.of(threads.get(i).tid());
            if (t.equals(pid) || Sys.shareResource(pid, t, Sys.KCMP_FS)) {
                continue;
            }
            for (Pid other : own) {
                if (Sys.shareResource(other, t, Sys.KCMP_FS)) {
                    throw refused(pid, t, "shares it with thread " + other + " but not with its process: a restore"
                            + " gives each thread its own");
                }
            }
            own.add(t);
            threads.set(i, threads.get(i).withFs(read(pid, t, root)));
        }
    }

    private static ThreadFs read(Pid pid, Pid t, String processRoot) {
        String dir = pid.procDir() + "/task/" + t, cwd = ProcFs.readlink(dir + "/cwd"), root = ProcFs.readlink(dir + "/root");
        if (!processRoot.equals("/")) {
            throw refused(pid, t, "and its process is chrooted (" + processRoot + "), whose root does not reach the"
                    + " thread's directories as cryo names them (" + cwd + ", " + root + ")");
        }
        dev.cryo.engine.files.MountReach reach = new dev.cryo.engine.files.MountReach(pid);
        for (String[] link : new String[][] {{"cwd", cwd, "current directory"}, {"root", root, "root directory"}}) {
            if (link[1].endsWith(" (deleted)") || dev.cryo.engine.files.RegularFileHandler.deadProcess(pid.value(),
                    link[1]) != null) {
                throw refused(pid, t, "and its " + link[2] + " " + link[1] + " is removed, or an exited process's");
            }
            reach.requireLink(dir + "/" + link[0], link[1], "thread " + t + "'s " + link[2] + " " + link[1]);
        }
        return new ThreadFs(cwd, root, ProcFs.status(pid, t).umask());
    }

    private static DumpException refused(Pid pid, Pid t, String why) {
        return new DumpException("pid " + pid + " thread " + t + " has a current directory, root and umask of its own"
                + " (unshare(CLONE_FS) in that thread) " + why + "; not supported yet");
    }
}
