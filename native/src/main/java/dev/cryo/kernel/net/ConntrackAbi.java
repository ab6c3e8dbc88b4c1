package dev.cryo.kernel.net;

/**
 * ctnetlink, conntrack's netlink interface (linux/netfilter/nfnetlink_conntrack.h, nf_conntrack_common.h):
 * subsystems, message kinds, attributes and status bits. Integer attributes travel big-endian.
 */
public final class ConntrackAbi {
    private ConntrackAbi() {}

    /** nfnetlink subsystems: the conntrack table, its expectations. */
    public static final int NFNL_SUBSYS_CTNETLINK = 1, NFNL_SUBSYS_CTNETLINK_EXP = 2;
    /** Message kinds (enum cntl_msg_types, ctnl_exp_msg_types). */
    public static final int IPCTNL_MSG_CT_NEW = 0, IPCTNL_MSG_CT_GET = 1, IPCTNL_MSG_EXP_NEW = 0, IPCTNL_MSG_EXP_GET = 1;

    /** enum ctattr_type. */
    public static final int CTA_TUPLE_ORIG = 1, CTA_TUPLE_REPLY = 2, CTA_STATUS = 3, CTA_PROTOINFO = 4, CTA_HELP = 5,
            CTA_NAT_SRC = 6, CTA_TIMEOUT = 7, CTA_MARK = 8, CTA_COUNTERS_ORIG = 9, CTA_COUNTERS_REPLY = 10, CTA_USE = 11,
            CTA_ID = 12, CTA_NAT_DST = 13, CTA_TUPLE_MASTER = 14, CTA_SEQ_ADJ_ORIG = 15, CTA_SEQ_ADJ_REPLY = 16,
            CTA_SECMARK = 17, CTA_ZONE = 18, CTA_SECCTX = 19, CTA_TIMESTAMP = 20, CTA_LABELS = 22, CTA_SYNPROXY = 24;
    /** enum ctattr_tuple, ctattr_ip. */
    public static final int CTA_TUPLE_IP = 1, CTA_TUPLE_PROTO = 2, CTA_TUPLE_ZONE = 3;
    public static final int CTA_IP_V4_SRC = 1, CTA_IP_V4_DST = 2, CTA_IP_V6_SRC = 3, CTA_IP_V6_DST = 4;
    /** enum ctattr_l4proto: the protocol number (u8), ports and ICMP ids (be16), ICMP types and codes (u8). */
    public static final int CTA_PROTO_NUM = 1, CTA_PROTO_SRC_PORT = 2, CTA_PROTO_DST_PORT = 3, CTA_PROTO_ICMP_ID = 4,
            CTA_PROTO_ICMP_TYPE = 5, CTA_PROTO_ICMP_CODE = 6, CTA_PROTO_ICMPV6_ID = 7, CTA_PROTO_ICMPV6_TYPE = 8,
            CTA_PROTO_ICMPV6_CODE = 9;
    /** enum ctattr_protoinfo, ctattr_protoinfo_tcp. */
    public static final int CTA_PROTOINFO_TCP = 1;
    public static final int CTA_PROTOINFO_TCP_STATE = 1, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL = 4,
            CTA_PROTOINFO_TCP_FLAGS_REPLY = 5;
    /**
     * A TCP direction's flag (nf_conntrack_tcp.h): window checking is liberal, what the kernel sets on a connection it
     * picks up in its middle, whose window history it lacks (so does a restored entry: ctnetlink carries no window).
     */
    public static final int IP_CT_TCP_FLAG_BE_LIBERAL = 0x08;
    /** enum ctattr_seqadj. */
    public static final int CTA_SEQADJ_CORRECTION_POS = 1, CTA_SEQADJ_OFFSET_BEFORE = 2, CTA_SEQADJ_OFFSET_AFTER = 3;
    /** enum ctattr_nat, ctattr_protonat. */
    public static final int CTA_NAT_V4_MINIP = 1, CTA_NAT_V4_MAXIP = 2, CTA_NAT_PROTO = 3, CTA_NAT_V6_MINIP = 4,
            CTA_NAT_V6_MAXIP = 5, CTA_PROTONAT_PORT_MIN = 1, CTA_PROTONAT_PORT_MAX = 2;
    /** enum ctattr_help. */
    public static final int CTA_HELP_NAME = 1;
    /** enum ctattr_expect, ctattr_expect_nat. */
    public static final int CTA_EXPECT_MASTER = 1, CTA_EXPECT_TUPLE = 2, CTA_EXPECT_MASK = 3, CTA_EXPECT_TIMEOUT = 4,
            CTA_EXPECT_ID = 5, CTA_EXPECT_HELP_NAME = 6, CTA_EXPECT_ZONE = 7, CTA_EXPECT_FLAGS = 8, CTA_EXPECT_CLASS = 9,
            CTA_EXPECT_NAT = 10, CTA_EXPECT_FN = 11;
    public static final int CTA_EXPECT_NAT_DIR = 1, CTA_EXPECT_NAT_TUPLE = 2;

    /** Status bits (enum ip_conntrack_status). */
    public static final long IPS_EXPECTED = 1, IPS_SEEN_REPLY = 1 << 1, IPS_ASSURED = 1 << 2, IPS_CONFIRMED = 1 << 3,
            IPS_SRC_NAT = 1 << 4, IPS_DST_NAT = 1 << 5, IPS_SEQ_ADJUST = 1 << 6, IPS_DYING = 1 << 9,
            IPS_FIXED_TIMEOUT = 1 << 10, IPS_OFFLOAD = 1 << 14, IPS_HW_OFFLOAD = 1 << 15;
    /** The bits a restored entry must have as the dumped one had (the NAT-done and helper bits follow from the rest). */
    public static final long IPS_COMPARED = IPS_EXPECTED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED | IPS_SRC_NAT
            | IPS_DST_NAT | IPS_SEQ_ADJUST | IPS_FIXED_TIMEOUT;

    /** TCP states of conntrack (enum tcp_conntrack), by number. */
    public static final java.util.List<String> TCP_STATES = java.util.List.of("NONE", "SYN_SENT", "SYN_RECV",
            "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2");
}
