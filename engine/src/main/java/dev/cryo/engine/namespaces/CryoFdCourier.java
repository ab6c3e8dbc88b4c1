package dev.cryo.engine.namespaces;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hands a file cryo made (a pipe end, a memfd, a socket, a pty) to a task inside a user namespace
 * of the tree. Such a task cannot take it itself: pidfd_getfd and /proc/CRYO/fd/N need ptrace
 * rights over cryo, which it has nowhere outside its namespace. So it binds a unix datagram socket
 * to a one-off abstract name in its network namespace, cryo sends the file there (SCM_RIGHTS,
 * which crosses user namespaces), and the task receives it with close-on-exec set, as
 * pidfd_getfd gives it.
 */
public final class CryoFdCourier {
    private CryoFdCourier() {}

    private static final AtomicLong COUNTER = new AtomicLong();

    /** cryo's fd {@code fd} as a new fd of task {@code t}; returns its number there. */
    public static long deliver(TaskContext t, int fd) {
        String pid = t.pid().toString();
        String theirs = dev.cryo.kernel.Namespaces.link(pid, "net");
        boolean ownNet = theirs != null && !theirs.equals(dev.cryo.kernel.Namespaces.link("self", "net"));
        long rfd = t.call("socket(AF_UNIX, SOCK_DGRAM)", SyscallNr.SOCKET, SockAddr.AF_UNIX,
                Sockets.SOCK_DGRAM | Sockets.SOCK_CLOEXEC, 0);
        try (Fd sender = ownNet ? dev.cryo.kernel.Namespaces.inside(t.pid(), "net",
                () -> Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0))
                : Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0)) {
            String name = "\0cryo-fd-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
            SockAddr addr = SockAddr.unix(name.getBytes(StandardCharsets.UTF_8));
            byte[] raw = addr.encode();
            t.call("bind(" + addr + ")", SyscallNr.BIND, rfd, t.put(0, raw), raw.length);
            Sockets.sendFds(sender, List.of(new Fd(fd)), addr); // cryo's own fd: not closed here
            // struct msghdr at +256: iov at +320 -> 1 byte at +336; control (64 bytes) at +384
            long base = t.put(256, new byte[192]);
            ByteBuffer b = ByteBuffer.allocate(192).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(0).putInt(0).putInt(0).putLong(base + 64).putLong(1).putLong(base + 128).putLong(64).putInt(0);
            b.position(64);
            b.putLong(base + 80).putLong(1);
            t.put(256, b.array());
            t.call("recvmsg(cryo's fd " + fd + ")", SyscallNr.RECVMSG, rfd, base, Sockets.MSG_CMSG_CLOEXEC);
            ByteBuffer c = ByteBuffer.wrap(dev.cryo.kernel.Sys.read(t.pid(), base + 128, 64)).order(ByteOrder.LITTLE_ENDIAN);
            if (c.getLong(0) < 20 || c.getInt(8) != Sockets.SOL_SOCKET || c.getInt(12) != 1) {
                throw new RestoreException("pid " + pid + ": cryo's fd " + fd + " did not arrive in the task");
            }
            return c.getInt(16);
        } finally {
            t.call("close", SyscallNr.CLOSE, rfd);
        }
    }
}
