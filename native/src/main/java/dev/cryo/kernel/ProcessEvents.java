package dev.cryo.kernel;

import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

/**
 * The kernel's process events connector (NETLINK_CONNECTOR, CN_IDX_PROC): a fork anywhere on the host
 * is announced with its parent, so a process that forks a child which writes shared memory and is
 * gone again before anyone looked is still known to have forked. Root only, in the initial pid
 * namespace (the connector speaks its pids): {@link #open()} returns null elsewhere. The connector
 * speaks only to sockets of the initial network namespace: cryo in another one (an agent in a net
 * namespace) makes its socket there, on a thread that joins kthreadd's and ends. Events queue in the socket between {@link #drain()}s; a
 * full queue (ENOBUFS) is reported as {@link Drained#overflow()}: forks may have been missed.
 */
public final class ProcessEvents implements AutoCloseable {
    private static final int NETLINK_CONNECTOR = 11, CN_IDX_PROC = 1, CN_VAL_PROC = 1;
    private static final int PROC_CN_MCAST_LISTEN = 1, PROC_CN_MCAST_IGNORE = 2, PROC_EVENT_FORK = 1;
    private static final int NLMSG_HDR = 16, CN_MSG_HDR = 20, NLMSG_DONE = 3;
    private static final int RCVBUF = 8 << 20;

    private final Fd socket;

    /** Forks since the last drain by their parent process (tgid); overflow: some events were lost. */
    public record Drained(Set<Integer> forkedParents, boolean overflow) {}

    private ProcessEvents(Fd socket) {
        this.socket = socket;
    }

    /** Listening from now on, or null where the connector cannot serve (not root, another namespace). */
    public static ProcessEvents open() {
        if (!inInitialPidNamespace()) {
            return null;
        }
        Fd s;
        try {
            String ours = Namespaces.link("self", "net"), initial = Namespaces.link(KTHREADD, "net");
            s = initial == null || initial.equals(ours) ? socket()
                    : Namespaces.inside(Pid.of(2), "net", ProcessEvents::socket); // it keeps that namespace
        } catch (KernelException e) {
            return null;
        }
        try {
            Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_RCVBUFFORCE, RCVBUF);
            Sockets.bind(s, SockAddr.netlink(0, CN_IDX_PROC));
            Sockets.send(s, control(PROC_CN_MCAST_LISTEN), 0);
            return new ProcessEvents(s);
        } catch (KernelException e) {
            s.close();
            return null;
        }
    }

    /**
     * kthreadd, pid 2 of the initial pid namespace: a kernel thread, in the initial net namespace, whose namespaces
     * root may join (pid 1's may be shut to it: a sandbox's init, EACCES).
     */
    private static final String KTHREADD = "2";

    private static Fd socket() {
        return Sockets.socket(SockAddr.AF_NETLINK, 2 /* SOCK_DGRAM */ | Sockets.SOCK_NONBLOCK, NETLINK_CONNECTOR);
    }

    /** A request to the connector: listen, or ignore again (the kernel counts its listeners). */
    private static byte[] control(int op) {
        ByteBuffer b = ByteBuffer.allocate(NLMSG_HDR + CN_MSG_HDR + 4).order(ByteOrder.nativeOrder());
        b.putInt(b.capacity()).putShort((short) NLMSG_DONE).putShort((short) 0).putInt(0).putInt(0);
        b.putInt(CN_IDX_PROC).putInt(CN_VAL_PROC).putInt(0).putInt(0).putShort((short) 4).putShort((short) 0);
        b.putInt(op);
        return b.array();
    }

    private static boolean inInitialPidNamespace() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("NSpid:")) {
                    return line.substring(6).trim().split("\\s+").length == 1;
                }
            }
        } catch (java.io.IOException e) {
            return false;
        }
        return false;
    }

    /** The forks announced since the last call (non-blocking). */
    public Drained drain() {
        Set<Integer> parents = new HashSet<>();
        boolean overflow = false;
        while (true) {
            byte[] msg;
            try {
                msg = Sockets.recv(socket, 8192, Sockets.MSG_DONTWAIT);
            } catch (SyscallException e) {
                if (e.errno() == Errno.ENOBUFS) {
                    overflow = true;
                    continue;
                }
                throw e;
            }
            if (msg == null) {
                return new Drained(parents, overflow);
            }
            ByteBuffer b = ByteBuffer.wrap(msg).order(ByteOrder.nativeOrder());
            int at = 0;
            while (at + NLMSG_HDR + CN_MSG_HDR + 16 <= msg.length) {
                int len = b.getInt(at);
                int event = at + NLMSG_HDR + CN_MSG_HDR;
                if (b.getInt(event) == PROC_EVENT_FORK && event + 16 + 16 <= msg.length) {
                    // struct fork_proc_event after what, cpu, timestamp: parent pid, parent tgid, child pid, child tgid
                    int childPid = b.getInt(event + 16 + 8), childTgid = b.getInt(event + 16 + 12);
                    if (childPid == childTgid) { // a new process, not a thread (a thread shares the mm)
                        parents.add(b.getInt(event + 16 + 4));
                    }
                }
                if (len <= 0) {
                    break;
                }
                at += (len + 3) & ~3;
            }
        }
    }

    /** Once: a dump that fails after the frozen round of its shared memory closed it closes it again. */
    @Override
    public void close() {
        if (!socket.isOpen()) {
            return;
        }
        try {
            Sockets.send(socket, control(PROC_CN_MCAST_IGNORE), 0);
        } catch (KernelException e) {
            // the count is the kernel's bookkeeping only: closing is what matters
        }
        socket.close();
    }
}
