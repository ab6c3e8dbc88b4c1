package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;

import java.util.Set;

/**
 * A root in a session whose leader had exited — the daemon that forks, calls setsid and forks
 * again so it can never get a terminal. Its session (and the group of the same id) is made again
 * by a helper that takes the dead leader's pid for an instant (ExactPidSpawner.spawnInSessionOf),
 * as CRIU's helper tasks do; it used to come back in cryo's session and group. A session whose
 * leader lives outside the tree (a shell's job) or that has a terminal is the restorer's, as
 * before (--shell-job).
 */
public final class DeadSessionLeader {
    private DeadSessionLeader() {}

    /** Whether {@code root}'s session is made again by a helper with its dead leader's pid. */
    public static boolean makesSessionOf(TaskImage root, Set<Integer> treePids) {
        int sid = root.ids().sid();
        return sid > 1 && sid != root.pid() && !treePids.contains(sid) && root.ids().ttyNr() == 0
                && (root.ids().pgid() == sid || root.ids().pgid() == root.pid())
                && gone(sid);
    }

    /**
     * Whether the leader is gone, waiting a moment for a zombie leader to be reaped: the dump that
     * killed the tree ended the leader too when it only waited for its child (`unshare --fork`),
     * and its own parent may not have reaped it yet.
     */
    private static boolean gone(int sid) {
        long until = System.nanoTime() + 2_000_000_000L;
        while (Sys.exists(Pid.of(sid))) {
            char state;
            try {
                state = dev.cryo.kernel.proc.ProcFs.stat(Pid.of(sid)).state();
            } catch (dev.cryo.kernel.KernelException e) {
                return true; // reaped between the two reads
            }
            if (state != 'Z' || System.nanoTime() > until) {
                return false;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }
}
