package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.ptrace.Registers;
import dev.cryo.kernel.ptrace.Tracer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A thread seized right as its {@code sendto}/{@code sendmsg} of a netlink dump request returned, the
 * whole answer still queued (the kernel makes it while the request is sent, and the seize takes effect
 * at that syscall's exit: a program that asks in a loop, RTM_GETLINK after RTM_GETLINK, is caught so at
 * most freezes). That answer cannot be queued again at a restore (nothing sends from the kernel's port
 * 0), but the request can be sent again: cryo reads the answer out of the socket and takes the thread
 * back to its {@code syscall} instruction with the syscall's number in rax (the kernel keeps the
 * argument registers), so it sends the same request once more when it runs again — after a restore, or
 * at once after {@code dump -R} or a failed dump — and reads a fresh answer. Only a dump request
 * (NLM_F_DUMP: it changes nothing) on a socket of no multicast group (nothing but answers reaches it)
 * of the route, sock_diag and generic families, whose queue starts with that request's answer (by its
 * sequence number: an older request's answer would come first). Runs on the task's tracer thread
 * right after the seize, before the queues are looked at ({@link UnreadQueues}).
 */
public final class NetlinkRequestUndo {
    private NetlinkRequestUndo() {}

    private static final int NLMSG_HDRLEN = 16, NLM_F_DUMP = 0x300, NETLINK_ROUTE = 0, NETLINK_SOCK_DIAG = 4,
            NETLINK_GENERIC = 16, SOL_SOCKET = 1, ANSWER_WAIT_MS = 100;

    /** Takes back every such thread of {@code pid} (all seized); returns how many were. */
    public static int apply(Tracer tracer, Pid pid, List<Integer> tids) {
        int undone = 0;
        for (int tid : tids) {
            try {
                if (undo(tracer, pid, tid)) {
                    undone++;
                }
            } catch (KernelException e) {
                // the thread or its fd is gone, or the socket is not one to touch: left as it is (UnreadQueues decides)
            }
        }
        return undone;
    }

    private static boolean undo(Tracer tracer, Pid pid, int tid) {
        Registers r = tracer.getRegisters(tid);
        long nr = r.origRax();
        if ((nr != SyscallNr.SENDTO && nr != SyscallNr.SENDMSG) || r.rax() < NLMSG_HDRLEN) {
            return false; // not at the exit of a send that went through
        }
        byte[] insn = Sys.read(pid, r.rip() - 2, 2);
        if (insn[0] != 0x0f || insn[1] != 0x05) {
            return false; // not right after a syscall instruction (a vsyscall or int 0x80): not taken back
        }
        int fd = (int) r.get(Registers.RDI);
        String path = pid.procDir() + "/task/" + tid + "/fd/" + fd;
        if (!ProcFs.readlink(path).startsWith("socket:[") || !"NETLINK".equals(Sys.getxattr(path, "system.sockprotoname"))) {
            return false;
        }
        byte[] request = request(pid, nr, r.get(Registers.RSI));
        if (request == null) {
            return false;
        }
        ByteBuffer req = ByteBuffer.wrap(request).order(ByteOrder.nativeOrder());
        int seq = req.getInt(8);
        if ((Short.toUnsignedInt(req.getShort(6)) & NLM_F_DUMP) != NLM_F_DUMP) {
            return false; // another request may have changed something: never sent twice
        }
        try (Fd pidfd = Sys.pidfdOpen(pid); Fd sock = Sys.pidfdGetfd(pidfd, pid, fd)) {
            int protocol = Sockets.getInt(sock, SOL_SOCKET, Sockets.SO_PROTOCOL);
            if ((protocol != NETLINK_ROUTE && protocol != NETLINK_SOCK_DIAG && protocol != NETLINK_GENERIC)
                    || Sockets.sockName(sock).netlinkGroups() != 0) {
                return false;
            }
            byte[] head = Sockets.recv(sock, NLMSG_HDRLEN, Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT);
            if (head == null || head.length < NLMSG_HDRLEN
                    || ByteBuffer.wrap(head).order(ByteOrder.nativeOrder()).getInt(8) != seq) {
                return false; // nothing queued, or another answer first
            }
            drain(sock, seq, pid, tid);
        }
        tracer.setRegisters(tid, r.with(Registers.RIP, r.rip() - 2).with(Registers.RAX, nr));
        return true;
    }

    /** The request's netlink header: sendto's buffer, or sendmsg's first iovec. Null when it is not there. */
    private static byte[] request(Pid pid, long nr, long arg) {
        long buf = arg;
        if (nr == SyscallNr.SENDMSG) {
            ByteBuffer msg = ByteBuffer.wrap(Sys.read(pid, arg, 32)).order(ByteOrder.nativeOrder());
            long iov = msg.getLong(16), iovlen = msg.getLong(24);
            if (iovlen < 1) {
                return null;
            }
            ByteBuffer first = ByteBuffer.wrap(Sys.read(pid, iov, 16)).order(ByteOrder.nativeOrder());
            if (first.getLong(8) < NLMSG_HDRLEN) {
                return null;
            }
            buf = first.getLong(0);
        }
        return Sys.read(pid, buf, NLMSG_HDRLEN);
    }

    /**
     * Reads the answer to request {@code seq} out, to its NLMSG_DONE or error (each read of a dump's
     * part has the kernel queue the next one).
     */
    private static void drain(Fd sock, int seq, Pid pid, int tid) {
        long deadline = System.nanoTime() + ANSWER_WAIT_MS * 1_000_000L;
        while (true) {
            byte[] d = Sockets.recv(sock, 1 << 16, Sockets.MSG_DONTWAIT);
            if (d == null) {
                if (System.nanoTime() > deadline) {
                    throw new dev.cryo.engine.DumpException("pid " + pid + " tid " + tid + ": the answer to its netlink"
                            + " dump request (sequence " + seq + ") stopped coming before its end");
                }
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                continue;
            }
            ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.nativeOrder());
            for (int at = 0; at + NLMSG_HDRLEN <= d.length; ) {
                int len = b.getInt(at), type = Short.toUnsignedInt(b.getShort(at + 4));
                if (type == Sockets.NLMSG_DONE || type == Sockets.NLMSG_ERROR) {
                    return;
                }
                if (len < NLMSG_HDRLEN) {
                    return;
                }
                at += (len + 3) & ~3;
            }
        }
    }
}
