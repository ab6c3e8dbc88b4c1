package dev.cryo.engine.restore.stage;

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
        for (String line : ProcFs.text(path).strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            long in = Long.parseLong(f[0]), out = Long.parseLong(f[1]), count = Long.parseLong(f[2]);
            if (uid >= out && uid - out < count) {
                return in + uid - out;
            }
        }
        throw new RestoreException("pid " + pid + ": " + what + " " + uid + " is not in the uid map of its user"
                + " namespace (" + path + ")");
    }
}
