package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.ConntrackAbi.*;
import static dev.cryo.kernel.net.Sockets.NLM_F_ACK;
import static dev.cryo.kernel.net.Sockets.NLM_F_CREATE;
import static dev.cryo.kernel.net.Sockets.NLM_F_DUMP;
import static dev.cryo.kernel.net.Sockets.NLM_F_EXCL;
import static dev.cryo.kernel.net.Sockets.NLM_F_REQUEST;

import dev.cryo.kernel.KernelException;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The conntrack table of the net namespace of the calling thread, over ctnetlink (what the conntrack program
 * does): its entries and expectations read, and made again.
 */
public final class Conntrack {
    private Conntrack() {}

    /** Whether this kernel tracks connections at all (/proc/net/nf_conntrack of the thread's namespace). */
    public static boolean tracked() {
        return new java.io.File("/proc/thread-self/net/nf_conntrack").exists()
                || new java.io.File("/proc/sys/net/netfilter/nf_conntrack_max").exists();
    }

    /**
     * Every entry of the table, IPv4 then IPv6; an entry that cannot be made again throws
     * {@link ConntrackEntry.NotCarried}.
     */
    public static List<ConntrackEntry> entries() {
        List<ConntrackEntry> out = new ArrayList<>();
        try (NfTables t = NfTables.open()) {
            for (int family : List.of(NfTablesAbi.NFPROTO_IPV4, NfTablesAbi.NFPROTO_IPV6)) {
                for (ByteBuffer body : t.dump(request(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET, family),
                        "could not list the conntrack table", "ctnetlink refused IPCTNL_MSG_CT_GET")) {
                    out.add(ConntrackEntry.parse(body));
                }
            }
        }
        return out;
    }

    /**
     * The table's expectations (a helper's, waiting for a related connection), IPv4 then IPv6; one that cannot be made
     * again throws {@link ConntrackEntry.NotCarried}.
     */
    public static List<ConntrackExpectation> expectations() {
        List<ConntrackExpectation> out = new ArrayList<>();
        try (NfTables t = NfTables.open()) {
            for (int family : List.of(NfTablesAbi.NFPROTO_IPV4, NfTablesAbi.NFPROTO_IPV6)) {
                for (ByteBuffer body : t.dump(request(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_GET, family),
                        "could not list the conntrack expectations", "ctnetlink refused IPCTNL_MSG_EXP_GET")) {
                    out.add(ConntrackExpectation.parse(body));
                }
            }
        }
        return out;
    }

    /**
     * Makes {@code expectations} again, their master entries made first, one IPCTNL_MSG_EXP_NEW (create, exclusive)
     * each; throws naming the first the kernel refused, with its errno and explanation.
     */
    public static void createExpectations(List<ConntrackExpectation> expectations) {
        try (NfTables t = NfTables.open()) {
            for (int from = 0; from < expectations.size(); from += PER_DATAGRAM) {
                List<ConntrackExpectation> part = expectations.subList(from, Math.min(expectations.size(), from + PER_DATAGRAM));
                NetlinkWriter w = new NetlinkWriter();
                for (int i = 0; i < part.size(); i++) {
                    int m = w.message(NFNL_SUBSYS_CTNETLINK_EXP << 8 | IPCTNL_MSG_EXP_NEW,
                            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, i + 1,
                            part.get(i).tuple().src().length == 4 ? NfTablesAbi.NFPROTO_IPV4 : NfTablesAbi.NFPROTO_IPV6, 0);
                    part.get(i).writeNew(w);
                    w.end(m);
                }
                java.util.Map<Integer, String> refused = t.ask(w.toArray(), part.size(), "could not make "
                        + part.size() + " conntrack expectations");
                if (!refused.isEmpty()) {
                    var first = refused.entrySet().iterator().next();
                    throw new KernelException("could not make conntrack expectation " + part.get(first.getKey() - 1)
                            .identity() + " again: ctnetlink refused IPCTNL_MSG_EXP_NEW: " + first.getValue()
                            + (refused.size() > 1 ? " (and " + (refused.size() - 1) + " more)" : ""));
                }
            }
        }
    }

    /** Entries made per datagram: one IPv6 entry with NAT, labels and seqadj takes ~300 bytes. */
    private static final int PER_DATAGRAM = 128;

    /**
     * Makes {@code entries} again, one IPCTNL_MSG_CT_NEW (create, exclusive) each, {@link #PER_DATAGRAM} a datagram
     * (2000 entries: 93 ms one a datagram, 25-34 ms thus, at load 26-35); throws naming the first the kernel refused,
     * with its errno and explanation.
     */
    public static void create(List<ConntrackEntry> entries) {
        try (NfTables t = NfTables.open()) {
            for (int from = 0; from < entries.size(); from += PER_DATAGRAM) {
                List<ConntrackEntry> part = entries.subList(from, Math.min(entries.size(), from + PER_DATAGRAM));
                NetlinkWriter w = new NetlinkWriter();
                for (int i = 0; i < part.size(); i++) {
                    int m = w.message(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW,
                            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, i + 1, family(part.get(i)), 0);
                    part.get(i).writeNew(w);
                    w.end(m);
                }
                java.util.Map<Integer, String> refused = t.ask(w.toArray(), part.size(), "could not make "
                        + part.size() + " conntrack entries");
                if (!refused.isEmpty()) {
                    var first = refused.entrySet().iterator().next();
                    throw new KernelException("could not make conntrack entry " + part.get(first.getKey() - 1).identity()
                            + " again: ctnetlink refused IPCTNL_MSG_CT_NEW: " + first.getValue()
                            + (refused.size() > 1 ? " (and " + (refused.size() - 1) + " more)" : ""));
                }
            }
        }
    }

    private static int family(ConntrackEntry e) {
        return e.orig().src().length == 4 ? NfTablesAbi.NFPROTO_IPV4 : NfTablesAbi.NFPROTO_IPV6;
    }

    private static byte[] request(int subsystem, int kind, int family) {
        NetlinkWriter w = new NetlinkWriter();
        w.end(w.message(subsystem << 8 | kind, NLM_F_REQUEST | NLM_F_DUMP, 1, family, 0));
        return w.toArray();
    }
}
