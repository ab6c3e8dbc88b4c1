package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.net.Sockets;

/**
 * A task's socket taken into cryo with pidfd_getfd: the very same socket, so cryo can read its
 * options and peek its queues while the task is frozen; closing cryo's copy changes nothing.
 */
final class SocketProbe implements AutoCloseable {
    final FdProbe fd;
    final Fd sock;
    final long ino;
    final int family, type, protocol;

    private SocketProbe(FdProbe fd, Fd sock) {
        this.fd = fd;
        this.sock = sock;
        this.ino = inode(fd.target());
        this.family = Sockets.getInt(sock, Sockets.SOL_SOCKET, Sockets.SO_DOMAIN);
        this.type = Sockets.getInt(sock, Sockets.SOL_SOCKET, Sockets.SO_TYPE);
        this.protocol = Sockets.getInt(sock, Sockets.SOL_SOCKET, Sockets.SO_PROTOCOL);
    }

    static boolean isSocket(FdProbe fd) {
        return fd.target().startsWith("socket:[");
    }

    /** The protocol name sockfs gives the socket ("UNIX-STREAM", "TCPv6", "NETLINK", ...), cheap to read. */
    static String protoName(FdProbe fd) {
        if (!isSocket(fd)) {
            return "";
        }
        try {
            String p = Sys.getxattr(fd.procPath().toString(), "system.sockprotoname");
            return p == null ? "" : p.trim();
        } catch (RuntimeException e) {
            return "";
        }
    }

    static long inode(String target) {
        return Long.parseLong(target.substring(8, target.length() - 1));
    }

    /** Takes the socket; refuses one that lives in a network namespace neither cryo's nor one of the tree's. */
    static SocketProbe take(FdProbe fd, SocketDumpState st) {
        Fd sock;
        try (Fd pidfd = Sys.pidfdOpen(fd.pid())) {
            sock = Sys.pidfdGetfd(pidfd, fd.pid(), fd.fd());
        }
        try {
            SocketProbe p = new SocketProbe(fd, sock);
            if (st.netnsOf(p.ino) == 0 && !SocketDumpState.inOurNetns(sock)) {
                throw new DumpException(fd.where() + ": socket " + p.ino + " is in another network namespace (neither"
                        + " the host's nor one a task of the tree made, or passed in a message from one); not supported");
            }
            if (Sockets.filter(sock) == null) { // a classic filter travels with the options; this one cannot be read
                throw new DumpException(fd.where() + ": socket " + p.ino + " has an eBPF socket filter (SO_ATTACH_BPF),"
                        + " which cannot be read back; an eBPF socket filter is not supported");
            }
            return p;
        } catch (RuntimeException e) {
            sock.close();
            throw e;
        }
    }

    DumpException refuse(String why) {
        return new DumpException(fd.where() + ": " + why);
    }

    @Override
    public void close() {
        sock.close();
    }
}
