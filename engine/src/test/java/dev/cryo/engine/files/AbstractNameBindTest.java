package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A restored socket gets its abstract name once the kernel frees the dumped socket holding it, real sockets. */
class AbstractNameBindTest {
    private static SockAddr name(String what) {
        return SockAddr.unix(("\0cryo-test-" + what + "-" + ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8));
    }

    private static long ino(Fd s) throws Exception {
        String link = Files.readSymbolicLink(Path.of("/proc/self/fd/" + s.value())).toString();
        return Long.parseLong(link.substring(8, link.length() - 1));
    }

    /** zdtm's scm06: each end of a pair in flight in the other's queue, their fds closed: only the collector frees them. */
    @Test
    void aNameHeldByASocketInFlightInALoopIsBoundOnceTheKernelFreesIt() throws Exception {
        SockAddr name = name("loop");
        Fd[] pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM);
        Sockets.bind(pair[0], name);
        long dumped = ino(pair[0]);
        Sockets.sendFds(pair[0], List.of(pair[1]), null);
        Sockets.sendFds(pair[1], List.of(pair[0]), null);
        pair[0].close();
        pair[1].close();
        try (Fd s = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0)) {
            assertTrue(AbstractNameBind.bind(s, name, Sockets.SOCK_DGRAM, dumped));
            assertEquals(name, Sockets.sockName(s));
        }
    }

    /** A name another live socket holds is not waited for: the caller decides (a listener's name an accepted end repeats). */
    @Test
    void aNameAnotherSocketHoldsIsNotTaken() throws Exception {
        SockAddr name = name("other");
        try (Fd holder = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0);
             Fd s = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0)) {
            Sockets.bind(holder, name);
            assertFalse(AbstractNameBind.bind(s, name, Sockets.SOCK_DGRAM, ino(holder) + 1));
            assertTrue(Sockets.sockName(s).isUnbound());
        }
    }
}
