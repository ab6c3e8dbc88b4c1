package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether a TCP connection of a net namespace would be taken for invalid traffic once that
 * namespace is made new: cryo does not carry its conntrack table, and with
 * {@code nf_conntrack_tcp_loose} 0 the kernel does not pick a connection up from a packet in its
 * middle, so a rule that drops invalid packets ({@code ct state invalid drop}) drops all of a
 * restored connection's. With the default (1) the next packet makes the entry again. Read in the
 * socket's namespace: the sysctl and /proc/thread-self/net/nf_conntrack are the namespace's.
 */
public final class ConntrackStrictness {
    private ConntrackStrictness() {}

    /** True when {@code s}'s namespace tracks the connection {@code local}-{@code remote} with loose pick-up off. */
    public static boolean strictlyTracked(Fd s, SockAddr local, SockAddr remote) {
        return strictlyTracked(s, 0, local, remote);
    }

    /**
     * As above, {@code task} a task in {@code s}'s namespace (0: none known): the connection is looked for in the
     * namespace's table through /proc/TASK/net first, from this thread, and a thread joins the namespace to read the
     * sysctl only when the table has it. Where nothing tracks the connection (a namespace without conntrack rules,
     * the usual container) no thread is made: a thread per connection waited 1-34 ms to be scheduled, frozen, in a
     * container's migration at load 15.
     */
    public static boolean strictlyTracked(Fd s, int task, SockAddr local, SockAddr remote) {
        try (Fd ns = Sockets.netns(s)) {
            String link = task == 0 ? null : dev.cryo.kernel.Namespaces.link(Integer.toString(task), "net");
            if (link != null && link.equals("net:[" + dev.cryo.kernel.Sys.inode(ns) + "]")
                    && !tracks(read("/proc/" + task + "/net/nf_conntrack"), local, remote)) {
                return false;
            }
            return dev.cryo.kernel.Namespaces.insideNet(ns, () -> {
                String loose = read("/proc/sys/net/netfilter/nf_conntrack_tcp_loose");
                return loose != null && loose.strip().equals("0")
                        && tracks(read("/proc/thread-self/net/nf_conntrack"), local, remote);
            });
        }
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path));
        } catch (IOException e) {
            return null; // no conntrack in this kernel or namespace
        }
    }

    /** Whether a tcp line of /proc/net/nf_conntrack has the connection as its original tuple, either way. */
    static boolean tracks(String table, SockAddr local, SockAddr remote) {
        if (table == null) {
            return false;
        }
        for (String line : table.split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length < 4 || !f[2].equals("tcp")) {
                continue;
            }
            String src = null, dst = null, sport = null, dport = null;
            for (String w : f) { // the first of each is the original direction's
                if (w.startsWith("src=") && src == null) {
                    src = w.substring(4);
                } else if (w.startsWith("dst=") && dst == null) {
                    dst = w.substring(4);
                } else if (w.startsWith("sport=") && sport == null) {
                    sport = w.substring(6);
                } else if (w.startsWith("dport=") && dport == null) {
                    dport = w.substring(6);
                }
            }
            if (src != null && dst != null && sport != null && dport != null
                    && (same(src, sport, local) && same(dst, dport, remote) || same(src, sport, remote) && same(dst, dport, local))) {
                return true;
            }
        }
        return false;
    }

    private static boolean same(String address, String port, SockAddr a) {
        try {
            InetAddress mine = a.inetAddress();
            InetAddress theirs = InetAddress.getByName(address);
            if (mine instanceof java.net.Inet6Address v6 && theirs instanceof java.net.Inet4Address) {
                byte[] b = v6.getAddress(); // a v4-mapped socket address: the table shows the IPv4 one
                mine = InetAddress.getByAddress(java.util.Arrays.copyOfRange(b, 12, 16));
            }
            return mine.equals(theirs) && Integer.parseInt(port) == a.port();
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }
}
