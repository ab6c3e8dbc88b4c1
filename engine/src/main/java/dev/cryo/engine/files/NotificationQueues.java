package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The unread events of the tree's inotify and fanotify groups when it was frozen, measured before
 * cryo reads any file of the tree: the dump reads the files of a tmpfs the tree mounted (to make it
 * again), and each open, read and close it makes there is an event for a group watching them. Those
 * events are cryo's, not the program's: the restored tree must not get them, and they must not make the
 * dump refuse the group as holding unread events (a watcher of its own tmpfs could never be dumped).
 * Measured only for a tree with a mount namespace of its own: only then does cryo read such files.
 */
public final class NotificationQueues {
    private NotificationQueues() {}

    /** Bytes queued per inotify or fanotify fd of {@code tasks}; empty when cryo reads no file of the tree. */
    public static Map<FdProbe.Ref, Integer> atFreeze(List<Pid> tasks) {
        Map<FdProbe.Ref, Integer> out = new HashMap<>();
        String mine = ProcFs.readlink("/proc/self/ns/mnt");
        if (tasks.stream().allMatch(p -> mine.equals(nsOf(p)))) {
            return out;
        }
        for (Pid p : tasks) {
            for (Map.Entry<Integer, String> fd : ProcFs.fdTargets(p).entrySet()) {
                if (fd.getValue().equals("anon_inode:inotify") || fd.getValue().equals("anon_inode:[fanotify]")) {
                    try {
                        out.put(new FdProbe.Ref(p.value(), fd.getKey()), WatchTargets.pendingBytes(p, fd.getKey()));
                    } catch (IOException | RuntimeException e) {
                        // left to the handler, which measures it again and names what failed
                    }
                }
            }
        }
        return out;
    }

    private static String nsOf(Pid p) {
        try {
            return ProcFs.readlink(p.procDir() + "/ns/mnt");
        } catch (RuntimeException gone) {
            return null;
        }
    }
}
