package dev.cryo.engine.dump;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.stream.Collectors;

/** Why a task of the tree has not stopped for the seize, as far as /proc can tell, for the timeout's message. */
public final class SeizeDelay {
    private SeizeDelay() {}

    /** One clause per pid, e.g. "pid 12 waits for its vfork child to exec or exit". */
    public static String explain(Collection<Pid> pids) {
        return pids.stream().map(SeizeDelay::explain).collect(Collectors.joining("; "));
    }

    static String explain(Pid pid) {
        char state;
        try {
            state = ProcFs.stat(pid).state();
        } catch (KernelException e) {
            return "pid " + pid + " is gone";
        }
        if (state != 'D') {
            return "pid " + pid + " (state " + state + ")";
        }
        String wchan = wchan(pid);
        if (wchan.equals("kernel_clone")) { // a vfork parent sleeps in kernel_clone until its child lets the memory go
            return "pid " + pid + " waits for its vfork child to exec or exit (the child shares its memory;"
                    + " dump again once it has)";
        }
        return "pid " + pid + " is in uninterruptible sleep" + (wchan.isEmpty() ? "" : " in " + wchan)
                + " (a stopped NFS server, a hung device or a frozen cgroup keeps it there)";
    }

    private static String wchan(Pid pid) {
        try {
            String w = Files.readString(Path.of(pid.procDir(), "wchan")).trim();
            return w.equals("0") ? "" : w;
        } catch (IOException e) {
            return "";
        }
    }
}
