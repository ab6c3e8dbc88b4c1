package dev.cryo.engine.files;

import com.sun.jna.Memory;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.FanotifyAbi;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;

import java.util.Collection;
import java.util.function.Consumer;

/**
 * The restored tree's inotify and fanotify queues emptied right before it runs. The dump refuses a
 * queue holding events at the freeze ({@link NotificationQueues}), so whatever a restored group holds
 * then was queued by the restore itself: a deleted file made again in a watched directory (create,
 * close-write and delete of its temporary name), a file another task's restore opened after the
 * group's marks were in place, or a change from outside the tree after the freeze, which a restore
 * cannot tell of any more than of one after the dump. Left there, the program read changes that
 * never happened (zdtm's inotify00 and fanotify00, ns flavour), and a second dump of the restored
 * tree was refused for its unread events. Read from cryo's copy of the group (pidfd_getfd), the same
 * open file; the permission classes, whose events would wait for an answer, are refused at dump.
 */
public final class RestoredNotificationQueues {
    private RestoredNotificationQueues() {}

    /** Reads at most this many times per group: events still coming from outside do not hold the resume. */
    private static final int MAX_READS = 64;

    /** Empties every inotify and fanotify group {@code tasks} hold; {@code dropped} hears of each group that held any. */
    public static void empty(Collection<TaskImage> tasks, Consumer<String> dropped) {
        for (TaskImage t : tasks) {
            for (FdImage fd : t.fds()) {
                boolean fanotify = fd.desc() instanceof FanotifyHandler.Fanotify;
                if (fanotify || fd.desc() instanceof InotifyHandler.Inotify) {
                    long bytes = empty(Pid.of(t.pid()), fd.fd(), fanotify);
                    if (bytes > 0) {
                        dropped.accept("pid " + t.pid() + " fd " + fd.fd() + ": " + bytes + " bytes of "
                                + (fanotify ? "fanotify" : "inotify") + " events queued by the restore, dropped");
                    }
                }
            }
        }
    }

    private static long empty(Pid pid, int fd, boolean fanotify) {
        long total = 0;
        try (Fd pidfd = Sys.pidfdOpen(pid); Fd group = Sys.pidfdGetfd(pidfd, pid, fd)) {
            for (int i = 0; i < MAX_READS; i++) {
                int pending = Sys.pendingBytes(group);
                if (pending <= 0) {
                    break;
                }
                Memory buf = new Memory(pending);
                // FIONREAD counted whole events, so this read does not block on a blocking group
                long n = Sys.call(() -> "read(" + pid + " fd " + fd + ", its queued events)", SyscallNr.READ,
                        group.value(), Sys.address(buf), pending, 0);
                if (fanotify) {
                    closeEventFds(buf, n);
                }
                total += n;
            }
        } catch (RuntimeException e) {
            throw new RestoreException("pid " + pid + " fd " + fd + ": cannot empty its "
                    + (fanotify ? "fanotify" : "inotify") + " queue of the restore's own events: " + e.getMessage(), e);
        }
        return total;
    }

    /** A fanotify event hands its reader an fd of the file: cryo's, closed. */
    private static void closeEventFds(Memory buf, long n) {
        for (long at = 0; at + FanotifyAbi.METADATA_MIN <= n; ) {
            int len = buf.getInt(at + FanotifyAbi.EVENT_LEN);
            int eventFd = buf.getInt(at + FanotifyAbi.EVENT_FD);
            if (eventFd >= 0) {
                new Fd(eventFd).close();
            }
            if (len < FanotifyAbi.METADATA_MIN) {
                break;
            }
            at += len;
        }
    }
}
