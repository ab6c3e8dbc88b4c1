package dev.cryo.kernel.net;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * TCP-MD5 signature keys (RFC 2385, linux/tcp.h): what BGP daemons (BIRD, FRR, GoBGP) set on their
 * listeners and sessions with TCP_MD5SIG. sock_diag shows them ({@link SockDiag#tcpMd5Keys}); this
 * turns one shown key into the struct tcp_md5sig that TCP_MD5SIG_EXT sets again.
 */
public final class TcpMd5 {
    private TcpMd5() {}

    public static final int TCP_MD5SIG_EXT = 32;
    private static final int TCP_MD5SIG_FLAG_PREFIX = 1, SIG_SIZE = 216, KEY_MAX = 80;

    /**
     * The TCP_MD5SIG_EXT value for {@code diag} (a struct tcp_diag_md5sig) on a socket of
     * {@code socketFamily}: an IPv4 key of an IPv6 socket goes as an IPv4-mapped address, as the
     * program gave it. The key's interface binding (TCP_MD5SIG_FLAG_IFINDEX) is not shown by the kernel.
     */
    public static byte[] setsockoptValue(byte[] diag, int socketFamily) {
        ByteBuffer d = ByteBuffer.wrap(diag).order(ByteOrder.nativeOrder());
        int family = d.get(0) & 0xff, prefix = d.get(1) & 0xff, keyLen = d.getShort(2) & 0xffff;
        if (keyLen > KEY_MAX || (family != SockAddr.AF_INET && family != SockAddr.AF_INET6)) {
            throw new IllegalArgumentException("a TCP-MD5 key of family " + family + " and " + keyLen + " bytes");
        }
        ByteBuffer v = ByteBuffer.allocate(SIG_SIZE).order(ByteOrder.nativeOrder());
        if (socketFamily == SockAddr.AF_INET6) {
            v.putShort(0, (short) SockAddr.AF_INET6);
            if (family == SockAddr.AF_INET) { // ::ffff:a.b.c.d
                v.put(8 + 10, (byte) 0xff).put(8 + 11, (byte) 0xff).put(8 + 12, diag, 4, 4);
            } else {
                v.put(8, diag, 4, 16);
            }
        } else {
            v.putShort(0, (short) SockAddr.AF_INET).put(4, diag, 4, 4);
        }
        v.put(128, (byte) TCP_MD5SIG_FLAG_PREFIX).put(129, (byte) prefix).putShort(130, (short) keyLen);
        v.put(136, diag, 20, keyLen);
        return v.array();
    }

    /** "ADDRESS/PREFIX" of a TCP_MD5SIG_EXT value (never its key: {@code cryo show} prints this). */
    public static String describe(byte[] value) {
        ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.nativeOrder());
        boolean v6 = v.getShort(0) == SockAddr.AF_INET6;
        byte[] a = v6 ? Arrays.copyOfRange(value, 8, 24) : Arrays.copyOfRange(value, 4, 8);
        try {
            return InetAddress.getByAddress(a).getHostAddress() + "/" + (v.get(129) & 0xff);
        } catch (UnknownHostException e) {
            return "?";
        }
    }
}
