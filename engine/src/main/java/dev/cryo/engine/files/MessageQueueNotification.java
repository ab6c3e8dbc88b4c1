package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.model.FdImage;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.MessageQueues;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Injector;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads the value a frozen task gave its queue's notification by signal (mq_notify, SIGEV_SIGNAL),
 * which the kernel shows only in the signal it sends, by firing it: cryo sends a message to the
 * empty queue and takes it back at once, takes the signal out of the task's queue with an injected
 * rt_sigtimedwait (every signal is blocked while cryo's code runs, so the task never gets it), and
 * registers the notification again with an injected mq_notify. The task is left as it was, whatever
 * the dump does next. A queue's registration is carried by the first of the task's fds of it.
 */
public final class MessageQueueNotification {
    private MessageQueueNotification() {}

    private static final int SI_MESGQ = -3, MQ_PRIO_MAX = 32768;
    /** The scratch layout: the signal set, a zero timeout, the siginfo taken, the sigevent given again. */
    private static final int SET = 0, TIMEOUT = 8, SIGINFO = 64, SIGEVENT = 192, SIGINFO_SIZE = 128;

    /** {@code fds} with every signal notification's value read (on the task's tracer thread, frozen). */
    public static List<FdImage> learn(RemoteTask remote, List<FdImage> fds) {
        List<FdImage> out = new ArrayList<>(fds.size());
        Set<Long> registered = new HashSet<>();
        for (FdImage fd : fds) {
            if (fd.desc() instanceof MessageQueueHandler.MessageQueue q && q.notification() != null) {
                MessageQueueHandler.Notification n = q.notification();
                if (!registered.add(q.ino())) {
                    n = null; // registered once per queue: the first fd carries it
                } else if (n.how() == MessageQueueHandler.Notification.SIGEV_SIGNAL) {
                    n = new MessageQueueHandler.Notification(n.how(), n.signal(), value(remote, fd.fd(), q));
                } else if (n.how() == MessageQueueHandler.Notification.SIGEV_THREAD) {
                    n = cookie(remote, fd.fd(), q, fds);
                }
                out.add(new FdImage(fd.fd(), fd.flags(), fd.position(), q.withNotification(n), fd.owner()));
            } else {
                out.add(fd);
            }
        }
        for (FdImage fd : fds) {
            if (fd.desc() instanceof SharedFdHandler.SharedFd s && s.ownerTag() == MessageQueueHandler.TAG) {
                refuseRegisteredThrough(remote.pid(), fd.fd(), s, registered);
            }
        }
        return out;
    }

    /**
     * A registration made through an open file another task's fd carries (a child registered on a queue its
     * parent opened) would go with the kill unseen, as only the fd carrying the file is read: refused by name.
     */
    private static void refuseRegisteredThrough(Pid pid, int fd, SharedFdHandler.SharedFd s, Set<Long> registered) {
        java.nio.file.Path link = java.nio.file.Path.of(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd);
        try (Fd own = Sys.open(link.toString(), Fcntl.O_RDONLY | Fcntl.O_NONBLOCK)) {
            String status = new String(java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/self/fd/" + own.value())),
                    java.nio.charset.StandardCharsets.US_ASCII);
            long ino = ((Number) java.nio.file.Files.getAttribute(link, "unix:ino")).longValue();
            if (status.matches("(?s).*NOTIFY_PID:" + pid + "\\s.*") && !registered.contains(ino)) {
                throw new DumpException("pid " + pid + " fd " + fd + ": POSIX message queue " + ProcFs.fdTarget(pid, fd)
                        + ": the process registered for its notification (mq_notify) through the open file it shares"
                        + " with pid " + s.ownerPid() + " fd " + s.ownerFd() + ", which carries it without the"
                        + " registration; not supported");
            }
        } catch (java.io.IOException | KernelException e) {
            throw new DumpException("pid " + pid + " fd " + fd + ": cannot read its POSIX message queue's notification: "
                    + e.getMessage());
        }
    }

    private static long value(RemoteTask remote, int fd, MessageQueueHandler.MessageQueue q) {
        Pid pid = remote.pid();
        int signal = q.notification().signal();
        String what = "pid " + pid + " fd " + fd + ": POSIX message queue " + q.name() + ": its notification (mq_notify)"
                + " by signal " + signal;
        if (ProcFs.status(pid).pending(signal)) {
            throw new DumpException(what + ": that signal is pending already, so firing the notification to read its"
                    + " value would not queue another; not supported");
        }
        fire(what, pid, fd);
        long at = remote.scratch();
        try (Injector inj = remote.injector(pid.value())) {
            Sys.write(pid, at + SET, ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << (signal - 1)).array());
            long got = inj.raw(SyscallNr.RT_SIGTIMEDWAIT, at + SET, at + SIGINFO, at + TIMEOUT, 8);
            if (got != signal) {
                // not fired (a message of another process came first): still registered, value unknown
                throw new DumpException(what + ": firing it to read its value queued no signal ("
                        + (Injector.isError(got) ? Injector.errorText(got) : "signal " + got + " came") + "); not supported");
            }
            ByteBuffer si = ByteBuffer.wrap(Sys.read(pid, at + SIGINFO, SIGINFO_SIZE)).order(ByteOrder.LITTLE_ENDIAN);
            if (si.getInt(8) != SI_MESGQ) { // sent by another process in that instant, before the notification's
                throw new DumpException(what + ": the signal taken to read its value was another's (si_code "
                        + si.getInt(8) + "), sent in that instant: that one is lost and the notification's is pending"
                        + " with the registration gone; not supported");
            }
            long value = si.getLong(24); // si_value, after si_pid and si_uid
            MessageQueueHandler.Notification again = new MessageQueueHandler.Notification(
                    MessageQueueHandler.Notification.SIGEV_SIGNAL, signal, value);
            Sys.write(pid, at + SIGEVENT, again.sigevent());
            inj.call("mq_notify(fd " + fd + ", signal " + signal + ") again", SyscallNr.MQ_NOTIFY, fd, at + SIGEVENT);
            return value;
        }
    }

    private static final int MSG_PEEK = 2, MSG_DONTWAIT = 0x40, NOTIFY_WOKENUP = 1;

    /**
     * A notification by a thread (SIGEV_THREAD) as glibc registers it: the kernel sends a 32-byte cookie to a
     * netlink socket of the task, whose helper thread reads it. Which socket and what cookie show only in
     * what firing it sends: the task's netlink socket that holds a 32-byte message flagged as woken up, taken
     * out with an injected recvfrom. The task registers again with them.
     */
    private static MessageQueueHandler.Notification cookie(RemoteTask remote, int fd, MessageQueueHandler.MessageQueue q,
                                                           List<FdImage> fds) {
        Pid pid = remote.pid();
        String what = "pid " + pid + " fd " + fd + ": POSIX message queue " + q.name() + ": its notification (mq_notify)"
                + " by a thread (SIGEV_THREAD)";
        fire(what, pid, fd);
        long at = remote.scratch();
        int cookie = MessageQueueHandler.Notification.COOKIE;
        try (Injector inj = remote.injector(pid.value())) {
            for (FdImage f : fds) {
                boolean netlink = f.desc() instanceof NetlinkSocketHandler.NetlinkSocket
                        || (f.desc() instanceof SharedFdHandler.SharedFd s && s.ownerTag() == NetlinkSocketHandler.TAG);
                if (!netlink || inj.raw(SyscallNr.RECVFROM, f.fd(), at, cookie + 1, MSG_PEEK | MSG_DONTWAIT, 0, 0) != cookie
                        || Sys.read(pid, at + cookie - 1, 1)[0] != NOTIFY_WOKENUP) {
                    continue;
                }
                inj.call("recvfrom(fd " + f.fd() + ", the notification's cookie)", SyscallNr.RECVFROM, f.fd(), at, cookie,
                        MSG_DONTWAIT, 0, 0);
                byte[] data = Sys.read(pid, at, cookie);
                data[cookie - 1] = 0; // as registered: the kernel marks it woken up as it sends it
                MessageQueueHandler.Notification again = new MessageQueueHandler.Notification(
                        MessageQueueHandler.Notification.SIGEV_THREAD, f.fd(), 0L, data);
                Sys.write(pid, at, data);
                byte[] ev = again.sigevent();
                java.nio.ByteBuffer.wrap(ev).order(ByteOrder.LITTLE_ENDIAN).putLong(0, at); // the cookie's address
                Sys.write(pid, at + SIGEVENT, ev);
                inj.call("mq_notify(fd " + fd + ", a thread through fd " + f.fd() + ") again", SyscallNr.MQ_NOTIFY, fd,
                        at + SIGEVENT);
                return again;
            }
        }
        throw new DumpException(what + ": firing it to read its cookie left no such message in a netlink socket of the"
                + " task (its socket is another process's, or a message of another process came first); not supported");
    }

    /** Sends a message to the empty queue, which fires the notification, and takes it back. */
    private static void fire(String what, Pid pid, int fd) {
        try (Fd own = Sys.open(dev.cryo.kernel.ExitedLeaders.proc(pid) + "/fd/" + fd, Fcntl.O_RDWR | Fcntl.O_NONBLOCK)) {
            MessageQueues.send(own, new MessageQueues.Message(MQ_PRIO_MAX - 1, new byte[0])); // ahead of any other
            if (MessageQueues.receive(own, MessageQueues.attr(own).msgSize()) == null) {
                throw new DumpException(what + ": a process outside the tree waits for the queue's messages and took"
                        + " the empty message cryo sent to fire it; not supported");
            }
        } catch (KernelException e) {
            throw new DumpException(what + ": cannot fire it to read its value: " + e.getMessage());
        }
    }
}
