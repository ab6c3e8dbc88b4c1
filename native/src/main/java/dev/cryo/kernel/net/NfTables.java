package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.NfTablesAbi.*;
import static dev.cryo.kernel.net.Sockets.NLMSGERR_ATTR_MSG;
import static dev.cryo.kernel.net.Sockets.NLMSG_DONE;
import static dev.cryo.kernel.net.Sockets.NLMSG_ERROR;
import static dev.cryo.kernel.net.Sockets.NLM_F_ACK;
import static dev.cryo.kernel.net.Sockets.NLM_F_ACK_TLVS;
import static dev.cryo.kernel.net.Sockets.NLM_F_CAPPED;
import static dev.cryo.kernel.net.Sockets.NLM_F_DUMP;
import static dev.cryo.kernel.net.Sockets.NLM_F_REQUEST;

import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.SyscallException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A client of nf_tables over NETLINK_NETFILTER, in the network namespace of the thread that opens it
 * (what the nft program does through libnftables, without starting a program: ~0.1 s each here).
 */
public final class NfTables implements AutoCloseable {
    private static final int ANSWER_TIMEOUT_SECONDS = 30, MAX_ANSWER = 1 << 16;

    private final Fd nl;

    private NfTables(Fd nl) {
        this.nl = nl;
    }

    /** A socket whose refusals come with the kernel's explanation and without the refused message echoed. */
    public static NfTables open() {
        Fd nl = Sockets.socket(SockAddr.AF_NETLINK, Sockets.SOCK_RAW, Sockets.NETLINK_NETFILTER);
        try {
            Sockets.setInt(nl, Sockets.SOL_NETLINK, Sockets.NETLINK_EXT_ACK, 1);
            Sockets.setInt(nl, Sockets.SOL_NETLINK, Sockets.NETLINK_CAP_ACK, 1);
            Sockets.setBytes(nl, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, ByteBuffer.allocate(16)
                    .order(ByteOrder.nativeOrder()).putLong(ANSWER_TIMEOUT_SECONDS).putLong(0).array());
            return new NfTables(nl);
        } catch (RuntimeException e) {
            nl.close();
            throw e;
        }
    }

    /**
     * Applies {@code batch} as one transaction; throws, naming the message the kernel refused, its errno
     * and the kernel's explanation, when it applied none of it. {@code what}: "install the network lock X".
     */
    public void commit(NfBatch batch, String what) {
        byte[] msg = batch.finish();
        if (msg.length > 100_000) { // a netlink message must fit the send buffer (a lock of thousands of flows)
            try {
                Sockets.setInt(nl, Sockets.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, msg.length + (64 << 10));
            } catch (SyscallException e) {
                Sockets.setInt(nl, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, msg.length + (64 << 10));
            }
        }
        send(msg, "could not " + what);
        // the answers: one per refused message, then the last message's (its acknowledgement or its
        // refusal), or one for the batch as a whole (seq 0) when the kernel took none of it
        int last = batch.count();
        List<String> refused = new ArrayList<>();
        boolean done = false, overflowed = false;
        while (!done) {
            List<Answer> answers;
            try {
                answers = receive("could not " + what, !overflowed);
            } catch (KernelException e) {
                if (e.getCause() instanceof SyscallException x && x.errno() == Errno.ENOBUFS) {
                    // only refusals fill the receive buffer (a batch taken has one answer): what it holds are the first
                    overflowed = true;
                    continue;
                }
                throw e;
            }
            if (answers == null) { // the first refusals are read, the others were lost
                break;
            }
            for (Answer a : answers) {
                if (a.type() != NLMSG_ERROR || a.seq() < 0 || a.seq() > last) {
                    continue;
                }
                if (a.errno() != 0) {
                    refused.add(batch.describe(a.seq()) + ": " + a.describe());
                }
                done |= a.seq() == last || a.seq() == 0;
            }
        }
        if (!refused.isEmpty() || overflowed) {
            int shown = Math.min(refused.size(), 4);
            throw new KernelException("could not " + what + ": nf_tables refused "
                    + (refused.isEmpty() ? batch.describe(0) : refused.get(0))
                    + (refused.size() > 1 ? " (and " + (refused.size() - 1) + " more: " + String.join("; ",
                    refused.subList(1, shown)) + (shown < refused.size() ? "; ..." : "") + ")" : "")
                    + (overflowed ? ", and more messages whose refusals overflowed the socket's receive buffer" : "")
                    + "; nothing was changed");
        }
    }

    /** Whether table {@code name} of {@code family} (NFPROTO_*) exists. */
    public boolean hasTable(int family, String name) {
        NetlinkWriter w = new NetlinkWriter();
        int m = w.message(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_ACK, 1, family, 0);
        w.string(NFTA_TABLE_NAME, name);
        w.end(m);
        String what = "could not read nftables table " + name;
        send(w.toArray(), what);
        for (int rounds = 0; rounds < 1000; rounds++) {
            for (Answer a : receive(what)) {
                if (a.type() == NLMSG_ERROR && a.seq() == 1) {
                    if (a.errno() == Errno.ENOENT) {
                        return false;
                    }
                    if (a.errno() != 0) {
                        throw new KernelException(what + ": nf_tables refused NFT_MSG_GETTABLE: " + a.describe());
                    }
                    return true;
                }
            }
        }
        throw new KernelException(what + ": nf_tables does not end its answer");
    }

    /**
     * The generation of the namespace's ruleset: a new one with every committed change (a table, a chain, a rule,
     * a set element added by nft or iptables-nft), not with what packets change (counters, dynamic sets).
     */
    public long generation() {
        NetlinkWriter w = new NetlinkWriter();
        w.end(w.message(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN, NLM_F_REQUEST, 1, NFPROTO_UNSPEC, 0));
        String what = "could not read the nftables generation";
        send(w.toArray(), what);
        for (int rounds = 0; rounds < 1000; rounds++) {
            for (Answer a : receive(what)) {
                if (a.seq() != 1) {
                    continue;
                }
                if (a.type() == NLMSG_ERROR) {
                    throw new KernelException(what + ": nf_tables refused NFT_MSG_GETGEN: " + a.describe());
                }
                if (a.type() == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN)) {
                    for (SockDiag.Attr t : SockDiag.attrs(a.body(), 4)) {
                        if (t.type() == NFTA_GEN_ID) {
                            return ByteBuffer.wrap(t.bytes()).getInt() & 0xffffffffL;
                        }
                    }
                }
            }
        }
        throw new KernelException(what + ": nf_tables gave no generation");
    }

    /** The names of the tables of {@code family} (NFPROTO_*). */
    public List<String> tables(int family) {
        NetlinkWriter w = new NetlinkWriter();
        w.end(w.message(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_DUMP, 1, family, 0));
        List<String> out = new ArrayList<>();
        for (ByteBuffer body : dump(w.toArray(), "could not list the nftables tables", "nf_tables refused NFT_MSG_GETTABLE")) {
            for (SockDiag.Attr t : SockDiag.attrs(body, 4)) {
                if (t.type() == NFTA_TABLE_NAME) {
                    out.add(string(t.bytes()));
                }
            }
        }
        return out;
    }

    /**
     * The bodies (after the netlink header) of the messages answering the dump request {@code request} (sequence
     * number 1), up to its end; throws with {@code what}, {@code refused} ("nf_tables refused NFT_MSG_GETTABLE"), the
     * kernel's errno and explanation when it refuses it.
     */
    List<ByteBuffer> dump(byte[] request, String what, String refused) {
        send(request, what);
        List<ByteBuffer> out = new ArrayList<>();
        for (int rounds = 0; rounds < 1_000_000; rounds++) {
            for (Answer a : receive(what)) {
                if (a.seq() != 1) {
                    continue;
                }
                if (a.type() == NLMSG_DONE) {
                    return out;
                }
                if (a.type() == NLMSG_ERROR) {
                    throw new KernelException(what + ": " + refused + ": " + a.describe());
                }
                out.add(a.body());
            }
        }
        throw new KernelException(what + ": " + refused.split(" ")[0] + " does not end its answer");
    }

    /**
     * Sends {@code requests} ({@code count} messages numbered 1 to count, each asking for an acknowledgement) in one
     * datagram and waits for every answer: the refused ones by sequence number, each with the kernel's errno and
     * explanation ("EEXIST (File exists) \"...\"").
     */
    java.util.Map<Integer, String> ask(byte[] requests, int count, String what) {
        send(requests, what);
        java.util.Map<Integer, String> refused = new java.util.TreeMap<>();
        java.util.Set<Integer> answered = new java.util.HashSet<>();
        while (answered.size() < count) { // receive() gives up when the kernel stays silent
            for (Answer a : receive(what)) {
                if (a.type() == NLMSG_ERROR && a.seq() >= 1 && a.seq() <= count && answered.add(a.seq()) && a.errno() != 0) {
                    refused.put(a.seq(), a.describe());
                }
            }
        }
        return refused;
    }

    private static volatile String unavailable;
    private static volatile boolean probed;

    /** Null when the kernel speaks nf_tables, else why not (probed once: CONFIG_NF_TABLES, the module). */
    public static String unavailable() {
        if (!probed) {
            String why = null;
            try (NfTables t = open()) {
                NetlinkWriter w = new NetlinkWriter();
                w.end(w.message(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN, NLM_F_REQUEST | NLM_F_ACK, 1, NFPROTO_UNSPEC, 0));
                t.send(w.toArray(), "nf_tables");
                boolean done = false;
                for (int rounds = 0; rounds < 1000 && !done; rounds++) {
                    for (Answer a : t.receive("nf_tables")) {
                        if (a.type() == NLMSG_ERROR && a.seq() == 1) {
                            done = true;
                            if (a.errno() != 0) {
                                why = "the kernel refused nf_tables' NFT_MSG_GETGEN: " + a.describe();
                            }
                        }
                    }
                }
            } catch (KernelException e) {
                why = e.getMessage();
            }
            unavailable = why;
            probed = true;
        }
        return unavailable;
    }

    /** One message of the kernel's: its kind, sequence number, body (after the netlink header), errno of an error answer. */
    private record Answer(int type, int seq, ByteBuffer body, int errno, String explanation) {
        String describe() {
            return Errno.describe(errno) + (explanation == null || explanation.isEmpty() ? "" : " \"" + explanation + "\"");
        }
    }

    private void send(byte[] msg, String what) {
        try {
            Sockets.sendTo(nl, msg, 0, SockAddr.netlink(0, 0));
        } catch (SyscallException e) {
            throw new KernelException(what + ": " + e.getMessage(), e);
        }
    }

    /** The messages of the next datagram. */
    private List<Answer> receive(String what) {
        return receive(what, true);
    }

    /** The messages of the next datagram; null if {@code wait} is false and none is there. */
    private List<Answer> receive(String what, boolean wait) {
        byte[] d;
        try {
            d = Sockets.recv(nl, MAX_ANSWER, wait ? 0 : Sockets.MSG_DONTWAIT);
        } catch (SyscallException e) {
            throw new KernelException(what + ": " + e.getMessage(), e);
        }
        if (d == null && !wait) {
            return null;
        }
        if (d == null) {
            throw new KernelException(what + ": nf_tables did not answer within " + ANSWER_TIMEOUT_SECONDS + " s");
        }
        ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.nativeOrder());
        List<Answer> out = new ArrayList<>();
        int off = 0;
        while (off + 16 <= d.length) {
            int len = b.getInt(off);
            if (len < 16 || off + len > d.length) {
                throw new KernelException(what + ": malformed netlink answer of " + len + " bytes");
            }
            int type = b.getShort(off + 4) & 0xffff, flags = b.getShort(off + 6) & 0xffff, seq = b.getInt(off + 8);
            ByteBuffer body = ByteBuffer.wrap(d, off + 16, len - 16).slice().order(ByteOrder.nativeOrder());
            int errno = 0;
            String explanation = null;
            if (type == NLMSG_ERROR && len >= 36) {
                errno = -b.getInt(off + 16);
                seq = b.getInt(off + 28); // the answered message's
                if ((flags & NLM_F_ACK_TLVS) != 0) {
                    int tlvs = 20 + ((flags & NLM_F_CAPPED) != 0 ? 16 : (b.getInt(off + 20) + 3) & ~3);
                    ByteBuffer rest = ByteBuffer.wrap(d, off, len).slice().order(ByteOrder.nativeOrder());
                    if (tlvs <= len) {
                        for (SockDiag.Attr t : SockDiag.attrs(rest, tlvs)) {
                            if (t.type() == NLMSGERR_ATTR_MSG) {
                                explanation = string(t.bytes());
                            }
                        }
                    }
                }
            }
            out.add(new Answer(type, seq, body, errno, explanation));
            off += (len + 3) & ~3;
        }
        return out;
    }

    private static String string(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        nl.close();
    }
}
