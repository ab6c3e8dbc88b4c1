package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The reuseport programs of this process's own sockets, read by cryo's BPF iterator. */
class ReuseportProgramsTest {
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
                    Map<Integer, ReuseportPrograms.Attached> got = ReuseportPrograms.of(pid);
                    for (Fd s : new Fd[] {a, b}) {
                        ReuseportPrograms.Attached at = got.get(s.value());
                        assertNotNull(at, "fd " + s.value() + " of " + got);
                        assertArrayEquals(prog, at.classic(), n + " instructions");
                    }
                    assertFalse(got.containsKey(plain.value()), got.toString());
                }
            }
        }
    }
}
