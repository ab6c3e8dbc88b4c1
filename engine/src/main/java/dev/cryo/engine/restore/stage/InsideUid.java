package dev.cryo.engine.restore.stage;

import dev.cryo.engine.namespaces.UserNsImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.proc.ProcFs;

/**
 * A uid as cryo reads it (its own user namespace's) named as a task of another user namespace names it: a
 * value the task itself writes or passes to the kernel is read in its namespace (/proc/self/loginuid, setfsuid).
 */
final class InsideUid {
    private InsideUid() {}

    /** Uid {@code uid} through /proc/PID/uid_map; fails naming {@code what} when the map has no such uid. */
    static long of(String pid, long uid, String what) {
        String path = "/proc/" + pid + "/uid_map";
        long in = UserNsImage.inside(UserNsImage.parse(path, ProcFs.text(path)), uid);
        if (in < 0) {
            throw new RestoreException("pid " + pid + ": " + what + " " + uid + " is not in the uid map of its user"
                    + " namespace (" + path + ")");
        }
        return in;
    }
}
