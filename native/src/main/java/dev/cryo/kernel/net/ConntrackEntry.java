package dev.cryo.kernel.net;

import static dev.cryo.kernel.net.ConntrackAbi.*;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One entry of a net namespace's conntrack table, with what makes it the same entry when ctnetlink makes it
 * again (IPCTNL_MSG_CT_NEW, what conntrackd's commit does): its tuples, zone, status bits, remaining timeout
 * (seconds), mark, labels, protocol state ({@code protoinfo}: CTA_PROTOINFO's attributes, TCP's flags with their
 * mask), NAT sequence adjustments ({@code seqAdj}: correction position, offset before, offset after, each direction;
 * empty for none), helper ("" for none) and, for an entry a helper expected (FTP's data connection), its master
 * entry's original tuple ({@code master}, null for none: made again after it). What ctnetlink cannot set again is
 * refused by {@link #parse}.
 */
public record ConntrackEntry(Tuple orig, Tuple reply, int zone, long status, long timeout, long mark, byte[] labels,
                             byte[] protoinfo, int[] seqAdj, String helper, Tuple master) {

    /** An entry no helper expected. */
    public ConntrackEntry(Tuple orig, Tuple reply, int zone, long status, long timeout, long mark, byte[] labels,
                          byte[] protoinfo, int[] seqAdj, String helper) {
        this(orig, reply, zone, status, timeout, mark, labels, protoinfo, seqAdj, helper, null);
    }

    /**
     * One direction: addresses (4 or 16 bytes), protocol, its CTA_PROTO_* attributes as (type, value) pairs (ports,
     * ICMP id, type, code) and the zone of a zone given per direction (-1: none).
     */
    public record Tuple(byte[] src, byte[] dst, int proto, int[] l4, int zone) {
        /** The value of l4 attribute {@code type}, -1 without. */
        public int value(int type) {
            for (int i = 0; i + 1 < l4.length; i += 2) {
                if (l4[i] == type) {
                    return l4[i + 1];
                }
            }
            return -1;
        }

        /** "tcp 10.0.0.1:40000 -> 10.0.0.2:80", "icmp 10.0.0.1 -> 10.0.0.2 id 7 type 8 code 0". */
        @Override
        public String toString() {
            int sport = value(CTA_PROTO_SRC_PORT), dport = value(CTA_PROTO_DST_PORT);
            StringBuilder b = new StringBuilder(protoName(proto)).append(' ').append(address(src));
            b.append(sport >= 0 ? ":" + sport : "").append(" -> ").append(address(dst)).append(dport >= 0 ? ":" + dport : "");
            for (int i = 0; i + 1 < l4.length; i += 2) {
                String name = switch (l4[i]) {
                    case CTA_PROTO_ICMP_ID, CTA_PROTO_ICMPV6_ID -> "id";
                    case CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMPV6_TYPE -> "type";
                    case CTA_PROTO_ICMP_CODE, CTA_PROTO_ICMPV6_CODE -> "code";
                    default -> null;
                };
                if (name != null) {
                    b.append(' ').append(name).append(' ').append(l4[i + 1]);
                }
            }
            return b.append(zone >= 0 ? " zone " + zone : "").toString();
        }

        void write(NetlinkWriter w, int type) {
            int t = w.nest(type);
            int ip = w.nest(CTA_TUPLE_IP);
            w.bytes(src.length == 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, src);
            w.bytes(dst.length == 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, dst);
            w.close(ip);
            int p = w.nest(CTA_TUPLE_PROTO);
            w.bytes(CTA_PROTO_NUM, new byte[] {(byte) proto});
            for (int i = 0; i + 1 < l4.length; i += 2) {
                if (l4Width(l4[i]) == 2) {
                    w.be16(l4[i], l4[i + 1]);
                } else {
                    w.bytes(l4[i], new byte[] {(byte) l4[i + 1]});
                }
            }
            w.close(p);
            if (zone >= 0) {
                w.be16(CTA_TUPLE_ZONE, zone);
            }
            w.close(t);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tuple t && java.util.Arrays.equals(src, t.src) && java.util.Arrays.equals(dst, t.dst)
                    && proto == t.proto && java.util.Arrays.equals(l4, t.l4) && zone == t.zone;
        }

        @Override
        public int hashCode() {
            return toString().hashCode();
        }

        /** This tuple the other way round: a reply without NAT. */
        Tuple inverse() {
            int[] r = l4.clone();
            for (int i = 0; i + 1 < r.length; i += 2) {
                if (r[i] == CTA_PROTO_SRC_PORT) {
                    r[i] = CTA_PROTO_DST_PORT;
                } else if (r[i] == CTA_PROTO_DST_PORT) {
                    r[i] = CTA_PROTO_SRC_PORT;
                }
            }
            return new Tuple(dst, src, proto, r, zone);
        }
    }

    /** An entry cryo cannot make again: {@code entry} names it ("tcp 10.0.0.1:40000 -> ..."). */
    public static final class NotCarried extends RuntimeException {
        private final String entry;
        private final String reason;

        public NotCarried(String entry, String reason) {
            super(entry + ": " + reason);
            this.entry = entry;
            this.reason = reason;
        }

        public String entry() {
            return entry;
        }

        public String reason() {
            return reason;
        }
    }

    /** The width in bytes of l4 attribute {@code type}: 2 for ports and ICMP ids, 1 for ICMP types and codes; 0 unknown. */
    public static int l4Width(int type) {
        return switch (type) {
            case CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT, CTA_PROTO_ICMP_ID, CTA_PROTO_ICMPV6_ID -> 2;
            case CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE, CTA_PROTO_ICMPV6_TYPE, CTA_PROTO_ICMPV6_CODE -> 1;
            default -> 0;
        };
    }

    /**
     * The entry of one IPCTNL_MSG_CT_NEW message of a table's dump ({@code body}: after the netlink header, at its
     * nfgenmsg); throws {@link NotCarried} naming what cannot be set again.
     */
    public static ConntrackEntry parse(ByteBuffer body) {
        Tuple orig = null, reply = null;
        List<SockDiag.Attr> attrs = SockDiag.attrs(body, 4);
        for (SockDiag.Attr a : attrs) {
            if (a.type() == CTA_TUPLE_ORIG) {
                orig = tuple(a.data());
            } else if (a.type() == CTA_TUPLE_REPLY) {
                reply = tuple(a.data());
            }
        }
        if (orig == null || reply == null) {
            throw new NotCarried("an entry", "the kernel gave it without " + (orig == null ? "its original" : "its reply")
                    + " tuple");
        }
        String name = orig.toString();
        int zone = 0;
        long status = 0, timeout = 0, mark = 0;
        byte[] labels = new byte[0], protoinfo = new byte[0];
        int[] seqAdj = new int[0];
        String helper = "";
        Tuple master = null;
        for (SockDiag.Attr a : attrs) {
            switch (a.type()) {
                case CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_USE, CTA_ID -> { } // the id and use count are the kernel's own
                case CTA_STATUS -> status = u32(a);
                case CTA_TIMEOUT -> timeout = u32(a);
                case CTA_MARK -> mark = u32(a);
                case CTA_ZONE -> zone = u16(a);
                case CTA_LABELS -> labels = a.bytes();
                case CTA_PROTOINFO -> protoinfo = protoinfo(a.data(), 0);
                case CTA_SEQ_ADJ_ORIG, CTA_SEQ_ADJ_REPLY -> {
                    if (seqAdj.length == 0) {
                        seqAdj = new int[6];
                    }
                    int at = a.type() == CTA_SEQ_ADJ_ORIG ? 0 : 3;
                    for (SockDiag.Attr s : SockDiag.attrs(a.data(), 0)) {
                        if (s.type() >= CTA_SEQADJ_CORRECTION_POS && s.type() <= CTA_SEQADJ_OFFSET_AFTER) {
                            seqAdj[at + s.type() - 1] = (int) u32(s);
                        }
                    }
                }
                case CTA_HELP -> {
                    for (SockDiag.Attr h : SockDiag.attrs(a.data(), 0)) {
                        if (h.type() != CTA_HELP_NAME) {
                            throw new NotCarried(name, "its helper's private data (CTA_HELP attribute " + h.type()
                                    + ") cannot be set again");
                        }
                        helper = string(h.bytes());
                    }
                }
                case CTA_TUPLE_MASTER -> master = tuple(a.data()); // made again after its master, tied to it
                case CTA_SECCTX -> throw new NotCarried(name, "its security context (secctx) cannot be set again");
                case CTA_SECMARK -> {
                    if (u32(a) != 0) {
                        throw new NotCarried(name, "its secmark cannot be set again");
                    }
                }
                case CTA_SYNPROXY -> { // an entry ctnetlink made has it, all zero
                    for (SockDiag.Attr x : SockDiag.attrs(a.data(), 0)) {
                        if (u32(x) != 0) {
                            throw new NotCarried(name, "its synproxy state cannot be set again");
                        }
                    }
                }
                case CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY -> throw new NotCarried(name, "its byte and packet counters"
                        + " (nf_conntrack_acct 1) cannot be set again");
                case CTA_TIMESTAMP -> throw new NotCarried(name, "its start time (nf_conntrack_timestamp 1) cannot be"
                        + " set again");
                default -> throw new NotCarried(name, "it has ctnetlink attribute " + a.type() + ", which cryo does not know");
            }
        }
        if ((status & IPS_EXPECTED) != 0 && master == null) {
            throw new NotCarried(name, "it was expected by a helper's connection that is gone");
        }
        if ((status & (IPS_OFFLOAD | IPS_HW_OFFLOAD)) != 0) {
            throw new NotCarried(name, "it is offloaded to a flowtable, whose state cannot be set again");
        }
        return new ConntrackEntry(orig, reply, zone, status, timeout, mark, labels, protoinfo, seqAdj, helper, master);
    }

    /**
     * CTA_PROTOINFO's attributes, TCP's flags given their mask (the kernel dumps them with mask 0, which sets none) and
     * the bits {@code more}.
     */
    private static byte[] protoinfo(ByteBuffer data, int more) {
        NetlinkWriter w = new NetlinkWriter();
        for (SockDiag.Attr p : SockDiag.attrs(data, 0)) {
            if (p.type() != CTA_PROTOINFO_TCP) {
                w.bytes(p.type() | NfTablesAbi.NLA_F_NESTED, p.bytes());
                continue;
            }
            int tcp = w.nest(CTA_PROTOINFO_TCP);
            for (SockDiag.Attr t : SockDiag.attrs(p.data(), 0)) {
                byte[] v = t.bytes();
                if ((t.type() == CTA_PROTOINFO_TCP_FLAGS_ORIGINAL || t.type() == CTA_PROTOINFO_TCP_FLAGS_REPLY) && v.length == 2) {
                    v[0] |= (byte) more;
                    v[1] = (byte) 0xff;
                }
                w.bytes(t.type(), v);
            }
            w.close(tcp);
        }
        return w.toArray();
    }

    /** The TCP state in {@code protoinfo} ("ESTABLISHED"), null for another protocol's or none. */
    public String tcpState() {
        ByteBuffer b = ByteBuffer.wrap(protoinfo).order(ByteOrder.nativeOrder());
        for (SockDiag.Attr p : SockDiag.attrs(b, 0)) {
            if (p.type() == CTA_PROTOINFO_TCP) {
                for (SockDiag.Attr t : SockDiag.attrs(p.data(), 0)) {
                    if (t.type() == CTA_PROTOINFO_TCP_STATE && t.data().remaining() >= 1) {
                        int s = t.data().get(t.data().position()) & 0xff;
                        return s < TCP_STATES.size() ? TCP_STATES.get(s) : "state " + s;
                    }
                }
            }
        }
        return null;
    }

    /**
     * The IPCTNL_MSG_CT_NEW attributes that make this entry again. With NAT, the reply tuple sent is the original's
     * inverse and the NAT ranges are the one address and port the dumped reply tuple has: the kernel sets the NAT up
     * from them (its status bits and the reply tuple follow), as it never takes NAT bits from CTA_STATUS.
     */
    void writeNew(NetlinkWriter w) {
        boolean dnat = (status & IPS_DST_NAT) != 0, snat = (status & IPS_SRC_NAT) != 0;
        orig.write(w, CTA_TUPLE_ORIG);
        (dnat || snat ? orig.inverse() : reply).write(w, CTA_TUPLE_REPLY);
        if (zone != 0) {
            w.be16(CTA_ZONE, zone);
        }
        w.be32(CTA_TIMEOUT, (int) timeout);
        // the kernel sets EXPECTED itself from the master, and refuses a status that sets it (EBUSY)
        w.be32(CTA_STATUS, (int) (status & ~IPS_EXPECTED));
        if (master != null) {
            master.write(w, CTA_TUPLE_MASTER);
        }
        if (mark != 0) {
            w.be32(CTA_MARK, (int) mark);
        }
        if (labels.length > 0) {
            w.bytes(CTA_LABELS, labels);
        }
        if (protoinfo.length > 0) { // its window's history is not carried: checked liberally, as a connection picked up
            w.bytes(CTA_PROTOINFO | NfTablesAbi.NLA_F_NESTED, protoinfo(ByteBuffer.wrap(protoinfo)
                    .order(ByteOrder.nativeOrder()), IP_CT_TCP_FLAG_BE_LIBERAL));
        }
        if (!helper.isEmpty()) {
            int h = w.nest(CTA_HELP);
            w.string(CTA_HELP_NAME, helper);
            w.close(h);
        }
        if (dnat) {
            nat(w, CTA_NAT_DST, reply.src(), reply.value(CTA_PROTO_SRC_PORT));
        }
        if (snat) {
            nat(w, CTA_NAT_SRC, reply.dst(), reply.value(CTA_PROTO_DST_PORT));
        }
        for (int dir = 0; dir < 2 && seqAdj.length == 6; dir++) {
            int s = w.nest(dir == 0 ? CTA_SEQ_ADJ_ORIG : CTA_SEQ_ADJ_REPLY);
            w.be32(CTA_SEQADJ_CORRECTION_POS, seqAdj[3 * dir]);
            w.be32(CTA_SEQADJ_OFFSET_BEFORE, seqAdj[3 * dir + 1]);
            w.be32(CTA_SEQADJ_OFFSET_AFTER, seqAdj[3 * dir + 2]);
            w.close(s);
        }
    }

    /** A NAT range of one address and port ({@code port} -1: the ICMP id the reply tuple has, or none). */
    private void nat(NetlinkWriter w, int type, byte[] address, int port) {
        int n = w.nest(type);
        w.bytes(address.length == 4 ? CTA_NAT_V4_MINIP : CTA_NAT_V6_MINIP, address);
        w.bytes(address.length == 4 ? CTA_NAT_V4_MAXIP : CTA_NAT_V6_MAXIP, address);
        if (port < 0) {
            port = Math.max(reply.value(CTA_PROTO_ICMP_ID), reply.value(CTA_PROTO_ICMPV6_ID));
        }
        if (port >= 0) {
            int p = w.nest(CTA_NAT_PROTO);
            w.be16(CTA_PROTONAT_PORT_MIN, port);
            w.be16(CTA_PROTONAT_PORT_MAX, port);
            w.close(p);
        }
        w.close(n);
    }

    /**
     * What makes it the same entry, its remaining timeout and TCP flags left out (they change as packets pass):
     * "tcp 10.0.0.1:40000 -> 10.0.0.2:80, reply tcp ..., ESTABLISHED [SEEN_REPLY ASSURED DST_NAT] mark 0x1 ...".
     */
    public String identity() {
        StringBuilder b = new StringBuilder(orig.toString()).append(", reply ").append(reply);
        String tcp = tcpState();
        if (tcp != null) {
            b.append(", ").append(tcp);
        }
        b.append(" [").append(String.join(" ", statusNames(status & IPS_COMPARED))).append(']');
        if (zone != 0) {
            b.append(" zone ").append(zone);
        }
        if (mark != 0) {
            b.append(" mark 0x").append(Long.toHexString(mark));
        }
        if (labels.length > 0 && !allZero(labels)) {
            b.append(" labels 0x").append(java.util.HexFormat.of().formatHex(labels));
        }
        if (!helper.isEmpty()) {
            b.append(" helper ").append(helper);
        }
        if (seqAdj.length == 6) {
            b.append(" seqadj ").append(java.util.Arrays.toString(seqAdj));
        }
        if (master != null) {
            b.append(" expected by ").append(master);
        }
        return b.toString();
    }

    /** The names of the bits of {@code status} cryo knows. */
    public static List<String> statusNames(long status) {
        String[] names = {"EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT", "SEQ_ADJUST",
                "SRC_NAT_DONE", "DST_NAT_DONE", "DYING", "FIXED_TIMEOUT", "TEMPLATE", "NAT_CLASH", "HELPER", "OFFLOAD",
                "HW_OFFLOAD"};
        List<String> out = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            if ((status & (1L << i)) != 0) {
                out.add(names[i]);
            }
        }
        return out;
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    static Tuple tuple(ByteBuffer data) {
        byte[] src = null, dst = null;
        int proto = -1, zone = -1;
        List<Integer> l4 = new ArrayList<>();
        for (SockDiag.Attr t : SockDiag.attrs(data, 0)) {
            if (t.type() == CTA_TUPLE_IP) {
                for (SockDiag.Attr ip : SockDiag.attrs(t.data(), 0)) {
                    switch (ip.type()) {
                        case CTA_IP_V4_SRC, CTA_IP_V6_SRC -> src = ip.bytes();
                        case CTA_IP_V4_DST, CTA_IP_V6_DST -> dst = ip.bytes();
                        default -> { }
                    }
                }
            } else if (t.type() == CTA_TUPLE_PROTO) {
                for (SockDiag.Attr p : SockDiag.attrs(t.data(), 0)) {
                    if (p.type() == CTA_PROTO_NUM) {
                        proto = p.data().get(p.data().position()) & 0xff;
                    } else if (l4Width(p.type()) == 2) {
                        l4.add(p.type());
                        l4.add(u16(p));
                    } else if (l4Width(p.type()) == 1) {
                        l4.add(p.type());
                        l4.add(p.data().get(p.data().position()) & 0xff);
                    } else {
                        throw new NotCarried("an entry of protocol " + proto, "its tuple has protocol attribute "
                                + p.type() + ", which cryo does not know");
                    }
                }
            } else if (t.type() == CTA_TUPLE_ZONE) {
                zone = u16(t);
            }
        }
        if (src == null || dst == null || proto < 0 || src.length != dst.length) {
            throw new NotCarried("an entry", "the kernel gave a tuple without its addresses or protocol");
        }
        return new Tuple(src, dst, proto, l4.stream().mapToInt(Integer::intValue).toArray(), zone);
    }

    static long u32(SockDiag.Attr a) {
        ByteBuffer d = a.data();
        return d.remaining() >= 4 ? d.duplicate().order(ByteOrder.BIG_ENDIAN).getInt(d.position()) & 0xffffffffL : 0;
    }

    static int u16(SockDiag.Attr a) {
        ByteBuffer d = a.data();
        return d.remaining() >= 2 ? d.duplicate().order(ByteOrder.BIG_ENDIAN).getShort(d.position()) & 0xffff : 0;
    }

    static String string(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /** "10.0.0.1", "fd00::1". */
    public static String address(byte[] a) {
        try {
            return InetAddress.getByAddress(a).getHostAddress();
        } catch (UnknownHostException e) {
            return "(an address of " + a.length + " bytes)";
        }
    }

    /** "tcp", "udp", "icmp", or the number. */
    public static String protoName(int proto) {
        return switch (proto) {
            case 1 -> "icmp";
            case 6 -> "tcp";
            case 17 -> "udp";
            case 33 -> "dccp";
            case 47 -> "gre";
            case 58 -> "icmpv6";
            case 132 -> "sctp";
            case 136 -> "udplite";
            default -> "protocol " + proto;
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConntrackEntry e && orig.equals(e.orig) && reply.equals(e.reply) && zone == e.zone
                && status == e.status && timeout == e.timeout && mark == e.mark && java.util.Arrays.equals(labels, e.labels)
                && java.util.Arrays.equals(protoinfo, e.protoinfo) && java.util.Arrays.equals(seqAdj, e.seqAdj)
                && helper.equals(e.helper) && java.util.Objects.equals(master, e.master);
    }

    @Override
    public int hashCode() {
        return identity().hashCode();
    }

    @Override
    public String toString() {
        return identity();
    }
}
