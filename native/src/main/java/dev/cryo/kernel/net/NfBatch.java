package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.NfTablesAbi.*;
import static dev.cryo.kernel.net.Sockets.NLM_F_ACK;
import static dev.cryo.kernel.net.Sockets.NLM_F_APPEND;
import static dev.cryo.kernel.net.Sockets.NLM_F_CREATE;
import static dev.cryo.kernel.net.Sockets.NLM_F_REQUEST;

import java.util.ArrayList;
import java.util.List;

/**
 * One nf_tables transaction of an inet table's changes: the kernel applies all its messages or none.
 * The kernel answers every refused message, and the last one asks for an acknowledgement: its answer
 * ends the transaction's (an acknowledgement of each message overflowed the socket's receive buffer
 * at ~1000 messages, which lost answers of a lock the kernel had taken).
 */
public final class NfBatch {
    /** Set elements per message: an attribute holds at most 64 KiB, an IPv6 flow element takes 52 bytes. */
    private static final int ELEMENTS_PER_MESSAGE = 512;

    private final NetlinkWriter w = new NetlinkWriter();
    /** What each message does, by sequence number - 1, for the kernel's complaints. */
    private final List<String> messages = new ArrayList<>();
    /** Where the last message starts. */
    private int last = -1;

    public NfBatch() {
        w.end(w.message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES));
    }

    public NfBatch newTable(String table) {
        int m = start(NFT_MSG_NEWTABLE, NLM_F_CREATE, "NFT_MSG_NEWTABLE inet " + table);
        w.string(NFTA_TABLE_NAME, table);
        w.end(m);
        return this;
    }

    public NfBatch delTable(String table) {
        int m = start(NFT_MSG_DELTABLE, 0, "NFT_MSG_DELTABLE inet " + table);
        w.string(NFTA_TABLE_NAME, table);
        w.end(m);
        return this;
    }

    /** A filter chain on {@code hook} (NF_INET_*) at {@code priority}, accepting what its rules do not drop. */
    public NfBatch newChain(String table, String chain, int hook, int priority) {
        int m = start(NFT_MSG_NEWCHAIN, NLM_F_CREATE, "NFT_MSG_NEWCHAIN " + chain + " of table inet " + table);
        w.string(NFTA_CHAIN_TABLE, table);
        w.string(NFTA_CHAIN_NAME, chain);
        int h = w.nest(NFTA_CHAIN_HOOK);
        w.be32(NFTA_HOOK_HOOKNUM, hook);
        w.be32(NFTA_HOOK_PRIORITY, priority);
        w.close(h);
        w.be32(NFTA_CHAIN_POLICY, NF_ACCEPT);
        w.string(NFTA_CHAIN_TYPE, "filter");
        w.end(m);
        return this;
    }

    /** A hash set of keys of {@code keyLen} bytes; {@code keyType} is what nft prints them as (NFT_TYPE_*). */
    public NfBatch newSet(String table, String set, int id, int keyType, int keyLen) {
        int m = start(NFT_MSG_NEWSET, NLM_F_CREATE, "NFT_MSG_NEWSET " + set + " of table inet " + table);
        w.string(NFTA_SET_TABLE, table);
        w.string(NFTA_SET_NAME, set);
        w.be32(NFTA_SET_FLAGS, 0);
        w.be32(NFTA_SET_KEY_TYPE, keyType);
        w.be32(NFTA_SET_KEY_LEN, keyLen);
        w.be32(NFTA_SET_ID, id);
        w.end(m);
        return this;
    }

    public NfBatch newElements(String table, String set, int id, List<byte[]> keys) {
        for (int from = 0; from < keys.size(); from += ELEMENTS_PER_MESSAGE) {
            List<byte[]> part = keys.subList(from, Math.min(keys.size(), from + ELEMENTS_PER_MESSAGE));
            int m = start(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "NFT_MSG_NEWSETELEM " + part.size() + " elements of set "
                    + set + " of table inet " + table);
            w.string(NFTA_SET_ELEM_LIST_TABLE, table);
            w.string(NFTA_SET_ELEM_LIST_SET, set);
            w.be32(NFTA_SET_ELEM_LIST_SET_ID, id);
            int list = w.nest(NFTA_SET_ELEM_LIST_ELEMENTS);
            for (byte[] k : part) {
                int e = w.nest(NFTA_LIST_ELEM);
                int key = w.nest(NFTA_SET_ELEM_KEY);
                w.bytes(NFTA_DATA_VALUE, k);
                w.close(key);
                w.close(e);
            }
            w.close(list);
            w.end(m);
        }
        return this;
    }

    /** Appends {@code rule} to {@code chain}. */
    public NfBatch newRule(String table, String chain, NfRule rule) {
        int m = start(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "NFT_MSG_NEWRULE in chain " + chain
                + " of table inet " + table);
        w.string(NFTA_RULE_TABLE, table);
        w.string(NFTA_RULE_CHAIN, chain);
        int e = w.nest(NFTA_RULE_EXPRESSIONS);
        rule.writeTo(w);
        w.close(e);
        w.end(m);
        return this;
    }

    /** The messages with the batch's end, to send in one datagram. */
    byte[] finish() {
        if (last < 0) {
            throw new IllegalStateException("an empty nf_tables batch");
        }
        w.addFlags(last, NLM_F_ACK);
        w.end(w.message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, messages.size() + 1, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES));
        return w.toArray();
    }

    int count() {
        return messages.size();
    }

    /** What message {@code seq} does (0: the batch as a whole). */
    String describe(int seq) {
        return seq >= 1 && seq <= messages.size() ? messages.get(seq - 1) + " (message " + seq + " of " + messages.size() + ")"
                : "the batch of " + messages.size() + " messages";
    }

    private int start(int kind, int flags, String what) {
        messages.add(what);
        last = w.message(NFNL_SUBSYS_NFTABLES << 8 | kind, NLM_F_REQUEST | flags, messages.size(), NFPROTO_INET, 0);
        return last;
    }
}
