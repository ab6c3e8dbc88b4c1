package dev.cryo.kernel.net;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.SyscallException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Moves a network device of the caller's net namespace into another one under a new name and a chosen ifindex
 * (rtnetlink's RTM_NEWLINK with IFLA_NET_NS_PID, IFLA_IFNAME and IFLA_NEW_IFINDEX, Linux 5.13; the ip program
 * cannot name the index): the programs of a restored namespace hold ifindexes, so a device a restore is given
 * (CRIU's --external netdev[]) must come in under the one dumped.
 */
public final class LinkMove {
    private LinkMove() {}

    /** Moves device {@code index} of this net namespace into that of task {@code pid} as {@code name}, ifindex {@code newIndex}. */
    public static void moveIn(int index, int pid, String name, int newIndex) {
        byte[] n = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        int len = 16 + 16 + 8 + align(4 + n.length) + 8;
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.nativeOrder());
        b.putInt(len).putShort((short) Sockets.RTM_NEWLINK).putShort((short) (Sockets.NLM_F_REQUEST | Sockets.NLM_F_ACK))
                .putInt(1).putInt(0);
        b.put((byte) 0).put((byte) 0).putShort((short) 0).putInt(index).putInt(0).putInt(0); // struct ifinfomsg
        b.putShort((short) 8).putShort((short) Sockets.IFLA_NET_NS_PID).putInt(pid);
        b.putShort((short) (4 + n.length)).putShort((short) Sockets.IFLA_IFNAME).put(n);
        b.position(b.position() + align(4 + n.length) - (4 + n.length));
        b.putShort((short) 8).putShort((short) Sockets.IFLA_NEW_IFINDEX).putInt(newIndex);
        String what = "move device " + index + " into pid " + pid + "'s net namespace as " + name + " (ifindex " + newIndex + ")";
        try (Fd nl = Sockets.socket(SockAddr.AF_NETLINK, Sockets.SOCK_RAW, Sockets.NETLINK_ROUTE)) {
            Sockets.setBytes(nl, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, ByteBuffer.allocate(16)
                    .order(ByteOrder.nativeOrder()).putLong(30).putLong(0).array());
            Sockets.sendTo(nl, b.array(), 0, SockAddr.netlink(0, 0));
            byte[] answer = Sockets.recv(nl, 8192, 0);
            if (answer == null) {
                throw new KernelException("could not " + what + ": rtnetlink did not answer within 30 s");
            }
            ByteBuffer a = ByteBuffer.wrap(answer).order(ByteOrder.nativeOrder());
            if (answer.length < 20 || (a.getShort(4) & 0xffff) != Sockets.NLMSG_ERROR) {
                throw new KernelException("could not " + what + ": unexpected rtnetlink answer of " + answer.length + " bytes");
            }
            int errno = -a.getInt(16);
            if (errno != 0) {
                throw new KernelException("could not " + what + ": " + Errno.describe(errno));
            }
        } catch (SyscallException e) {
            throw new KernelException("could not " + what + ": " + e.getMessage(), e);
        }
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }
}
