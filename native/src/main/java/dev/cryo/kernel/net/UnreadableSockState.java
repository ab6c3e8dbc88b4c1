package dev.cryo.kernel.net;

import dev.cryo.kernel.Bpf;
import dev.cryo.kernel.Btf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

/**
 * What a program can give a socket that no getsockopt reads back, for each socket of a task: read with a
 * BPF iterator over the task's files, with the offsets of the running kernel's BTF.
 */
public final class UnreadableSockState {
    /** An IPsec policy of the socket's own (IP_XFRM_POLICY, IPV6_XFRM_POLICY): sk_policy[0] or [1]. */
    public static final int XFRM_POLICY = 1;
    /** An IPv6 anycast address the socket joined (IPV6_JOIN_ANYCAST): ipv6_ac_list. */
    public static final int ANYCAST = 2;
    /** An IPv6 flow label the socket leases (IPV6_FLOWLABEL_MGR): ipv6_fl_list. */
    public static final int FLOW_LABEL = 4;
    /** IP_ROUTER_ALERT on: the socket is in its net namespace's ra_chain. */
    public static final int ROUTER_ALERT = 8;
    /** Its namespace's ra_chain is longer than the {@link #RA_CHAIN} sockets looked through. */
    public static final int ROUTER_ALERT_UNKNOWN = 16;
    /**
     * A TCP socket's own fast open key (TCP_FASTOPEN_KEY set on it: its accept queue's fastopenq.ctx), which getsockopt
     * reads the same as its net namespace's key when it has none.
     */
    public static final int OWN_FASTOPEN_KEY = 32;
    /** A TCP connection's saved SYN (its listener had TCP_SAVE_SYN), which the program has not read (TCP_SAVED_SYN). */
    public static final int SAVED_SYN = 64;
    private static final int RA_CHAIN = 16, RECORD = 48;
    /** Where the record is built on the stack: below the 8 bytes each bpf_probe_read_kernel reads into (fp - 8). */
    private static final int AT = -8 - RECORD;
    private static final Bpf.TaskIterator ITERATOR =
            Bpf.TaskIterator.overFiles("cryo_sk_unread", () -> program(Btf.kernel()));

    /**
     * One socket's: the flags above, its SO_TIMESTAMPING OPT_ID counter (sk_tskey), its MSG_ZEROCOPY one (sk_zckey:
     * the id of its next zerocopy send), and the messages in its error queue (transmit timestamps, zerocopy
     * completions, ICMP errors with IP_RECVERR), which only a receive with MSG_ERRQUEUE takes; an IPv4 socket's
     * multicast interface (inet_sock.mc_index: IP_MULTICAST_IF set by index, which getsockopt does not give); an
     * IPv6 socket's sticky IPV6_PKTINFO (source address and interface of what it sends), which no getsockopt reads.
     */
    public record Of(int flags, int timestampKey, int zerocopyKey, int errorQueue, int multicastIndex,
                     long pktinfoAddrHigh, long pktinfoAddrLow, int pktinfoIfindex) {
        public Of(int flags, int timestampKey, int zerocopyKey, int errorQueue, int multicastIndex) {
            this(flags, timestampKey, zerocopyKey, errorQueue, multicastIndex, 0, 0, 0);
        }

        public boolean has(int flag) {
            return (flags & flag) != 0;
        }

        /** The sticky IPV6_PKTINFO as setsockopt takes it (struct in6_pktinfo), or null when none was set. */
        public byte[] stickyPktinfo() {
            if (pktinfoAddrHigh == 0 && pktinfoAddrLow == 0 && pktinfoIfindex == 0) {
                return null;
            }
            return ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(pktinfoAddrHigh).putLong(pktinfoAddrLow)
                    .putInt(pktinfoIfindex).array();
        }
    }

    private UnreadableSockState() {}

    /** Loads the iterator in the background, before a frozen window needs it. */
    public static void warmUp() {
        ITERATOR.warmUp();
    }

    /** Each socket's in the fd table of thread {@code tid}, by fd; fails where cryo's BPF iterators cannot run. */
    public static Map<Integer, Of> of(int tid) {
        return ITERATOR.byFd(tid, RECORD, b -> {
            int flags = b.getInt(), key = b.getInt(), zckey = b.getInt(), errors = b.getInt(), index = b.getInt();
            long high = b.getLong(), low = b.getLong();
            return new Of(flags, key, zckey, errors, index, high, low, b.getInt());
        });
    }

    /**
     * For each socket file: fd, flags, sk_tskey, sk_zckey, sk_error_queue.qlen, mc_index, sticky_pktinfo (20 bytes),
     * 0. Every read goes through bpf_probe_read_kernel from the sock's address as a plain number (an IPv4 socket has no ipv6_pinfo: its pointer is 0, nothing is read).
     */
    private static Bpf.Program program(Btf btf) {
        int fp = 10, ctx = 6, sk = 7, flags = 8, p = 9;
        int policy = btf.offset("sock", "sk_policy");
        boolean flInInet = hasMember(btf, "inet_sock", "ipv6_fl_list"); // since 6.6; ipv6_pinfo's before
        Bpf.Program b = new Bpf.Program()
                .mov(ctx, 1)
                .load(8, 1, ctx, btf.offset("bpf_iter__task_file", "file")).jumpIfZero(1, "out")
                .call(Bpf.SOCK_FROM_FILE).jumpIfZero(0, "out")
                .readKernel(sk, 0, btf.offset("socket", "sk")).jumpIfZero(sk, "out")
                .movImm(flags, 0).movImm(1, 0).store(8, fp, AT + 24, 1).store(8, fp, AT + 32, 1).store(8, fp, AT + 40, 1)
                .readKernel(2, sk, policy).jumpIfZero(2, "in").orImm(flags, XFRM_POLICY)
                .label("in").readKernel(2, sk, policy + 8).jumpIfZero(2, "v6").orImm(flags, XFRM_POLICY)
                .label("v6").readKernel(p, sk, btf.offset("inet_sock", "pinet6")).jumpIfZero(p, "ra")
                .readKernel(2, p, btf.offset("ipv6_pinfo", "sticky_pktinfo")).store(8, fp, AT + 24, 2)
                .readKernel(2, p, btf.offset("ipv6_pinfo", "sticky_pktinfo") + 8).store(8, fp, AT + 32, 2)
                .readKernel(2, p, btf.offset("ipv6_pinfo", "sticky_pktinfo") + 16).store(4, fp, AT + 40, 2)
                .readKernel(2, p, btf.offset("ipv6_pinfo", "ipv6_ac_list")).jumpIfZero(2, "fl").orImm(flags, ANYCAST)
                .label("fl").readKernel(2, flInInet ? sk : p, btf.offset(flInInet ? "inet_sock" : "ipv6_pinfo", "ipv6_fl_list"))
                .jumpIfZero(2, "ra").orImm(flags, FLOW_LABEL)
                .label("ra").readKernel(p, sk, btf.offset("sock_common", "skc_net")) // possible_net_t: the net first
                .readKernel(p, p, btf.offset("net", "ipv4") + btf.offset("netns_ipv4", "ra_chain"));
        for (int i = 0; i < RA_CHAIN; i++) {
            b.jumpIfZero(p, "key").readKernel(2, p, btf.offset("ip_ra_chain", "sk")).jumpIfSame(2, sk, "alert")
                    .readKernel(p, p, btf.offset("ip_ra_chain", "next"));
        }
        return b.jumpIfZero(p, "key").orImm(flags, ROUTER_ALERT_UNKNOWN).jump("key")
                .label("alert").orImm(flags, ROUTER_ALERT)
                .label("key").readKernel(2, sk, btf.offset("sock", "sk_tskey")) // 8 bytes read, its 4 kept
                .store(4, fp, AT + 8, 2)
                .readKernel(2, sk, btf.offset("sock", "sk_zckey")).store(4, fp, AT + 12, 2)
                .readKernel(2, sk, btf.offset("sock", "sk_type")).andImm(2, 0xffff).jumpIfNot(2, Sockets.SOCK_STREAM, "index")
                .readKernel(2, sk, btf.offset("sock", "sk_protocol")).andImm(2, 0xffff).jumpIfNot(2, Sockets.IPPROTO_TCP, "index")
                .readKernel(2, sk, btf.offset("inet_connection_sock", "icsk_accept_queue")
                        + btf.offset("request_sock_queue", "fastopenq") + btf.offset("fastopen_queue", "ctx"))
                .jumpIfZero(2, "syn").orImm(flags, OWN_FASTOPEN_KEY)
                .label("syn").readKernel(2, sk, btf.offset("tcp_sock", "saved_syn")).jumpIfZero(2, "index")
                .orImm(flags, SAVED_SYN)
                .label("index").readKernel(p, sk, btf.offset("inet_sock", "mc_index"))
                .readKernel(2, sk, btf.offset("sock", "sk_error_queue") + btf.offset("sk_buff_head", "qlen"))
                .store(4, fp, AT + 16, 2).store(4, fp, AT + 20, p)
                .store(4, fp, AT + 4, flags)
                .writeFdRecord(btf, ctx, fp, AT, RECORD)
                .label("out").movImm(0, 0).exit();
    }

    private static boolean hasMember(Btf btf, String struct, String member) {
        try {
            btf.offset(struct, member);
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }
}
