package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The reuseport groups of this process's own sockets (place, program), read by cryo's BPF iterator. */
class ReuseportGroupsTest {
    /** A classic program of {@code n} instructions returning the CPU (ld #cpu; ...; ret a). */
    private static byte[] classic(int n) {
        ByteBuffer b = ByteBuffer.allocate(n * Sockets.BPF_INSN).order(ByteOrder.nativeOrder());
        b.putShort((short) 0x20).put((byte) 0).put((byte) 0).putInt(0xfffff000 + 36); // BPF_LD|W|ABS SKF_AD_CPU
        for (int i = 1; i < n - 1; i++) {
            b.putShort((short) 0x04).put((byte) 0).put((byte) 0).putInt(0); // BPF_ALU|ADD|K 0
        }
        b.putShort((short) 0x16).put((byte) 0).put((byte) 0).putInt(0); // BPF_RET|A
        return b.array();
    }

    private static Fd reuseport(int port) {
        Fd s = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0);
        Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT, 1);
        Sockets.bindInet(s, SockAddr.inet(InetAddress.getLoopbackAddress(), port));
        return s;
    }

    @Test
    void aClassicProgramOfAGroupComesBackWholeForEverySocketOfTheGroup() throws Exception {
        int pid = (int) ProcessHandle.current().pid();
        try (Fd a = reuseport(0)) {
            int port = Sockets.sockName(a).port();
            try (Fd b = reuseport(port); Fd plain = reuseport(0)) {
                for (int n : new int[] {2, 9, 200}) { // in one 64-byte chunk, across two, many
                    byte[] prog = classic(n);
                    Sockets.attachReuseportFilter(a, prog);
                    Map<Integer, ReuseportGroups.Member> got = ReuseportGroups.of(pid);
                    for (Fd s : new Fd[] {a, b}) {
                        ReuseportGroups.Member at = got.get(s.value());
                        assertNotNull(at.program(), "fd " + s.value() + " of " + got);
                        assertArrayEquals(prog, at.program().classic(), n + " instructions");
                    }
                    assertNull(got.get(plain.value()).program(), got.toString()); // a group of its own, no program
                }
            }
        }
    }

    /** The kernel picks a member by its index in the group, which is the order of the binds, not of the fds. */
    @Test
    void eachMembersIndexIsItsPlaceInTheGroupInTheOrderTheyWereBound() {
        int pid = (int) ProcessHandle.current().pid();
        Fd[] s = new Fd[4];
        for (int i = 0; i < s.length; i++) {
            s[i] = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_DGRAM, 0);
            Sockets.setInt(s[i], Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT, 1);
        }
        try {
            Sockets.bindInet(s[3], SockAddr.inet(InetAddress.getLoopbackAddress(), 0));
            int port = Sockets.sockName(s[3]).port();
            for (int i = 2; i >= 0; i--) {
                Sockets.bindInet(s[i], SockAddr.inet(InetAddress.getLoopbackAddress(), port));
            }
            Map<Integer, ReuseportGroups.Member> got = ReuseportGroups.of(pid);
            for (int i = 0; i < s.length; i++) {
                ReuseportGroups.Member m = got.get(s[i].value());
                assertEquals(3 - i, m.index(), "fd " + s[i].value() + " of " + got);
                assertEquals(4, m.members());
                assertEquals(got.get(s[0].value()).group(), m.group());
                assertNull(m.program());
            }
        } finally {
            for (Fd x : s) {
                x.close();
            }
        }
    }

    /**
     * An MPTCP listener's group is its first TCP subflow's (mptcp_sock->first), which the iterator
     * follows from the file: the members' places are the order they listened in, as TCP's.
     */
    @Test
    void anMptcpListenersIndexIsItsFirstSubflowsPlaceInTheGroup() {
        Fd[] s = new Fd[3];
        try {
            for (int i = 0; i < s.length; i++) {
                s[i] = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, Sockets.IPPROTO_MPTCP);
                Sockets.setInt(s[i], Sockets.SOL_SOCKET, Sockets.SO_REUSEPORT, 1);
            }
        } catch (dev.cryo.kernel.SyscallException e) {
            org.junit.jupiter.api.Assumptions.assumeTrue(false, "this kernel makes no MPTCP sockets: " + e.getMessage());
        }
        try {
            Sockets.bindInet(s[0], SockAddr.inet(InetAddress.getLoopbackAddress(), 0));
            int port = Sockets.sockName(s[0]).port();
            for (int i = 1; i < s.length; i++) {
                Sockets.bindInet(s[i], SockAddr.inet(InetAddress.getLoopbackAddress(), port));
            }
            for (int i = s.length - 1; i >= 0; i--) {
                Sockets.listen(s[i], 4);
            }
            Map<Integer, ReuseportGroups.Member> got = ReuseportGroups.of((int) ProcessHandle.current().pid());
            for (int i = 0; i < s.length; i++) {
                ReuseportGroups.Member m = got.get(s[i].value());
                assertNotNull(m, "fd " + s[i].value() + " of " + got);
                assertEquals(s.length - 1 - i, m.index(), "fd " + s[i].value() + " of " + got);
                assertEquals(s.length, m.members());
                assertEquals(got.get(s[0].value()).group(), m.group());
            }
        } finally {
            for (Fd x : s) {
                if (x != null) {
                    x.close();
                }
            }
        }
    }
}
