package dev.cryo.kernel.proc;

import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;

import java.util.HashMap;
import java.util.Map;

/**
 * /proc/net/raw and /proc/net/raw6: the raw sockets of the reader's network namespace, one line
 * each, as net/ipv4/raw.c and net/ipv6/raw.c print them; /proc/net/icmp and icmp6 list the ICMP
 * datagram ("ping") sockets the same way (net/ipv4/ping.c), the local port being the ICMP id. Read
 * instead of sock_diag, whose raw part (CONFIG_INET_RAW_DIAG) kernels often leave out:
 * <pre>
 *   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 *   14: 0100007F:0001 0200007F:0000 01 00000000:00000000 00:00000000 00000000     0        0 5315065 2 000000007b47ba91 0
 * </pre>
 * An address is its 32-bit words printed as numbers in the kernel's (little-endian) byte order;
 * the local port is the socket's protocol, the remote one what connect was given; state 01 =
 * connected (TCP_ESTABLISHED), 07 = not.
 */
public final class ProcNetRaw {
    private ProcNetRaw() {}

    /** The raw sockets listed in {@code text} (the file's whole content), by inode. */
    public static Map<Long, SockDiag.InetSocket> parse(String path, String text, int family) {
        return parse(path, text, family, Sockets.IPPROTO_RAW);
    }

    /** The sockets of {@code protocol} (IPPROTO_RAW, or IPPROTO_ICMP for /proc/net/icmp and icmp6). */
    public static Map<Long, SockDiag.InetSocket> parse(String path, String text, int family, int protocol) {
        Map<Long, SockDiag.InetSocket> out = new HashMap<>();
        int words = family == SockAddr.AF_INET ? 1 : 4;
        Text.tableRows(path, text, 10, f -> {
            SockAddr local = address(f[1], family, words);
            SockAddr remote = address(f[2], family, words);
            int state = Integer.parseInt(f[3], 16);
            String[] queues = f[4].split(":");
            int wq = (int) Long.parseLong(queues[0], 16);
            int rq = (int) Long.parseLong(queues[1], 16);
            long ino = Long.parseLong(f[9]);
            out.put(ino, new SockDiag.InetSocket(ino, family, protocol, state, local, remote, 0, rq, wq, 0));
        });
        return out;
    }

    private static SockAddr address(String field, int family, int words) {
        String[] ap = field.split(":");
        if (ap.length != 2 || ap[0].length() != 8 * words) {
            throw new IllegalArgumentException("address '" + field + "'");
        }
        byte[] addr = new byte[4 * words];
        for (int w = 0; w < words; w++) {
            int v = (int) Long.parseLong(ap[0].substring(8 * w, 8 * w + 8), 16);
            for (int b = 0; b < 4; b++) {
                addr[4 * w + b] = (byte) (v >>> (8 * b)); // the word's bytes in memory order (little-endian)
            }
        }
        return new SockAddr(family, addr, Integer.parseInt(ap[1], 16));
    }
}
