package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ReceiveQueuesTest {
    /** Messages are counted, an empty one too (SIOCINQ counts bytes: it says 0 for it), and nothing is received. */
    @Test
    void countsTheMessagesQueuedEmptyOnesToo() {
        Fd[] pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_SEQPACKET);
        try {
            assertEquals(0, ReceiveQueues.messages(pair[0]));
            Sockets.send(pair[1], new byte[0], 0);
            assertEquals(1, ReceiveQueues.messages(pair[0]));
            Sockets.send(pair[1], new byte[] {1, 2}, 0);
            assertEquals(2, ReceiveQueues.messages(pair[0]));
            assertEquals(0, ReceiveQueues.messages(pair[1]));
            assertEquals(2, ReceiveQueues.messages(pair[0]), "a count took a message");
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }
}
