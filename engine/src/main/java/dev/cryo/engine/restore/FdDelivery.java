package dev.cryo.engine.restore;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Puts one of cryo's files into a task being restored: an injected unix datagram socket, bound to a
 * one-off abstract name in the task's network namespace, receives it from cryo (SCM_RIGHTS, which
 * crosses user namespaces and needs no ptrace rights over cryo). The task gets it close-on-exec.
 */
public final class FdDelivery {
    private FdDelivery() {}

    private static final AtomicLong COUNTER = new AtomicLong();

    /** Task {@code pid}'s network namespace (its /proc link) when it is not cryo's; null when it is, or for pid 0. */
    public static String foreignNetns(int pid) {
        String theirs = pid > 0 ? Namespaces.link(Integer.toString(pid), "net") : null;
        return theirs != null && !theirs.equals(Namespaces.link("self", "net")) ? theirs : null;
    }

    /** A unix datagram socket of cryo's that can reach abstract names in task {@code pid}'s network namespace. */
    public static Fd senderFor(int pid) {
        return senderIn(pid, foreignNetns(pid));
    }

    /** {@link #senderFor} when {@code foreign}, the task's {@link #foreignNetns}, is known. */
    public static Fd senderIn(int pid, String foreign) {
        if (foreign != null) {
            return Namespaces.inside(Pid.of(pid), "net", () -> Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0));
        }
        return Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0);
    }

    /**
     * Sends {@code file} from {@code sender} ({@link #senderFor} the task) into the task {@code r};
     * returns its fd number there. {@code what} names the file in errors. Neither fd is closed.
     */
    public static long deliver(SocketHub.Remote r, Fd sender, Fd file, String what) {
        Receiver in = Receiver.open(r, -1);
        try {
            return in.receive(r, sender, file, true, what);
        } finally {
            in.close(r);
        }
    }

    /**
     * The task's end of a delivery: an unix datagram socket bound to a one-off abstract name. One
     * kept for many files costs a single injected recvmsg per file instead of four calls.
     */
    public static final class Receiver {
        private final long fd;
        private final SockAddr addr;

        private Receiver(long fd, SockAddr addr) {
            this.fd = fd;
            this.addr = addr;
        }

        /**
         * A receiver in task {@code r}, at the lowest free fd number from {@code above} + 1 on
         * ({@code above} < 0: the lowest free one), or null when that number is not to be had (the
         * task's RLIMIT_NOFILE).
         */
        public static Receiver open(SocketHub.Remote r, int above) {
            long rfd = r.call("socket(AF_UNIX, SOCK_DGRAM)", SyscallNr.SOCKET, SockAddr.AF_UNIX,
                    Sockets.SOCK_DGRAM | Sockets.SOCK_CLOEXEC, 0);
            try {
                if (above >= 0) {
                    long high;
                    try {
                        high = r.call("fcntl(F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, rfd, dev.cryo.kernel.Fcntl.F_DUPFD_CLOEXEC, above + 1);
                    } catch (RuntimeException e) {
                        r.call("close", SyscallNr.CLOSE, rfd);
                        return null;
                    }
                    r.later("close", SyscallNr.CLOSE, rfd); // with the bind
                    rfd = high;
                }
                String name = "\0cryo-fd-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
                SockAddr addr = SockAddr.unix(name.getBytes(StandardCharsets.UTF_8));
                byte[] raw = addr.encode();
                r.call("bind(" + addr + ")", SyscallNr.BIND, rfd, r.put(0, raw), raw.length);
                return new Receiver(rfd, addr);
            } catch (RuntimeException e) {
                r.call("close", SyscallNr.CLOSE, rfd);
                throw e;
            }
        }

        /** Sends {@code file} into the task; returns its fd number there, close-on-exec if {@code cloexec}. */
        public long receive(SocketHub.Remote r, Fd sender, Fd file, boolean cloexec, String what) {
            return receiveAll(r, sender, List.of(file), cloexec, what)[0];
        }

        /** The most fds one message carries (the kernel's SCM_MAX_FD). */
        public static final int MAX_FILES = 253;

        /**
         * Sends {@code files} into the task in one message (at most {@link #MAX_FILES}), taken by one
         * recvmsg; returns their fd numbers there, in order: the kernel gives each the lowest free one.
         */
        public int[] receiveAll(SocketHub.Remote r, Fd sender, List<Fd> files, boolean cloexec, String what) {
            int n = files.size();
            if (n < 1 || n > MAX_FILES) {
                throw new IllegalArgumentException(n + " files in one message");
            }
            Sockets.sendFds(sender, files, addr);
            int control = 16 + ((4 * n + 7) & ~7); // CMSG_SPACE(4 n)
            // struct msghdr at +256: iov at +320 -> 1 byte at +336; control at +384
            long base = r.put(256, new byte[128 + control]);
            ByteBuffer b = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(0).putInt(0).putInt(0).putLong(base + 64).putLong(1).putLong(base + 128).putLong(control).putInt(0);
            b.position(64);
            b.putLong(base + 80).putLong(1);
            r.put(256, b.array());
            r.call("recvmsg(" + what + ")", SyscallNr.RECVMSG, fd, base, cloexec ? Sockets.MSG_CMSG_CLOEXEC : 0);
            ByteBuffer h = ByteBuffer.wrap(r.read(base, 128 + control)).order(ByteOrder.LITTLE_ENDIAN);
            if (h.getLong(128) != 16 + 4L * n || h.getInt(136) != Sockets.SOL_SOCKET || h.getInt(140) != 1
                    || (h.getInt(48) & Sockets.MSG_CTRUNC) != 0) {
                throw new RestoreException("pid " + r.pid() + ": " + what + " did not arrive in the task"
                        + (n > 1 ? " (" + n + " files in one message)" : ""));
            }
            int[] got = new int[n];
            for (int i = 0; i < n; i++) {
                got[i] = h.getInt(144 + 4 * i);
            }
            return got;
        }

        /** Its fd number in the task. */
        public long fd() {
            return fd;
        }

        /** Queued where the task queues calls: it runs with the next one. */
        public void close(SocketHub.Remote r) {
            r.later("close", SyscallNr.CLOSE, fd);
        }
    }
}
