package dev.cryo.kernel.net;

/**
 * nf_tables' netlink interface (linux/netfilter/nfnetlink.h and nf_tables.h): message kinds,
 * attributes, expression parameters, and the data type numbers the nft program reads back from a
 * set's key type to print its elements. Integer attributes travel big-endian.
 */
public final class NfTablesAbi {
    private NfTablesAbi() {}

    /** nfnetlink: the nf_tables subsystem, a batch's first and last message, the protocol version. */
    public static final int NFNL_SUBSYS_NFTABLES = 10, NFNL_MSG_BATCH_BEGIN = 16, NFNL_MSG_BATCH_END = 17,
            NFNETLINK_V0 = 0;
    /** Table families (NFPROTO_*). */
    public static final int NFPROTO_UNSPEC = 0, NFPROTO_INET = 1, NFPROTO_IPV4 = 2, NFPROTO_IPV6 = 10;
    /** Message kinds (enum nf_tables_msg_types). */
    public static final int NFT_MSG_NEWTABLE = 0, NFT_MSG_GETTABLE = 1, NFT_MSG_DELTABLE = 2, NFT_MSG_NEWCHAIN = 3,
            NFT_MSG_NEWRULE = 6, NFT_MSG_NEWSET = 9, NFT_MSG_NEWSETELEM = 12, NFT_MSG_NEWGEN = 15, NFT_MSG_GETGEN = 16;
    /** The generation's id in NFT_MSG_NEWGEN: every committed change of the namespace's ruleset gives a new one. */
    public static final int NFTA_GEN_ID = 1;
    /** An attribute holding attributes. */
    public static final int NLA_F_NESTED = 0x8000;

    public static final int NFTA_LIST_ELEM = 1;
    public static final int NFTA_HOOK_HOOKNUM = 1, NFTA_HOOK_PRIORITY = 2;
    public static final int NFTA_TABLE_NAME = 1;
    public static final int NFTA_CHAIN_TABLE = 1, NFTA_CHAIN_NAME = 3, NFTA_CHAIN_HOOK = 4, NFTA_CHAIN_POLICY = 5,
            NFTA_CHAIN_TYPE = 7;
    public static final int NFTA_RULE_TABLE = 1, NFTA_RULE_CHAIN = 2, NFTA_RULE_EXPRESSIONS = 4;
    public static final int NFTA_SET_TABLE = 1, NFTA_SET_NAME = 2, NFTA_SET_FLAGS = 3, NFTA_SET_KEY_TYPE = 4,
            NFTA_SET_KEY_LEN = 5, NFTA_SET_ID = 10;
    public static final int NFTA_SET_ELEM_KEY = 1;
    public static final int NFTA_SET_ELEM_LIST_TABLE = 1, NFTA_SET_ELEM_LIST_SET = 2, NFTA_SET_ELEM_LIST_ELEMENTS = 3,
            NFTA_SET_ELEM_LIST_SET_ID = 4;
    public static final int NFTA_DATA_VALUE = 1, NFTA_DATA_VERDICT = 2, NFTA_VERDICT_CODE = 1;
    public static final int NFTA_EXPR_NAME = 1, NFTA_EXPR_DATA = 2;
    public static final int NFTA_META_DREG = 1, NFTA_META_KEY = 2;
    public static final int NFTA_CMP_SREG = 1, NFTA_CMP_OP = 2, NFTA_CMP_DATA = 3;
    public static final int NFTA_PAYLOAD_DREG = 1, NFTA_PAYLOAD_BASE = 2, NFTA_PAYLOAD_OFFSET = 3, NFTA_PAYLOAD_LEN = 4;
    public static final int NFTA_BITWISE_SREG = 1, NFTA_BITWISE_DREG = 2, NFTA_BITWISE_LEN = 3, NFTA_BITWISE_MASK = 4,
            NFTA_BITWISE_XOR = 5;
    public static final int NFTA_LOOKUP_SET = 1, NFTA_LOOKUP_SREG = 2, NFTA_LOOKUP_SET_ID = 4;
    public static final int NFTA_IMMEDIATE_DREG = 1, NFTA_IMMEDIATE_DATA = 2;
    public static final int NFTA_LOG_GROUP = 1, NFTA_LOG_SNAPLEN = 3, NFTA_LOG_QTHRESHOLD = 4;

    /** Meta keys: the packet's mark, its protocol family (NFPROTO_*), its transport protocol. */
    public static final int NFT_META_MARK = 3, NFT_META_NFPROTO = 15, NFT_META_L4PROTO = 16;
    public static final int NFT_CMP_EQ = 0;
    public static final int NFT_PAYLOAD_NETWORK_HEADER = 1, NFT_PAYLOAD_TRANSPORT_HEADER = 2;
    /** The verdict register, the first 16-byte register, the first of the 4-byte ones (a 16-byte one is four). */
    public static final int NFT_REG_VERDICT = 0, NFT_REG_1 = 1, NFT_REG32_00 = 8;
    public static final int NF_DROP = 0, NF_ACCEPT = 1;
    /** Netfilter hooks of the inet family. */
    public static final int NF_INET_LOCAL_IN = 1, NF_INET_FORWARD = 2, NF_INET_LOCAL_OUT = 3;

    /** The nft program's data types (its datatype.h); a concatenation is their numbers, 6 bits each. */
    public static final int NFT_TYPE_IPADDR = 7, NFT_TYPE_IP6ADDR = 8, NFT_TYPE_INET_SERVICE = 13, NFT_TYPE_BITS = 6;
}
