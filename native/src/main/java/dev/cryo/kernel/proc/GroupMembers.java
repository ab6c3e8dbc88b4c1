package dev.cryo.kernel.proc;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;

import java.io.File;
import java.util.Collection;
import java.util.Optional;

/**
 * Processes that use a pid as their session or process group id. The kernel keeps a pid number
 * taken while any process still names it as its session or group, even when the process of that
 * pid is gone: a daemon's double-forked grandchild keeps its dead parent's session id alive.
 */
public final class GroupMembers {
    private GroupMembers() {}

    /** One process outside {@code exclude} whose session or process group id is one of {@code ids}. */
    public static Optional<ProcStat> outside(Collection<Integer> ids, Collection<Integer> exclude) {
        String[] names = new File("/proc").list();
        if (names == null) {
            return Optional.empty();
        }
        for (String n : names) {
            if (n.isEmpty() || !Character.isDigit(n.charAt(0))) {
                continue;
            }
            int pid;
            try {
                pid = Integer.parseInt(n);
            } catch (NumberFormatException e) {
                continue;
            }
            if (exclude.contains(pid)) {
                continue;
            }
            ProcStat st;
            try {
                st = ProcFs.stat(Pid.of(pid));
            } catch (KernelException | IllegalArgumentException e) {
                continue; // gone meanwhile
            }
            if (ids.contains(st.session()) || ids.contains(st.pgrp())) {
                return Optional.of(st);
            }
        }
        return Optional.empty();
    }

    /**
     * Whether process group {@code pgid} is orphaned now: no member has its parent in another group
     * of the same session (POSIX). The kernel discards SIGTSTP, SIGTTIN and SIGTTOU sent to a member
     * of such a group instead of stopping it.
     */
    public static boolean orphaned(int pgid) {
        String[] names = new File("/proc").list();
        if (names == null) {
            return false;
        }
        for (String n : names) {
            if (n.isEmpty() || !Character.isDigit(n.charAt(0))) {
                continue;
            }
            try {
                ProcStat member = ProcFs.stat(Pid.of(Integer.parseInt(n)));
                if (member.pgrp() != pgid || member.ppid() <= 0) {
                    continue;
                }
                ProcStat parent = ProcFs.stat(Pid.of(member.ppid()));
                if (parent.pgrp() != pgid && parent.session() == member.session()) {
                    return false;
                }
            } catch (KernelException | IllegalArgumentException e) {
                // gone meanwhile
            }
        }
        return true;
    }

    /** "session" or "process group", whichever of {@code member}'s ids is {@code id}. */
    public static String role(ProcStat member, int id) {
        return member.session() == id ? "session" : "process group";
    }
}
