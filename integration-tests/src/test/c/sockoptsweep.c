/*
 * A sweep of socket options: every kind of socket cryo carries — TCP listeners (IPv4, IPv6), a TCP
 * socket not connected yet, an established TCP connection (both ends; dumped with
 * --tcp-established), UDP (IPv4, IPv6, connected), unix stream listener and pair, datagram and
 * seqpacket pairs, a netlink route socket, a packet socket and a raw ICMP socket — gets every
 * option of its levels (SOL_SOCKET, IP, IPv6, TCP, UDP, SOL_NETLINK, SOL_PACKET) set to a value
 * that is not a new socket's, where the kernel takes it. Then each socket's options are read back
 * with getsockopt and kept; on SIGUSR2 they are read again, and every option whose value changed
 * is printed, one line each ("DIFF kind option: was ..., now ..."), before PASS or FAIL. A plain
 * connection with no option set has its segment size (TCP_MAXSEG) compared too.
 * The netlink socket also joins group 33 (RTNLGRP_BRVLAN: bind's nl_groups holds only the first
 * 32), which NETLINK_LIST_MEMBERSHIPS shows; it reads what the kernel sends it while it waits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "workload.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef SOL_TCP
#define SOL_TCP 6
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SO_TXTIME
#define SO_TXTIME 61
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_TXREHASH
#define SO_TXREHASH 74
#endif
#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_RCVPRIORITY
#define SO_RCVPRIORITY 82
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef IP_RECVERR_RFC4884
#define IP_RECVERR_RFC4884 26
#endif
#ifndef IPV6_RECVERR_RFC4884
#define IPV6_RECVERR_RFC4884 31
#endif
#ifndef TCP_TX_DELAY
#define TCP_TX_DELAY 37
#endif
#ifndef TCP_RTO_MAX_MS
#define TCP_RTO_MAX_MS 44
#endif
#ifndef TCP_RTO_MIN_US
#define TCP_RTO_MIN_US 45
#endif
#ifndef TCP_DELACK_MAX_US
#define TCP_DELACK_MAX_US 46
#endif
#ifndef IPV6_ROUTER_ALERT_ISOLATE
#define IPV6_ROUTER_ALERT_ISOLATE 30
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

/** One option and the value the sweep sets (len bytes of v; an int unless said). */
struct opt {
    const char *name;
    int level, opt, len;
    unsigned char v[16];
};

#define I(l, o, x) {#o, l, o, 4, {(x) & 0xff, ((x) >> 8) & 0xff, ((x) >> 16) & 0xff, ((x) >> 24) & 0xff}}

static const struct opt SOCKET_OPTS[] = {
    I(SOL_SOCKET, SO_DEBUG, 1), I(SOL_SOCKET, SO_REUSEADDR, 1), I(SOL_SOCKET, SO_REUSEPORT, 1),
    I(SOL_SOCKET, SO_KEEPALIVE, 1), I(SOL_SOCKET, SO_BROADCAST, 1), I(SOL_SOCKET, SO_OOBINLINE, 1),
    I(SOL_SOCKET, SO_PRIORITY, 5), {"SO_LINGER", SOL_SOCKET, SO_LINGER, 8, {1, 0, 0, 0, 7}},
    I(SOL_SOCKET, SO_RCVLOWAT, 3), {"SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, 16, {2, 0, 0, 0, 0, 0, 0, 0, 0x20, 0xa1, 7}},
    {"SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO, 16, {3}}, I(SOL_SOCKET, SO_MARK, 77),
    I(SOL_SOCKET, SO_TIMESTAMPNS, 1), I(SOL_SOCKET, SO_TIMESTAMPING, 0x58),
    {"SO_BINDTODEVICE", SOL_SOCKET, SO_BINDTODEVICE, 3, "lo"}, I(SOL_SOCKET, SO_DONTROUTE, 1),
    I(SOL_SOCKET, SO_NO_CHECK, 1), I(SOL_SOCKET, SO_RXQ_OVFL, 1), I(SOL_SOCKET, SO_WIFI_STATUS, 1),
    I(SOL_SOCKET, SO_SELECT_ERR_QUEUE, 1), I(SOL_SOCKET, SO_BUSY_POLL, 50), I(SOL_SOCKET, SO_PREFER_BUSY_POLL, 1),
    I(SOL_SOCKET, SO_BUSY_POLL_BUDGET, 16), {"SO_MAX_PACING_RATE", SOL_SOCKET, SO_MAX_PACING_RATE, 8, {0x40, 0x42, 0xf}},
    I(SOL_SOCKET, SO_ZEROCOPY, 1), I(SOL_SOCKET, SO_TXREHASH, 0), I(SOL_SOCKET, SO_RCVMARK, 1),
    I(SOL_SOCKET, SO_PASSCRED, 1), I(SOL_SOCKET, SO_PASSSEC, 1), I(SOL_SOCKET, SO_PASSPIDFD, 1),
    I(SOL_SOCKET, SO_PASSRIGHTS, 0), I(SOL_SOCKET, SO_RCVPRIORITY, 1),
    {"SO_TXTIME", SOL_SOCKET, SO_TXTIME, 8, {1 /* CLOCK_MONOTONIC */, 0, 0, 0, 2 /* SOF_TXTIME_REPORT_ERRORS */}},
    I(SOL_SOCKET, SO_SNDBUF, 50000), I(SOL_SOCKET, SO_RCVBUF, 60000),
};
static const struct opt IP_OPTS[] = {
    I(SOL_IP, IP_TOS, 0x10), I(SOL_IP, IP_TTL, 33), I(SOL_IP, IP_RECVERR, 1), I(SOL_IP, IP_PKTINFO, 1),
    I(SOL_IP, IP_FREEBIND, 1), I(SOL_IP, IP_TRANSPARENT, 1), I(SOL_IP, IP_MTU_DISCOVER, 0),
    I(SOL_IP, IP_RECVTTL, 1), I(SOL_IP, IP_RECVTOS, 1), I(SOL_IP, IP_RECVOPTS, 1), I(SOL_IP, IP_RETOPTS, 1),
    I(SOL_IP, IP_PASSSEC, 1), I(SOL_IP, IP_RECVORIGDSTADDR, 1), I(SOL_IP, IP_MINTTL, 2),
    I(SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1), I(SOL_IP, IP_RECVFRAGSIZE, 1), I(SOL_IP, IP_RECVERR_RFC4884, 1),
    I(SOL_IP, IP_LOCAL_PORT_RANGE, 40000 | (41000 << 16)), I(SOL_IP, IP_MULTICAST_TTL, 9),
    I(SOL_IP, IP_MULTICAST_LOOP, 0), I(SOL_IP, IP_MULTICAST_ALL, 0),
    {"IP_OPTIONS", SOL_IP, IP_OPTIONS, 4, {1, 1, 1, 0}},
};
static const struct opt IP6_OPTS[] = {
    I(SOL_IPV6, IPV6_V6ONLY, 1), I(SOL_IPV6, IPV6_TCLASS, 0x20), I(SOL_IPV6, IPV6_UNICAST_HOPS, 9),
    I(SOL_IPV6, IPV6_RECVPKTINFO, 1), I(SOL_IPV6, IPV6_RECVHOPLIMIT, 1), I(SOL_IPV6, IPV6_RECVTCLASS, 1),
    I(SOL_IPV6, IPV6_RECVERR, 1), I(SOL_IPV6, IPV6_RECVERR_RFC4884, 1), I(SOL_IPV6, IPV6_DONTFRAG, 1),
    I(SOL_IPV6, IPV6_AUTOFLOWLABEL, 0), I(SOL_IPV6, IPV6_FREEBIND, 1), I(SOL_IPV6, IPV6_TRANSPARENT, 1),
    I(SOL_IPV6, IPV6_MINHOPCOUNT, 2), I(SOL_IPV6, IPV6_ADDR_PREFERENCES, 2), I(SOL_IPV6, IPV6_MTU_DISCOVER, 0),
    I(SOL_IPV6, IPV6_RECVPATHMTU, 1), I(SOL_IPV6, IPV6_MULTICAST_HOPS, 5), I(SOL_IPV6, IPV6_MULTICAST_LOOP, 0),
    I(SOL_IPV6, IPV6_RECVORIGDSTADDR, 1), I(SOL_IPV6, IPV6_ROUTER_ALERT_ISOLATE, 1),
    /* sticky extension headers: a hop-by-hop header with a router alert (MLD's), a destination one with PadN */
    {"IPV6_HOPOPTS", SOL_IPV6, IPV6_HOPOPTS, 8, {0, 0, 5, 2, 0, 0, 1, 0}},
    {"IPV6_DSTOPTS", SOL_IPV6, IPV6_DSTOPTS, 8, {0, 0, 1, 4, 0, 0, 0, 0}},
};
static const struct opt TCP_OPTS[] = {
    I(SOL_TCP, TCP_NODELAY, 1), I(SOL_TCP, TCP_KEEPIDLE, 77), I(SOL_TCP, TCP_KEEPINTVL, 11),
    I(SOL_TCP, TCP_KEEPCNT, 4), I(SOL_TCP, TCP_USER_TIMEOUT, 12345), {"TCP_CONGESTION", SOL_TCP, TCP_CONGESTION, 4, "reno"},
    I(SOL_TCP, TCP_NOTSENT_LOWAT, 5000), I(SOL_TCP, TCP_DEFER_ACCEPT, 5), I(SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, 1),
    I(SOL_TCP, TCP_SYNCNT, 4), I(SOL_TCP, TCP_LINGER2, 9), I(SOL_TCP, TCP_TX_DELAY, 100), I(SOL_TCP, TCP_INQ, 1),
    I(SOL_TCP, TCP_SAVE_SYN, 1), I(SOL_TCP, TCP_WINDOW_CLAMP, 20000),
    /* 6.15, 6.16: the retransmission timeout's ceiling and floor, the delayed ack's ceiling (a multiple of a jiffy) */
    I(SOL_TCP, TCP_RTO_MAX_MS, 5000), I(SOL_TCP, TCP_RTO_MIN_US, 52000), I(SOL_TCP, TCP_DELACK_MAX_US, 12000),
};
/**
 * Only before a connection: a connection's MSS is the kernel's, fast open is a listener's, and so is the CPU
 * (SO_INCOMING_CPU: a connection's is the one its last packet came in on).
 */
static const struct opt TCP_UNCONNECTED_OPTS[] = {I(SOL_TCP, TCP_MAXSEG, 1000), I(SOL_TCP, TCP_FASTOPEN, 3),
                                                  I(SOL_SOCKET, SO_INCOMING_CPU, 1)};
static const struct opt UDP_OPTS[] = {I(SOL_UDP, UDP_SEGMENT, 1000), I(SOL_UDP, UDP_GRO, 1)};
static const struct opt NETLINK_OPTS[] = {
    I(SOL_NETLINK, NETLINK_PKTINFO, 1), I(SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1),
    I(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1), I(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, 1),
    I(SOL_NETLINK, NETLINK_CAP_ACK, 1), I(SOL_NETLINK, NETLINK_EXT_ACK, 1), I(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1),
};
static const struct opt PACKET_OPTS[] = {
    I(SOL_PACKET, PACKET_AUXDATA, 1), I(SOL_PACKET, PACKET_ORIGDEV, 1), I(SOL_PACKET, PACKET_QDISC_BYPASS, 1),
    I(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1), I(SOL_PACKET, PACKET_TIMESTAMP, 1),
};

#define LIST(a) a, (int)(sizeof a / sizeof a[0])

/** A socket of the sweep: what it is, and its options as read before the dump. */
struct sock {
    const char *kind;
    int fd;
    struct {
        const struct opt *o;
        unsigned char v[64];
        socklen_t len;
        int ok;
    } seen[128];
    int n;
};
static struct sock socks[32];
static int nsocks;

static struct sock *add(const char *kind, int fd) {
    if (fd < 0) {
        printf("FAIL: making the %s socket (errno %d)\n", kind, errno);
        exit(1);
    }
    socks[nsocks].kind = kind, socks[nsocks].fd = fd;
    return &socks[nsocks++];
}

/** Sets the options of list on s (those the kernel refuses for this kind are left: not options of it). */
static void set(struct sock *s, const struct opt *list, int n) {
    for (int i = 0; i < n; i++) {
        setsockopt(s->fd, list[i].level, list[i].opt, list[i].v, list[i].len);
        s->seen[s->n++].o = &list[i];
    }
    /* and its priority again, as a program may: IP_TOS sets it from the TOS (rt_tos2priority) */
    int priority = 5;
    setsockopt(s->fd, SOL_SOCKET, SO_PRIORITY, &priority, sizeof priority);
}

static void read_all(struct sock *s, int compare, int *diffs) {
    for (int i = 0; i < s->n; i++) {
        unsigned char v[64] = {0};
        socklen_t len = sizeof v;
        int ok = getsockopt(s->fd, s->seen[i].o->level, s->seen[i].o->opt, v, &len) == 0;
        if (!compare) {
            memcpy(s->seen[i].v, v, sizeof v), s->seen[i].len = len, s->seen[i].ok = ok;
        } else if (!strcmp(s->kind, "tcp-accepted") && s->seen[i].o->opt == IP_MULTICAST_TTL
                   && s->seen[i].o->level == SOL_IP) {
            continue; /* the TTL of the client's SYN, copied by the kernel; a stream socket cannot set it */
        } else if (ok != s->seen[i].ok || (ok && (len != s->seen[i].len || memcmp(v, s->seen[i].v, len)))) {
            int was = 0, now = 0;
            memcpy(&was, s->seen[i].v, 4), memcpy(&now, v, 4);
            printf("DIFF %s %s: was %d (%u bytes%s), now %d (%u bytes%s)\n", s->kind, s->seen[i].o->name, was,
                   s->seen[i].len, s->seen[i].ok ? "" : ", unreadable", now, len, ok ? "" : ", unreadable");
            (*diffs)++;
        }
    }
}

static void inet_opts(struct sock *s, int v6, int stream, int unconnected) {
    set(s, LIST(SOCKET_OPTS));
    set(s, LIST(IP_OPTS));
    if (v6) set(s, LIST(IP6_OPTS));
    if (stream) {
        set(s, LIST(TCP_OPTS));
        if (unconnected) set(s, LIST(TCP_UNCONNECTED_OPTS));
    } else {
        set(s, LIST(UDP_OPTS));
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len;

    /* an established connection: its listener, the client and the accepted end; options set once connected */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = lo;
    len = sizeof at;
    if (l < 0 || bind(l, (struct sockaddr *)&lo, sizeof lo) || listen(l, 4) || getsockname(l, (struct sockaddr *)&at, &len))
        fail("tcp listener");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&at, sizeof at)) fail("tcp connect");
    int a = accept(l, NULL, NULL);
    /* a plain connection, no option set: its segment size (the kernel's, half the largest window on loopback:
     * 32768) came back capped at 32755 by TCP_MAXSEG's limit */
    int pc = socket(AF_INET, SOCK_STREAM, 0);
    if (pc < 0 || connect(pc, (struct sockaddr *)&at, sizeof at)) fail("plain connect");
    int pa = accept(l, NULL, NULL);
    static const struct opt mss = {"TCP_MAXSEG", SOL_TCP, TCP_MAXSEG, 0, {0}}; /* read only */
    set(add("tcp-plain-client", pc), &mss, 1);
    set(add("tcp-plain-accepted", pa), &mss, 1);
    inet_opts(add("tcp-client", c), 0, 1, 0);
    inet_opts(add("tcp-accepted", a), 0, 1, 0);
    inet_opts(add("tcp-listener", l), 0, 1, 0);

    int l6 = socket(AF_INET6, SOCK_STREAM, 0);
    inet_opts(add("tcp6-listener", l6), 1, 1, 1);
    if (bind(l6, (struct sockaddr *)&lo6, sizeof lo6) || listen(l6, 4)) fail("tcp6 listen");
    inet_opts(add("tcp-unconnected", socket(AF_INET, SOCK_STREAM, 0)), 0, 1, 1);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    inet_opts(add("udp", u), 0, 0, 0);
    if (bind(u, (struct sockaddr *)&lo, sizeof lo)) fail("udp bind");
    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    inet_opts(add("udp6", u6), 1, 0, 0);
    if (bind(u6, (struct sockaddr *)&lo6, sizeof lo6)) fail("udp6 bind");
    int uc = socket(AF_INET, SOCK_DGRAM, 0);
    if (uc < 0 || connect(uc, (struct sockaddr *)&at, sizeof at)) fail("udp connect");
    inet_opts(add("udp-connected", uc), 0, 0, 0);

    int r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    struct sock *rs = add("raw-icmp", r);
    set(rs, LIST(SOCKET_OPTS));
    set(rs, LIST(IP_OPTS));

    int p[2];
    const char *unix_kinds[] = {"unix-stream", "unix-dgram", "unix-seqpacket"};
    int unix_types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    for (int k = 0; k < 3; k++) {
        if (socketpair(AF_UNIX, unix_types[k], 0, p)) fail("socketpair");
        set(add(unix_kinds[k], p[0]), LIST(SOCKET_OPTS));
        static const struct opt peek = I(SOL_SOCKET, SO_PEEK_OFF, 0);
        set(&socks[nsocks - 1], &peek, 1);
        add(unix_kinds[k], p[1]); /* the peer, as it is */
    }
    int ul = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un { sa_family_t f; char path[108]; } un = {AF_UNIX, "\0cryo-sweep"};
    set(add("unix-listener", ul), LIST(SOCKET_OPTS));
    if (bind(ul, (struct sockaddr *)&un, sizeof(sa_family_t) + 11) || listen(ul, 2)) fail("unix listen");

    int n = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct sock *ns = add("netlink-route", n);
    set(ns, LIST(SOCKET_OPTS));
    set(ns, LIST(NETLINK_OPTS));
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK}; /* no group of the first 32: other tests' links come and go */
    if (bind(n, (struct sockaddr *)&nl, sizeof nl)) fail("netlink bind");
    int big = 33; /* RTNLGRP_BRVLAN: above 32, joined only with NETLINK_ADD_MEMBERSHIP */
    if (setsockopt(n, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &big, sizeof big)) fail("NETLINK_ADD_MEMBERSHIP 33");
    static const struct opt groups = {"NETLINK_LIST_MEMBERSHIPS", SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 0, {0}};
    set(ns, &groups, 1);

    int pk = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
    struct sock *ps = add("packet", pk);
    set(ps, LIST(SOCKET_OPTS));
    set(ps, LIST(PACKET_OPTS));

    for (int i = 0; i < nsocks; i++) {
        int none = 0;
        read_all(&socks[i], 0, &none);
    }
    printf("ready\n");
    while (!check) { /* the kernel's notifications read as they come (LISTEN_ALL_NSID: of every namespace) */
        struct pollfd w = {.fd = n, .events = POLLIN};
        char drop[8192];
        if (poll(&w, 1, 100) == 1) (void)!recv(n, drop, sizeof drop, MSG_DONTWAIT);
    }
    int diffs = 0;
    for (int i = 0; i < nsocks; i++) read_all(&socks[i], 1, &diffs);
    if (diffs) printf("FAIL: %d options came back different\n", diffs);
    else printf("PASS\n");
    return diffs != 0;
}

