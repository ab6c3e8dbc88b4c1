package dev.cryo.engine.files;

import dev.cryo.kernel.Sys;

/** Names the kinds of fds cryo does not carry yet, so the error says what the fd is. */
final class UnsupportedFds {
    private UnsupportedFds() {}

    static String describe(FdProbe fd) {
        String t = fd.target();
        if (t.startsWith("socket:[")) {
            return socketKind(fd);
        }
        if (t.startsWith("anon_inode:")) {
            String kind = t.substring(11).replace("[", "").replace("]", "");
            return kind.isEmpty() ? "anonymous inode" : kind;
        }
        if (t.startsWith("/memfd:")) {
            return "memfd " + t.substring(7);
        }
        return "'" + t + "'";
    }

    /** sockfs names the protocol in the "system.sockprotoname" attribute of the socket's inode. */
    private static String socketKind(FdProbe fd) {
        String proto;
        try {
            proto = Sys.getxattr(fd.procPath().toString(), "system.sockprotoname");
        } catch (RuntimeException e) {
            proto = null;
        }
        if (proto == null) {
            return "socket";
        }
        proto = proto.trim();
        return switch (proto) {
            case "NETLINK" -> "netlink socket";
            case "UNIX", "UNIX-STREAM", "UNIX-DGRAM" -> "unix socket";
            case "TCP", "TCPv6", "MPTCP" -> "TCP socket";
            case "UDP", "UDPv6", "UDP-Lite", "UDPLITEv6" -> "UDP socket";
            case "PACKET" -> "packet socket";
            default -> proto + " socket";
        };
    }
}
