package dev.cryo.kernel.net;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SockFieldsTest {
    /** Messages are counted, an empty one too (SIOCINQ counts bytes: it says 0 for it), and nothing is received. */
    @Test
    void countsTheMessagesQueuedEmptyOnesToo() {
        Fd[] pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_SEQPACKET);
        try {
            assertEquals(0, SockFields.QUEUED_MESSAGES.of(pair[0]));
            Sockets.send(pair[1], new byte[0], 0);
            assertEquals(1, SockFields.QUEUED_MESSAGES.of(pair[0]));
            Sockets.send(pair[1], new byte[] {1, 2}, 0);
            assertEquals(2, SockFields.QUEUED_MESSAGES.of(pair[0]));
            assertEquals(0, SockFields.QUEUED_MESSAGES.of(pair[1]));
            assertEquals(2, SockFields.QUEUED_MESSAGES.of(pair[0]), "a count took a message");
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }

    /** A refused connect's error is read and left for the program: SO_ERROR reads it after, once. */
    @Test
    void anUnreadErrorIsReadAndLeftWhereItIs() {
        try (Fd closed = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM, 0);
             Fd c = Sockets.socket(SockAddr.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_NONBLOCK, 0)) {
            Sockets.bindInet(closed, SockAddr.inet(InetAddress.getLoopbackAddress(), 0)); // bound, not listening: refuses
            assertEquals(0, SockFields.UNREAD_ERROR.of(c));
            try {
                Sockets.connect(c, Sockets.sockName(closed));
            } catch (dev.cryo.kernel.SyscallException inProgress) {
                // EINPROGRESS (or ECONNREFUSED at once): a blocking connect would have taken the error
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (SockFields.UNREAD_ERROR.of(c) == 0 && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
            assertEquals(Errno.ECONNREFUSED, SockFields.UNREAD_ERROR.of(c));
            assertEquals(Errno.ECONNREFUSED, SockFields.UNREAD_ERROR.of(c), "a read took it");
            assertEquals(Errno.ECONNREFUSED, Sockets.getInt(c, Sockets.SOL_SOCKET, Sockets.SO_ERROR));
            assertEquals(0, SockFields.UNREAD_ERROR.of(c));
        }
    }
}
