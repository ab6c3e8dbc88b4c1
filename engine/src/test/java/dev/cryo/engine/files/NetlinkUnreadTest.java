package dev.cryo.engine.files;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The refusal of a netlink socket holding unread messages says whether they answer the program's request. */
class NetlinkUnreadTest {
    private static byte[] header(int type, int flags, int seq) {
        return ByteBuffer.allocate(16).order(ByteOrder.nativeOrder()).putInt(0, 1024).putShort(4, (short) type)
                .putShort(6, (short) flags).putInt(8, seq).putInt(12, 4242).array();
    }

    @Test
    void aDumpsAnswerIsNamedAnAnswerWithItsSequence() {
        String s = NetlinkSocketHandler.unread(header(16, 2 /* NLM_F_MULTI */, 7));
        assertTrue(s.startsWith("the kernel's answer to a request it sent (message type 16, sequence 7) still unread")
                && s.contains("nor asked for again"), s);
        assertTrue(NetlinkSocketHandler.unread(header(2 /* NLMSG_ERROR */, 0, 8)).contains("answer"));
    }

    @Test
    void notificationsAreTheKernelsMessages() {
        String s = NetlinkSocketHandler.unread(header(16, 0, 0));
        assertTrue(s.startsWith("the kernel's messages (message type 16) still unread")
                && s.contains("cannot be queued again"), s);
    }
}
