package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.NfTablesAbi.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One nf_tables rule: its expressions in order, the way the kernel runs them (loads into registers,
 * comparisons that end the rule when they fail, a set lookup, a verdict).
 */
public final class NfRule {
    private final List<Consumer<NetlinkWriter>> exprs = new ArrayList<>();

    /** Loads meta key {@code key} (NFT_META_*) into register {@code dreg}. */
    public NfRule meta(int key, int dreg) {
        return expr("meta", w -> {
            w.be32(NFTA_META_DREG, dreg);
            w.be32(NFTA_META_KEY, key);
        });
    }

    /** Goes on only if register {@code sreg} holds {@code value} (as the register holds it: packet bytes, or a host-order number). */
    public NfRule cmpEq(int sreg, byte[] value) {
        return expr("cmp", w -> {
            w.be32(NFTA_CMP_SREG, sreg);
            w.be32(NFTA_CMP_OP, NFT_CMP_EQ);
            data(w, NFTA_CMP_DATA, value);
        });
    }

    /** Loads {@code len} bytes at {@code offset} of header {@code base} (NFT_PAYLOAD_*) into register {@code dreg}. */
    public NfRule payload(int base, int offset, int len, int dreg) {
        return expr("payload", w -> {
            w.be32(NFTA_PAYLOAD_DREG, dreg);
            w.be32(NFTA_PAYLOAD_BASE, base);
            w.be32(NFTA_PAYLOAD_OFFSET, offset);
            w.be32(NFTA_PAYLOAD_LEN, len);
        });
    }

    /** Register {@code reg} becomes (reg &amp; mask) ^ xor. */
    public NfRule bitwise(int reg, byte[] mask, byte[] xor) {
        return expr("bitwise", w -> {
            w.be32(NFTA_BITWISE_SREG, reg);
            w.be32(NFTA_BITWISE_DREG, reg);
            w.be32(NFTA_BITWISE_LEN, mask.length);
            data(w, NFTA_BITWISE_MASK, mask);
            data(w, NFTA_BITWISE_XOR, xor);
        });
    }

    /** Goes on only if the key starting at register {@code sreg} is in set {@code set} (made in the same batch with id {@code setId}). */
    public NfRule lookup(String set, int setId, int sreg) {
        return expr("lookup", w -> {
            w.string(NFTA_LOOKUP_SET, set);
            w.be32(NFTA_LOOKUP_SREG, sreg);
            w.be32(NFTA_LOOKUP_SET_ID, setId);
        });
    }

    /** Sends the packet to nfnetlink_log group {@code group}, {@code snaplen} bytes of it, in batches of {@code threshold}. */
    public NfRule log(int group, int snaplen, int threshold) {
        return expr("log", w -> {
            w.be16(NFTA_LOG_GROUP, group);
            w.be32(NFTA_LOG_SNAPLEN, snaplen);
            w.be16(NFTA_LOG_QTHRESHOLD, threshold);
        });
    }

    /** Ends the rule with verdict {@code code} (NF_DROP, NF_ACCEPT). */
    public NfRule verdict(int code) {
        return expr("immediate", w -> {
            w.be32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
            int d = w.nest(NFTA_IMMEDIATE_DATA);
            int v = w.nest(NFTA_DATA_VERDICT);
            w.be32(NFTA_VERDICT_CODE, code);
            w.close(v);
            w.close(d);
        });
    }

    /** Goes on only if the packet's meta key {@code key} is the one-byte {@code value} (a protocol number). */
    public NfRule metaIs(int key, int value) {
        return meta(key, NFT_REG_1).cmpEq(NFT_REG_1, new byte[] {(byte) value});
    }

    /** Goes on only if the packet's mark is {@code mark}. */
    public NfRule markIs(int mark) {
        return meta(NFT_META_MARK, NFT_REG_1).cmpEq(NFT_REG_1,
                ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(mark).array());
    }

    /** Goes on only if {@code value} is at {@code offset} of header {@code base}. */
    public NfRule payloadIs(int base, int offset, byte[] value) {
        return payload(base, offset, value.length, NFT_REG_1).cmpEq(NFT_REG_1, value);
    }

    void writeTo(NetlinkWriter w) {
        for (Consumer<NetlinkWriter> e : exprs) {
            e.accept(w);
        }
    }

    private NfRule expr(String name, Consumer<NetlinkWriter> data) {
        exprs.add(w -> {
            int elem = w.nest(NFTA_LIST_ELEM);
            w.string(NFTA_EXPR_NAME, name);
            int d = w.nest(NFTA_EXPR_DATA);
            data.accept(w);
            w.close(d);
            w.close(elem);
        });
        return this;
    }

    private static void data(NetlinkWriter w, int type, byte[] value) {
        int n = w.nest(type);
        w.bytes(NFTA_DATA_VALUE, value);
        w.close(n);
    }
}
