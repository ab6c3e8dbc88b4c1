package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Delivers again the FIN a connection had received from its peer (CLOSE_WAIT, LAST_ACK, CLOSING),
 * as CRIU's libsoccr does: a connection is rebuilt established with its receive sequence before
 * that FIN, then a bare FIN|ACK "from the peer" at that very sequence number is sent to it through
 * a raw socket (IP header included) on this host. The kernel takes it like the original one and
 * the socket moves on to the state it had. The packet carries {@link NetworkLock#BYPASS_MARK}, which
 * the network lock lets through while it still holds the connection. No TCP options: without a
 * timestamp option the kernel skips its PAWS check.
 */
public final class PeerFin {
    private PeerFin() {}

    private static final int FIN = 0x01, RST = 0x04, ACK = 0x10;

    /**
     * Sends a reset "from" {@code remote} to {@code local} at sequence {@code seq} (the receiver's
     * next expected byte, which the kernel requires of a reset): how a connection over on both sides
     * is brought to the closed state it had, its unread bytes kept.
     */
    public static void reset(SockAddr local, SockAddr remote, int seq) {
        segment(local, remote, seq, 0, 0, RST);
    }

    /**
     * Sends the FIN of {@code remote} to {@code local}: sequence {@code seq} (the receiver's next
     * expected byte), acknowledging {@code ack}, advertising {@code window} (already scaled down).
     */
    public static void send(SockAddr local, SockAddr remote, int seq, int ack, int window) {
        segment(local, remote, seq, ack, window, FIN | ACK);
    }

    private static void segment(SockAddr local, SockAddr remote, int seq, int ack, int window, int flags) {
        byte[] src = v4(remote), dst = v4(local);
        boolean ipv4 = src != null && dst != null;
        if (!ipv4) {
            src = remote.address();
            dst = local.address();
        }
        ByteBuffer tcp = ByteBuffer.allocate(20); // big-endian: network order
        tcp.putShort((short) remote.port()).putShort((short) local.port()).putInt(seq).putInt(ack)
                .put((byte) (5 << 4)).put((byte) flags).putShort((short) Math.min(window, 0xffff))
                .putShort((short) 0).putShort((short) 0);
        tcp.putShort(16, (short) checksum(src, dst, tcp.array()));
        ByteBuffer packet;
        if (ipv4) {
            packet = ByteBuffer.allocate(40);
            packet.put((byte) 0x45).put((byte) 0).putShort((short) 40).putShort((short) 0).putShort((short) 0x4000)
                    .put((byte) 64).put((byte) Sockets.IPPROTO_TCP).putShort((short) 0).put(src).put(dst); // the kernel sums it
        } else {
            packet = ByteBuffer.allocate(60);
            packet.putInt(0x6000_0000).putShort((short) 20).put((byte) Sockets.IPPROTO_TCP).put((byte) 64).put(src).put(dst);
        }
        packet.put(tcp.array());
        int family = ipv4 ? SockAddr.AF_INET : SockAddr.AF_INET6;
        try (Fd raw = Sockets.socket(family, Sockets.SOCK_RAW, Sockets.IPPROTO_RAW)) {
            Sockets.setInt(raw, Sockets.SOL_SOCKET, Sockets.SO_MARK, NetworkLock.BYPASS_MARK);
            SockAddr to = new SockAddr(family, dst, 0);
            int n = Sockets.sendTo(raw, packet.array(), 0, to);
            if (n != packet.capacity()) {
                throw new KernelException("a segment of " + remote + " to " + local + ": sent " + n + " of "
                        + packet.capacity() + " bytes");
            }
        }
    }

    /** The IPv4 address of an AF_INET address or of an IPv4-mapped IPv6 one (::ffff:a.b.c.d), else null. */
    private static byte[] v4(SockAddr a) {
        byte[] b = a.address();
        if (b.length == 4) {
            return b;
        }
        byte[] mapped = new byte[12];
        mapped[10] = mapped[11] = (byte) 0xff;
        return b.length == 16 && Arrays.equals(Arrays.copyOf(b, 12), mapped) ? Arrays.copyOfRange(b, 12, 16) : null;
    }

    /** The TCP checksum: the ones' complement sum over the pseudo-header (addresses, protocol, length) and the segment. */
    static int checksum(byte[] src, byte[] dst, byte[] segment) {
        long sum = 0;
        sum += words(src) + words(dst) + Sockets.IPPROTO_TCP + segment.length;
        sum += words(segment);
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int) (~sum & 0xffff);
    }

    private static long words(byte[] b) {
        long sum = 0;
        for (int i = 0; i < b.length; i += 2) {
            sum += ((b[i] & 0xff) << 8) | (i + 1 < b.length ? b[i + 1] & 0xff : 0);
        }
        return sum;
    }
}
