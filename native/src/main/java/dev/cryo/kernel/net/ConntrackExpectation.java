package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.ConntrackAbi.*;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * One expectation of a net namespace's conntrack table: a helper's (FTP's, SIP's) wait for a related connection,
 * what ctnetlink makes again (IPCTNL_MSG_EXP_NEW, what conntrackd does) once its master entry is there: the
 * expected {@code tuple} and its {@code mask}, the {@code master} entry's original tuple, the remaining
 * {@code timeout} (seconds), zone, flags, class, the helper's name ("" for the master's), the NAT it sets up on the
 * related connection ({@code natDir} -1 and {@code nat} null for none) and its expect function ({@code fn}, "" for
 * none, e.g. "nat-follow-master").
 */
public record ConntrackExpectation(ConntrackEntry.Tuple tuple, ConntrackEntry.Tuple mask, ConntrackEntry.Tuple master,
                                   long timeout, int zone, long flags, long cls, String helper, int natDir,
                                   ConntrackEntry.Tuple nat, String fn) {
    /** Flags the kernel sets itself (NF_CT_EXPECT_USERSPACE), which a new expectation does not take. */
    private static final long USERSPACE = 4;

    /**
     * The expectation of one IPCTNL_MSG_EXP_NEW message of a dump ({@code body}: at its nfgenmsg); throws
     * {@link ConntrackEntry.NotCarried} naming what cannot be set again.
     */
    public static ConntrackExpectation parse(ByteBuffer body) {
        ConntrackEntry.Tuple tuple = null, mask = null, master = null, nat = null;
        long timeout = 0, flags = 0, cls = 0;
        int zone = 0, natDir = -1;
        String helper = "", fn = "";
        List<SockDiag.Attr> attrs = SockDiag.attrs(body, 4);
        for (SockDiag.Attr a : attrs) {
            switch (a.type()) {
                case CTA_EXPECT_TUPLE -> tuple = ConntrackEntry.tuple(a.data());
                case CTA_EXPECT_MASK -> mask = ConntrackEntry.tuple(a.data());
                case CTA_EXPECT_MASTER -> master = ConntrackEntry.tuple(a.data());
                case CTA_EXPECT_TIMEOUT -> timeout = ConntrackEntry.u32(a);
                case CTA_EXPECT_ID -> { } // the kernel's own
                case CTA_EXPECT_ZONE -> zone = ConntrackEntry.u16(a);
                case CTA_EXPECT_FLAGS -> flags = ConntrackEntry.u32(a) & ~USERSPACE;
                case CTA_EXPECT_CLASS -> cls = ConntrackEntry.u32(a);
                case CTA_EXPECT_HELP_NAME -> helper = ConntrackEntry.string(a.bytes());
                case CTA_EXPECT_FN -> fn = ConntrackEntry.string(a.bytes());
                case CTA_EXPECT_NAT -> {
                    for (SockDiag.Attr n : SockDiag.attrs(a.data(), 0)) {
                        if (n.type() == CTA_EXPECT_NAT_DIR) {
                            natDir = (int) ConntrackEntry.u32(n);
                        } else if (n.type() == CTA_EXPECT_NAT_TUPLE) {
                            nat = ConntrackEntry.tuple(n.data());
                        }
                    }
                }
                default -> throw new ConntrackEntry.NotCarried("an expectation" + (tuple == null ? "" : " of " + tuple),
                        "it has ctnetlink attribute " + a.type() + ", which cryo does not know");
            }
        }
        if (tuple == null || mask == null || master == null) {
            throw new ConntrackEntry.NotCarried("an expectation", "the kernel gave it without its tuple, mask or master");
        }
        if ((natDir < 0) != (nat == null)) {
            throw new ConntrackEntry.NotCarried("the expectation of " + tuple, "its NAT came without its direction or tuple");
        }
        return new ConntrackExpectation(tuple, mask, master, timeout, zone, flags, cls, helper, natDir, nat, fn);
    }

    /** The IPCTNL_MSG_EXP_NEW attributes that make it again, its master entry being there. */
    void writeNew(NetlinkWriter w) {
        master.write(w, CTA_EXPECT_MASTER);
        tuple.write(w, CTA_EXPECT_TUPLE);
        mask.write(w, CTA_EXPECT_MASK);
        w.be32(CTA_EXPECT_TIMEOUT, (int) timeout);
        if (zone != 0) {
            w.be16(CTA_EXPECT_ZONE, zone);
        }
        w.be32(CTA_EXPECT_FLAGS, (int) flags);
        w.be32(CTA_EXPECT_CLASS, (int) cls);
        if (!helper.isEmpty()) {
            w.string(CTA_EXPECT_HELP_NAME, helper);
        }
        if (nat != null) {
            int n = w.nest(CTA_EXPECT_NAT);
            w.be32(CTA_EXPECT_NAT_DIR, natDir);
            nat.write(w, CTA_EXPECT_NAT_TUPLE);
            w.close(n);
        }
        if (!fn.isEmpty()) {
            w.string(CTA_EXPECT_FN, fn);
        }
    }

    /** "tcp 10.0.0.1:0 -> 10.0.0.2:30000 of tcp 10.0.0.1:40000 -> 10.0.0.2:21 (ftp)". */
    public String identity() {
        return tuple + " of " + master + (helper.isEmpty() ? "" : " (" + helper + ")");
    }

    @Override
    public String toString() {
        return identity();
    }
}
