package dev.cryo.engine.files;

import dev.cryo.kernel.Pid;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The unread events of the tree's inotify and fanotify groups at the moment its last task stopped,
 * before anything else is read: what the dump refuses or lets the tree read ({@link UnreadQueues})
 * and what the groups' handlers check. Events queued after that moment tell of changes made from
 * outside the tree after the freeze (no task of it runs any more), which a restore cannot tell the
 * tree of any more than of a change made after the dump: the restored watch reports the next
 * change (a log follower then reads the file to its end). Measured later (in the fd's handler,
 * after the state comparator's or a hook's look) a log written 20 times a second had queued new
 * events nearly every time, and the follower was refused. Also: the dump reads the files of a
 * tmpfs the tree mounted (to make it again), and each open, read and close is an event for a group
 * watching them, cryo's own, which the restored tree must not get.
 */
public final class NotificationQueues {
    private NotificationQueues() {}

    /** Bytes queued per inotify or fanotify fd of {@code tasks}. */
    public static Map<FdProbe.Ref, Integer> atFreeze(List<Pid> tasks) {
        Map<FdProbe.Ref, Integer> out = new HashMap<>();
        for (Pid p : tasks) {
            for (Map.Entry<Integer, String> fd : UnreadQueues.fdsOf(p).entrySet()) {
                if (UnreadQueues.isNotificationGroup(fd.getValue())) {
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
}
