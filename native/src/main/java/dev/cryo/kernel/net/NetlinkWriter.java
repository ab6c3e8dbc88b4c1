package dev.cryo.kernel.net;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Builds netfilter netlink messages: the netlink header and nfgenmsg, then attributes, nested ones
 * too, each padded to 4 bytes. Headers are in host order, integer values big-endian as nf_tables reads them.
 */
final class NetlinkWriter {
    private ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.nativeOrder());

    /** Starts a message; {@link #end} sets its length. Returns where it starts. */
    int message(int type, int flags, int seq, int family, int resId) {
        room(20);
        int start = b.position();
        b.putInt(0).putShort((short) type).putShort((short) flags).putInt(seq).putInt(0);
        b.put((byte) family).put((byte) NfTablesAbi.NFNETLINK_V0).order(ByteOrder.BIG_ENDIAN).putShort((short) resId)
                .order(ByteOrder.nativeOrder());
        return start;
    }

    /** Adds request flags to the message starting at {@code message}. */
    void addFlags(int message, int flags) {
        b.putShort(message + 6, (short) (b.getShort(message + 6) | flags));
    }

    void end(int message) {
        b.putInt(message, b.position() - message);
    }

    /** A NUL-terminated string. */
    void string(int type, String s) {
        byte[] v = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[v.length + 1];
        System.arraycopy(v, 0, z, 0, v.length);
        bytes(type, z);
    }

    void be32(int type, int v) {
        bytes(type, ByteBuffer.allocate(4).putInt(v).array());
    }

    void be16(int type, int v) {
        bytes(type, ByteBuffer.allocate(2).putShort((short) v).array());
    }

    void bytes(int type, byte[] v) {
        room(4 + v.length + 3);
        b.putShort((short) (4 + v.length)).putShort((short) type).put(v);
        pad();
    }

    /** Starts a nested attribute; {@link #close} sets its length. */
    int nest(int type) {
        room(4);
        int at = b.position();
        b.putShort((short) 0).putShort((short) (type | NfTablesAbi.NLA_F_NESTED));
        return at;
    }

    void close(int nest) {
        int len = b.position() - nest;
        if (len > 0xffff) {
            throw new IllegalStateException("a netlink attribute of " + len + " bytes (at most 65535)");
        }
        b.putShort(nest, (short) len);
    }

    int size() {
        return b.position();
    }

    byte[] toArray() {
        byte[] out = new byte[b.position()];
        b.duplicate().flip().get(out);
        return out;
    }

    private void pad() {
        while ((b.position() & 3) != 0) {
            b.put((byte) 0);
        }
    }

    private void room(int n) {
        if (b.remaining() < n) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(2 * b.capacity(), b.position() + n)).order(ByteOrder.nativeOrder());
            bigger.put(b.flip());
            b = bigger;
        }
    }
}
