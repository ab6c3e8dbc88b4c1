package dev.cryo.engine.restore.stage;

import dev.cryo.engine.files.MessageQueueHandler;
import dev.cryo.engine.model.FdImage;
import dev.cryo.kernel.SyscallNr;

/**
 * Registers the task again for the notifications (mq_notify) of the POSIX message queues it had
 * registered for, once every fd of the tree is in place: the kernel drops a registration when its
 * process closes any fd of the queue, which the FILES passes do with their temporary fds.
 */
public final class MessageQueueNotifications implements StateStage {
    @Override
    public String name() {
        return "message queue notifications";
    }

    @Override
    public void run(TaskContext t) {
        for (FdImage fd : t.task().fds()) {
            if (fd.desc() instanceof MessageQueueHandler.MessageQueue q && q.notification() != null) {
                MessageQueueHandler.Notification n = q.notification();
                byte[] ev = n.sigevent();
                if (n.cookie() != null) { // by a thread: the kernel copies the cookie it points to, put past the sigevent
                    java.nio.ByteBuffer.wrap(ev).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0, t.put(ev.length, n.cookie()));
                }
                t.call("mq_notify(fd " + fd.fd() + ", " + q.name() + ")", SyscallNr.MQ_NOTIFY, fd.fd(), t.put(0, ev));
            }
        }
    }
}
