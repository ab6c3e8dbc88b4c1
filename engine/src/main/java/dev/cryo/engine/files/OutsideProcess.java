package dev.cryo.engine.files;

import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The process outside the tree whose /proc/PID file a task holds, as it was at the dump (netdata's apps.plugin
 * holds the stat of every process on the host): {@code startTime}, its stat field 22 (0: it had exited, or not
 * known), tells it from a later process at that pid; {@code uid} and {@code gid} are the file's owner, which
 * /proc gives from the process (its euid and egid, root's when it is not dumpable): a stand-in cryo makes at that
 * pid runs with them while the file is opened on it, so the file is that user's again, not root's.
 */
public record OutsideProcess(long startTime, int uid, int gid) {
    private static final java.util.regex.Pattern PROC_FILE = java.util.regex.Pattern.compile("^/proc/(\\d+)(/.*)?$");

    /**
     * What the dump keeps of the process fd {@code fd}'s /proc file is of, when that is outside the tree and the
     * holder sees pids and /proc as cryo does, or when it had exited ({@code exited}) whatever the holder sees (a
     * container's task: its stand-in, made in the holder's pid namespace, takes the owner too); else null. A file of
     * one of its threads other than its main one that has exited is refused: a restore would not find it (ENOENT,
     * after the dump killed the tree), and a stand-in cannot take a thread's id.
     */
    static OutsideProcess of(FdProbe fd, FdHandler.DumpContext ctx, boolean exited) throws IOException {
        int pid = pidOf(fd.target());
        boolean ownView = RegularFileHandler.inOtherMountNamespace(fd.pid().value())
                || RegularFileHandler.inOwnPidNamespace(fd.pid());
        // the holder's numbers are its pid namespace's: its live pids are not cryo's (it reopens those by path)
        if (pid <= 0 || (ownView ? !exited : ctx.inTree(pid))) {
            return null;
        }
        String gone = threadGone(fd.target(), ownView ? dev.cryo.kernel.ExitedLeaders.proc(fd.pid().value()) + "/root" : "");
        if (gone != null) {
            throw new dev.cryo.engine.DumpException(fd.where() + ": " + fd.target() + " is a /proc file of thread " + gone
                    + " of pid " + pid + ", outside the tree, which has exited; not supported (a restore could not open"
                    + " it again, and no stand-in can take a thread's id)");
        }
        Map<String, Object> a = Files.readAttributes(fd.procPath(), "unix:uid,gid");
        return new OutsideProcess(exited ? 0 : startTime(pid), (Integer) a.get("uid"), (Integer) a.get("gid"));
    }

    private static final java.util.regex.Pattern THREAD_FILE = java.util.regex.Pattern.compile("^/proc/(\\d+)/task/(\\d+)(/.*)?$");

    /**
     * The id of the thread other than the main one whose /proc/PID/task/TID file {@code path} is, when it is gone
     * from the /proc under {@code root} ("" for cryo's, a holder's /proc/H/root for the one it sees).
     */
    private static String threadGone(String path, String root) {
        java.util.regex.Matcher m = THREAD_FILE.matcher(path);
        return m.matches() && !m.group(1).equals(m.group(2))
                && !Files.exists(Path.of(root + "/proc/" + m.group(1) + "/task/" + m.group(2))) ? m.group(2) : null;
    }

    /** The pid a /proc/PID path names, or 0. */
    static int pidOf(String path) {
        java.util.regex.Matcher m = PROC_FILE.matcher(path);
        return m.matches() ? Integer.parseInt(m.group(1)) : 0;
    }

    /** Stat field 22 of {@code pid}, 0 when it is gone. */
    private static long startTime(int pid) {
        try {
            return ProcFs.stat(Pid.of(pid)).starttime();
        } catch (KernelException e) {
            return 0;
        }
    }

    /**
     * Refuses the restore of fd {@code what} on {@code path} when another process has the pid of the one the file
     * was of: opened by path it would be that process's file, silently (CRIU reopens such a file by path as it
     * is); a stand-in, which then ends, needs the pid free. So too when the file is of a thread of it other than
     * its main one that has exited since the dump (its open failed, ENOENT).
     */
    public void checkSameProcess(String what, String path) {
        int pid = pidOf(path);
        // cryo's /proc: a record of a holder with a pid namespace of its own is of a process that had exited, and
        // the dump refused a file of its threads but the main one
        String gone = threadGone(path, "");
        if (gone != null) {
            throw new RestoreException(what + ": " + path + " is a /proc file of thread " + gone + " of pid " + pid
                    + ", outside the tree, which has exited since the dump; no stand-in can take a thread's id");
        }
        ProcStat now;
        try {
            now = startTime == 0 || !Files.exists(Path.of("/proc/" + pid)) ? null : ProcFs.stat(Pid.of(pid));
        } catch (KernelException exited) {
            return; // exited meanwhile: a stand-in takes the pid
        }
        if (now != null && now.starttime() != startTime) {
            throw new RestoreException(what + ": " + path + " is a /proc file of pid " + pid + ", a process outside the"
                    + " tree that has exited since the dump; that pid is another process's now ('" + now.comm()
                    + "', started at tick " + now.starttime() + ", not " + startTime + "), whose file it would open"
                    + " (a stand-in that ends needs the pid free)");
        }
    }

    static void write(Output out, OutsideProcess p) {
        out.writeBoolean(p != null);
        if (p != null) {
            out.writeVarLong(p.startTime, true);
            out.writeVarInt(p.uid, true);
            out.writeVarInt(p.gid, true);
        }
    }

    static OutsideProcess read(Input in) {
        return in.readBoolean() ? new OutsideProcess(in.readVarLong(true), in.readVarInt(true), in.readVarInt(true)) : null;
    }
}
