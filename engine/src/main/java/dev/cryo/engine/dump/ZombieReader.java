package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.TaskIds;
import dev.cryo.engine.model.ZombieImage;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.ProcStat;

/**
 * Reads a zombie of the tree once its parent is stopped (so nobody can reap it any more): what
 * the parent's wait() will report, from /proc/PID/stat (exit_code is the whole wait status).
 */
public final class ZombieReader {
    private ZombieReader() {}

    public static ZombieImage read(Pid pid) {
        ProcStat st;
        int uid;
        try {
            st = ProcFs.stat(pid);
            uid = realUid(pid);
        } catch (KernelException e) {
            throw new DumpException("pid " + pid + ": the zombie was reaped while its parent was being stopped");
        }
        if (st.state() != 'Z') {
            throw new DumpException("pid " + pid + " (" + st.comm() + ") was seized as a zombie but is now in state "
                    + st.state() + ": its pid was reused while the tree was being seized");
        }
        ZombieImage z = new ZombieImage(new TaskIds(pid.value(), st.ppid(), st.pgrp(), st.session()), st.comm(), uid,
                st.exitSignal(), st.exitCode());
        if (!z.exited() && z.dumpedCore()) {
            throw new DumpException("pid " + pid + " (" + st.comm() + ") is a zombie killed by "
                    + Signals.name(z.termSignal()) + " that dumped core: cryo cannot re-create a core-dump exit status"
                    + " (let its parent pid " + st.ppid() + " reap it first)");
        }
        return z;
    }

    /** A zombie's status lacks most fields (Umask, Vm*), so only its Uid line is read. */
    private static int realUid(Pid pid) {
        String path = pid.procDir() + "/status";
        for (String line : ProcFs.text(path).split("\n")) {
            if (line.startsWith("Uid:")) {
                return Integer.parseInt(line.substring(4).trim().split("\\s+")[0]);
            }
        }
        throw new DumpException(path + " has no Uid line");
    }
}
