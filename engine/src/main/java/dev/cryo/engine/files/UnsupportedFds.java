package dev.cryo.engine.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Names the kinds of fds cryo does not carry yet, so the error says what the fd is. */
final class UnsupportedFds {
    private UnsupportedFds() {}

    private static final List<String[]> SOCKET_TABLES = List.of(
            new String[]{"/proc/net/unix", "unix socket"}, new String[]{"/proc/net/tcp", "TCP socket"},
            new String[]{"/proc/net/tcp6", "TCP socket"}, new String[]{"/proc/net/udp", "UDP socket"},
            new String[]{"/proc/net/udp6", "UDP socket"}, new String[]{"/proc/net/netlink", "netlink socket"},
            new String[]{"/proc/net/packet", "packet socket"}, new String[]{"/proc/net/raw", "raw socket"});

    static String describe(FdProbe fd) {
        String t = fd.target();
        if (t.startsWith("socket:[")) {
            return socketKind(t.substring(8, t.length() - 1));
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

    /** Finds the socket's inode in the per-protocol tables of the task's network namespace. */
    private static String socketKind(String inode) {
        for (String[] table : SOCKET_TABLES) {
            try {
                for (String line : Files.readAllLines(Path.of(table[0]))) {
                    for (String field : line.trim().split("\\s+")) {
                        if (field.equals(inode)) {
                            return table[1];
                        }
                    }
                }
            } catch (IOException e) {
                // table absent (protocol not built in): try the next
            }
        }
        return "socket";
    }
}
