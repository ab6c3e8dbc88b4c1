package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;

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
        try {
            RestoreValidator.checkPidFree(sid, java.time.Duration.ofSeconds(2), notice -> { });
            return true;
        } catch (RestoreException e) {
            return false; // a live leader outside the tree: the restorer's session, as before
        }
    }
}
