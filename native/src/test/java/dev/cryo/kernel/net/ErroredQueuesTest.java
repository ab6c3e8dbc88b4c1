package dev.cryo.kernel.net;

import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SyscallException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ErroredQueuesTest {
    /**
     * A seqpacket end whose peer closed with a byte unread holds ECONNRESET and the messages the peer sent before:
     * they are read with their bytes (one over a 256-byte chunk, an empty one) and credentials (those the
     * sender passed), and the error is
     * still the first thing a receive gets, then the messages.
     */
    @Test
    void readsASeqpacketQueueBehindItsResetWithoutTakingIt() {
        Fd[] pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_SEQPACKET);
        byte[] big = new byte[700];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) i;
        }
        try {
            Sockets.send(pair[1], "hello".getBytes(), 0); // no credentials: neither end passes them (Linux 6.16+)
            Sockets.setInt(pair[1], Sockets.SOL_SOCKET, Sockets.SO_PASSCRED, 1);
            Sockets.send(pair[1], new byte[0], 0);
            Sockets.send(pair[1], big, 0);
            Sockets.send(pair[0], new byte[1], 0);
            pair[1].close();
            List<ErroredQueues.Queued> q = ErroredQueues.read(pair[0]);
            assertEquals(3, q.size(), q.toString());
            assertArrayEquals("hello".getBytes(), q.get(0).data());
            assertArrayEquals(new byte[0], q.get(1).data());
            assertArrayEquals(big, q.get(2).data());
            int me = (int) ProcessHandle.current().pid();
            assertTrue(q.get(0).creds().pid() == 0 || q.get(0).creds().equals(new Sockets.Ucred(me, 0, 0)), q.toString());
            for (ErroredQueues.Queued m : q) {
                if (m != q.get(0)) {
                    assertEquals(new Sockets.Ucred(me, 0, 0), m.creds());
                }
                assertFalse(m.passesFiles());
            }
            SyscallException reset = assertThrows(SyscallException.class, () -> Sockets.recv(pair[0], 10,
                    Sockets.MSG_DONTWAIT), "the reset was taken by the read");
            assertTrue(reset.getMessage().contains("ECONNRESET"), reset.getMessage());
            assertArrayEquals("hello".getBytes(), Sockets.recv(pair[0], 10, Sockets.MSG_DONTWAIT));
        } finally {
            pair[0].close();
        }
    }

    /** A datagram socket reset by its peer's disconnect: a message of its named peer comes with that name. */
    @Test
    void readsTheSendersNameOfADatagram() {
        Fd[] pair = Sockets.socketpair(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM);
        byte[] name = ("\0carry47-errq-" + ProcessHandle.current().pid()).getBytes();
        try {
            Sockets.bind(pair[1], SockAddr.unix(name));
            Sockets.send(pair[1], "from the peer".getBytes(), 0);
            Sockets.send(pair[0], new byte[1], 0);
            Sockets.disconnect(pair[1]); // its queue dropped: pair[0] gets ECONNRESET
            List<ErroredQueues.Queued> q = ErroredQueues.read(pair[0]);
            assertEquals(1, q.size(), q.toString());
            assertArrayEquals("from the peer".getBytes(), q.get(0).data());
            assertArrayEquals(name, q.get(0).from(), "the sender's name");
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }
    /**
     * A client's bytes on a connection its listener has not accepted yet wait in a socket no file holds: read through
     * the client's fd (a short message and one over a 256-byte chunk), and still there for the server once it accepts.
     */
    @Test
    void readsWhatAClientSentOnAConnectionNotAcceptedYet() {
        SockAddr name = SockAddr.unix(("\0carry51-embq-" + ProcessHandle.current().pid()).getBytes());
        byte[] big = new byte[700];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 7);
        }
        try (Fd listener = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0);
             Fd client = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0);
             Fd idle = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0)) {
            Sockets.bind(listener, name);
            Sockets.listen(listener, 4);
            Sockets.connect(idle, name);
            Sockets.connect(client, name);
            Sockets.send(client, "hello".getBytes(), 0);
            Sockets.send(client, big, 0);
            assertEquals(List.of(), ErroredQueues.notAccepted(idle), "a connection waiting with nothing sent");
            List<ErroredQueues.Queued> q = ErroredQueues.notAccepted(client);
            assertEquals(2, q.size(), q.toString());
            assertArrayEquals("hello".getBytes(), q.get(0).data());
            assertArrayEquals(big, q.get(1).data());
            try (Fd first = Sockets.accept(listener, 0); Fd accepted = Sockets.accept(listener, 0)) {
                assertArrayEquals("hello".getBytes(), Sockets.recv(accepted, 5, 0), "left for the server");
                assertEquals(List.of(), ErroredQueues.notAccepted(client), "accepted since");
            }
        }
    }

    /**
     * A listener's queue holds connections whose clients closed (one after sending, one without) beside one still
     * open: each is read at its place, with what its client sent, who connected (SO_PEERCRED and groups) and whether
     * the client has closed; a place past the queue gives null, and the server still accepts them all after.
     */
    @Test
    void readsTheConnectionsOfAListenerWhoseClientsClosed() {
        SockAddr name = SockAddr.unix(("\0carry52-embc-" + ProcessHandle.current().pid()).getBytes());
        try (Fd listener = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0);
             Fd open = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0)) {
            Sockets.bind(listener, name);
            Sockets.listen(listener, 4);
            try (Fd sent = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0)) {
                Sockets.connect(sent, name);
                Sockets.send(sent, "hello".getBytes(), 0);
                Sockets.send(sent, " again".getBytes(), 0);
            }
            Sockets.connect(open, name);
            try (Fd silent = Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_STREAM, 0)) {
                Sockets.connect(silent, name);
            }
            int me = (int) ProcessHandle.current().pid();
            ErroredQueues.Waiting first = ErroredQueues.waiting(listener, 0, 0);
            assertTrue(first.clientClosed(), first.toString());
            assertEquals(new Sockets.Ucred(me, 0, 0), first.peer());
            assertEquals(me, first.pidInside());
            assertEquals(2, first.sent().size(), first.sent().toString());
            assertArrayEquals("hello".getBytes(), first.sent().get(0).data());
            assertArrayEquals(" again".getBytes(), first.sent().get(1).data());
            assertArrayEquals(Sockets.peerGroups(open), first.groups(), "the client's groups");
            assertFalse(ErroredQueues.waiting(listener, 1, 0).clientClosed(), "a client still open");
            ErroredQueues.Waiting third = ErroredQueues.waiting(listener, 2, 1);
            assertTrue(third.clientClosed());
            assertEquals(List.of(), third.sent());
            assertEquals(0, third.pidInside(), "no pid in a pid namespace below cryo's");
            assertNull(ErroredQueues.waiting(listener, 3, 0), "past the queue");
            try (Fd a = Sockets.accept(listener, 0)) {
                assertArrayEquals("hello again".getBytes(), Sockets.recv(a, 64, 0), "left for the server");
            }
        }
    }
}
