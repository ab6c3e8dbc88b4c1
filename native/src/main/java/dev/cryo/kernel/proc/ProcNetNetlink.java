package dev.cryo.kernel.proc;

import java.util.HashMap;
import java.util.Map;

/**
 * /proc/net/netlink: the netlink sockets of the reader's network namespace, one line each, as
 * net/netlink/af_netlink.c prints them:
 * <pre>
 *   sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
 *   00000000bef61bde 0   11999      00000000 4352     0        1     2        0        26287
 * </pre>
 * Eth is the protocol, Pid the port id, Groups the first 32 groups, Rmem the bytes queued for the
 * reader, Dump 1 while a dump request's answer is still being made (its next part is queued when
 * the reader has read the last one).
 */
public final class ProcNetNetlink {
    private ProcNetNetlink() {}

    /** One socket: {@code unreadBytes} = Rmem; {@code dumping} = a dump's answer not all handed over yet. */
    public record Entry(long ino, int protocol, long portId, long unreadBytes, boolean dumping) {
        /** Whether its reader has something left to read. */
        public boolean unread() {
            return unreadBytes > 0 || dumping;
        }
    }

    /** The sockets listed in {@code text} (the file's whole content), by inode. */
    public static Map<Long, Entry> parse(String path, String text) {
        Map<Long, Entry> out = new HashMap<>();
        Text.tableRows(path, text, 10, f -> {
            long ino = Long.parseLong(f[9]);
            out.put(ino, new Entry(ino, Integer.parseInt(f[1]), Long.parseLong(f[2]), Long.parseLong(f[4]),
                    !f[6].equals("0")));
        });
        return out;
    }
}
