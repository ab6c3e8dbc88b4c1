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
        java.util.Map<String, String> status;
        try {
            st = ProcFs.stat(pid);
            status = statusFields(pid);
        } catch (KernelException e) {
            throw new DumpException("pid " + pid + ": the zombie was reaped while its parent was being stopped");
        }
        if (st.state() != 'Z') {
            throw new DumpException("pid " + pid + " (" + st.comm() + ") was seized as a zombie but is now in state "
                    + st.state() + ": its pid was reused while the tree was being seized");
        }
        ZombieImage z = new ZombieImage(new TaskIds(pid.value(), st.ppid(), st.pgrp(), st.session()), st.comm(),
                Integer.parseInt(field(pid, status, "Uid").split("\\s+")[0]), st.exitSignal(), st.exitCode(),
                hex(pid, status, "SigBlk"), hex(pid, status, "SigIgn"), hex(pid, status, "SigCgt"),
                (st.flags() & ProcStat.PF_FORKNOEXEC) == 0, creds(pid, status), "1".equals(status.get("NoNewPrivs")),
                TaskCollector.rlimits(pid), Integer.parseInt(status.getOrDefault("Seccomp", "0")),
                Integer.parseInt(status.getOrDefault("Seccomp_filters", "0")), (int) st.nice(), (int) st.policy(),
                (int) st.rtPriority());
        if (!z.exited() && z.dumpedCore()) {
            throw new DumpException("pid " + pid + " (" + st.comm() + ") is a zombie killed by "
                    + Signals.name(z.termSignal()) + " that dumped core: cryo cannot re-create a core-dump exit status"
                    + " (let its parent pid " + st.ppid() + " reap it first)");
        }
        if (z.seccompMode() == dev.cryo.kernel.Seccomp.MODE_STRICT && !z.exited()) {
            // strict mode lets only exit end it: a killing signal cannot be delivered after it
            throw new DumpException("pid " + pid + " (" + st.comm() + ") is a zombie killed by "
                    + Signals.name(z.termSignal()) + " in seccomp strict mode: cryo cannot re-create that death"
                    + " (let its parent pid " + st.ppid() + " reap it first)");
        }
        return z;
    }

    /** Its ids, groups and capability sets, which its status still shows. */
    private static dev.cryo.engine.model.Creds creds(Pid pid, java.util.Map<String, String> status) {
        return new dev.cryo.engine.model.Creds(ints(field(pid, status, "Uid")), ints(field(pid, status, "Gid")),
                ints(status.getOrDefault("Groups", "")), hex(pid, status, "CapInh"), hex(pid, status, "CapPrm"),
                hex(pid, status, "CapEff"), hex(pid, status, "CapBnd"), hex(pid, status, "CapAmb"));
    }

    private static java.util.List<Integer> ints(String fields) {
        return fields.isBlank() ? java.util.List.of()
                : java.util.Arrays.stream(fields.trim().split("\\s+")).map(Integer::parseUnsignedInt).toList();
    }

    /** A zombie's status lacks most fields (Umask, Vm*): its lines are read as they come. */
    private static java.util.Map<String, String> statusFields(Pid pid) {
        java.util.Map<String, String> out = new java.util.HashMap<>();
        for (String line : ProcFs.text(pid.procDir() + "/status").split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.put(line.substring(0, colon), line.substring(colon + 1).trim());
            }
        }
        return out;
    }

    private static String field(Pid pid, java.util.Map<String, String> status, String key) {
        String v = status.get(key);
        if (v == null) {
            throw new DumpException(pid.procDir() + "/status has no " + key + " line");
        }
        return v;
    }

    private static long hex(Pid pid, java.util.Map<String, String> status, String key) {
        return Long.parseUnsignedLong(field(pid, status, key), 16);
    }
}
