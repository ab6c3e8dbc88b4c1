package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.TaskIds;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;

import java.util.Set;

/**
 * Sessions and process groups, for live tasks and zombies alike, in two barrier stages: first
 * every leader makes its session or group, then every member joins its group (a group led by a
 * zombie exists as long as the zombie is not reaped). A session or group led from outside the
 * tree (a shell job's) cannot be joined: the task stays in cryo's, as with criu --shell-job.
 */
public final class SessionAndGroup {
    private SessionAndGroup() {}

    /** SESSIONS: setsid for a session leader, setpgid(0, 0) for a group leader. */
    public static void lead(Injector inj, TaskIds ids) {
        Pid pid = Pid.of(ids.pid());
        if (ids.sid() == ids.pid() && ProcFs.stat(pid).session() != ids.pid()) {
            inj.call("setsid", SyscallNr.SETSID);
        }
        if (ids.pgid() == ids.pid() && ProcFs.stat(pid).pgrp() != ids.pid()) {
            inj.call("setpgid", SyscallNr.SETPGID, 0, 0);
        }
    }

    /** GROUPS: a member joins its group when the group's leader is part of the tree. */
    public static void join(Injector inj, TaskIds ids, Set<Integer> treePids) {
        join(inj, ids, treePids, pid -> pid);
    }

    /** As above; {@code seen}: a pid as the task sees it (inside a pid namespace, its pid there; 0 outside). */
    public static void join(Injector inj, TaskIds ids, Set<Integer> treePids, java.util.function.IntUnaryOperator seen) {
        if (ids.pgid() != ids.pid() && treePids.contains(ids.pgid())
                && ProcFs.stat(Pid.of(ids.pid())).pgrp() != ids.pgid() && seen.applyAsInt(ids.pgid()) != 0) {
            inj.call("setpgid", SyscallNr.SETPGID, 0, seen.applyAsInt(ids.pgid()));
        }
    }
}
