package dev.cryo.engine.restore;

import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.proc.ProcStat;

import java.util.Set;

/**
 * A root in a session whose leader had exited — the daemon that forks, calls setsid and forks
 * again so it can never get a terminal. Its session (and the group of the same id) is made again
 * by a helper that takes the dead leader's pid for an instant (ExactPidSpawner.spawnInSessionOf),
 * as CRIU's helper tasks do; it used to come back in cryo's session and group. A session whose
 * leader lives outside the tree (a shell's job) or that has a terminal is the restorer's, as
 * before (--shell-job), with a warning naming that leader: the restore cannot join its session.
 */
public final class DeadSessionLeader {
    private DeadSessionLeader() {}

    /** Whether {@code root}'s session is made again by a helper with its dead leader's pid (gone now). */
    public static boolean makesSessionOf(TaskImage root, Set<Integer> treePids) {
        return ledFromOutside(root, treePids) && leaderNow(root) == null;
    }

    /**
     * Whether {@code root}'s session, without a terminal, was led by a process outside the tree, and
     * the root is in that session's group or leads its own: made again by a helper when that leader
     * is gone at the restore.
     */
    public static boolean ledFromOutside(TaskImage root, Set<Integer> treePids) {
        int sid = root.ids().sid();
        return sid > 1 && sid != root.pid() && !treePids.contains(sid) && root.ids().ttyNr() == 0
                && (root.ids().pgid() == sid || root.ids().pgid() == root.pid());
    }

    /** The process that has the session leader's pid now (it, or a zombie of it its parent has not reaped), or null. */
    public static ProcStat leaderNow(TaskImage root) {
        return RestoreValidator.holder(root.ids().sid());
    }

    /** Whether {@code st} is a zombie: the leader ended with the tree, its parent has not reaped it yet. */
    public static boolean exiting(ProcStat st) {
        return RestoreValidator.isZombie(st);
    }

    /** What the restore says when the session's leader outside the tree is still there. */
    public static String stillThere(TaskImage root, ProcStat leader) {
        return "pid " + root.pid() + " was in session " + root.ids().sid() + ", led by pid " + root.ids().sid()
                + " outside the tree, which is still there ('" + leader.comm() + "', state " + leader.state()
                + "): the tree joins the restorer's session and group, as with --shell-job (restored once that"
                + " leader has exited, a helper with its pid makes the session again)";
    }
}
