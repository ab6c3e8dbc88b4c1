/*
 * Socket options real servers set, and raw sockets (ping, squid's pinger). Found by running real
 * programs through dump and restore: unbound's UDP sockets came back without IP_PMTUDISC_OMIT and
 * its listeners without TCP_FASTOPEN, apache's listener without TCP_DEFER_ACCEPT; ping and squid
 * were refused for their raw sockets.
 *   - a UDP IPv4 socket: IP_MTU_DISCOVER, IP_RECVERR, IP_PKTINFO, IP_RECVTTL, IP_MULTICAST_TTL,
 *     IP_MULTICAST_LOOP, IP_UNICAST_IF (an index in network order), SO_TIMESTAMPNS;
 *   - a UDP IPv6 socket: IPV6_RECVPKTINFO, IPV6_MTU_DISCOVER, IPV6_RECVERR, IPV6_UNICAST_HOPS;
 *   - a TCP listener: TCP_DEFER_ACCEPT, TCP_FASTOPEN, TCP_MAXSEG, TCP_LINGER2, TCP_NOTSENT_LOWAT,
 *     TCP_SYNCNT, TCP_CONGESTION, and SO_RCVBUF set to the size it had (nginx's rcvbuf=64k): the
 *     size does not change, but the kernel stops tuning it (SO_BUF_LOCK);
 *     and TCP_SAVE_SYN and TCP_INQ on (found by the state comparator's wider view: both came back off);
 *     its own fast open key (TCP_FASTOPEN_KEY: getsockopt reads the net namespace's when it has none);
 *   - a UDP IPv6 socket with a sticky IPV6_PKTINFO naming an interface other than lo, which no getsockopt
 *     reads: a datagram to ::1 from it fails (ENETUNREACH: ::1 is not reached through that interface), and must
 *     fail alike after the restore (without it, it goes to ::1 through lo);
 *   - a UDP socket whose multicast goes out of lo, named by index (IP_MULTICAST_IF with a struct ip_mreqn,
 *     which getsockopt gives back as address 0.0.0.0): after the restore its datagram to a group reaches a
 *     socket that joined that group on lo (sent out of the default route's interface, it does not);
 *   - the UDP IPv6 socket's IPV6_FLOWINFO and IPV6_FLOWINFO_SEND on (the same);
 *   - a TCP socket not connected yet with TCP_QUICKACK off (delayed acks: zdtm's sock_tcp_opts01);
 *   - a raw ICMP socket bound to 127.0.0.1 with an ICMP_FILTER letting echo replies only, and
 *     IP_RECVERR: after the restore it pings 127.0.0.1 and must get the reply, and the filter;
 *   - a raw ICMPv6 socket with an ICMPV6_FILTER; a raw socket of protocol 254 with IP_HDRINCL and
 *     IP_ROUTER_ALERT (an RSVP daemon's: no getsockopt reads it; set again it says EADDRINUSE);
 *     a raw socket of protocol 253 connected to 127.0.0.2 (port 0: getpeername says ENOTCONN, so
 *     only the packet it sends, received by a raw socket bound to 127.0.0.2, shows the peer).
 *   - an ICMP datagram ("ping") socket, when net.ipv4.ping_group_range lets this gid make one:
 *     its ICMP id (its port, given at its first echo) is the same after the restore, and it pings.
 * Prints "ready", then on SIGUSR2 "PASS ping=1" (or ping=0 without a ping socket) or FAIL: reason.
 */
#define _GNU_SOURCE
#include <linux/icmp.h>
#include <linux/icmpv6.h>
extern unsigned int if_nametoindex(const char *name); /* net/if.h clashes with linux/icmp.h */
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

extern char *if_indextoname(unsigned int index, char *name); /* net/if.h's, which clashes with linux/if.h */

#include "workload.h"

#ifndef IPV6_PKTINFO
#define IPV6_PKTINFO 50
#endif

#ifndef IP_PMTUDISC_OMIT
#define IP_PMTUDISC_OMIT 5
#endif
#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef TCP_INQ
#define TCP_INQ 36
#endif
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33
#endif
#ifndef IPV6_PMTUDISC_OMIT
#define IPV6_PMTUDISC_OMIT 5
#endif

static void set(int s, int level, int name, int value, const char *what) {
    if (setsockopt(s, level, name, &value, sizeof value)) fail(what);
}

static void expect(int s, int level, int name, int value, const char *what) {
    int got = -12345;
    socklen_t n = sizeof got;
    if (getsockopt(s, level, name, &got, &n)) fail(what);
    if (got != value) {
        printf("FAIL: %s is %d, was %d\n", what, got, value);
        exit(1);
    }
}

static unsigned short csum(const void *p, int len) {
    const unsigned short *w = p;
    unsigned sum = 0;
    for (; len > 1; len -= 2) sum += *w++;
    if (len) sum += *(const unsigned char *)w;
    sum = (sum >> 16) + (sum & 0xffff);
    sum += sum >> 16;
    return (unsigned short)~sum;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 lo6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int loindex = (int)if_nametoindex("lo");
    if (loindex <= 0) fail("if_nametoindex(lo)");

    int u4 = socket(AF_INET, SOCK_DGRAM, 0);
    if (u4 < 0 || bind(u4, (struct sockaddr *)&lo, sizeof lo)) fail("udp4");
    set(u4, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT, "IP_MTU_DISCOVER");
    set(u4, SOL_IP, IP_RECVERR, 1, "IP_RECVERR");
    set(u4, SOL_IP, IP_PKTINFO, 1, "IP_PKTINFO");
    set(u4, SOL_IP, IP_RECVTTL, 1, "IP_RECVTTL");
    set(u4, SOL_IP, IP_MULTICAST_TTL, 5, "IP_MULTICAST_TTL");
    set(u4, SOL_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
    set(u4, SOL_IP, IP_UNICAST_IF, (int)htonl(loindex), "IP_UNICAST_IF");
    set(u4, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");

    int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    if (u6 < 0 || bind(u6, (struct sockaddr *)&lo6, sizeof lo6)) fail("udp6");
    set(u6, SOL_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
    set(u6, SOL_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_OMIT, "IPV6_MTU_DISCOVER");
    set(u6, SOL_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR");
    set(u6, SOL_IPV6, IPV6_UNICAST_HOPS, 7, "IPV6_UNICAST_HOPS");
    set(u6, SOL_IPV6, IPV6_FLOWINFO, 1, "IPV6_FLOWINFO");
    set(u6, SOL_IPV6, IPV6_FLOWINFO_SEND, 1, "IPV6_FLOWINFO_SEND");

    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) fail("tcp");
    int q = socket(AF_INET, SOCK_STREAM, 0);
    if (q < 0) fail("tcp quickack");
    set(q, SOL_TCP, TCP_QUICKACK, 0, "TCP_QUICKACK");
    set(l, SOL_TCP, TCP_DEFER_ACCEPT, 31, "TCP_DEFER_ACCEPT");
    set(l, SOL_TCP, TCP_FASTOPEN, 5, "TCP_FASTOPEN");
    unsigned char key[16] = "cryo-tfo-key-56";
    if (setsockopt(l, SOL_TCP, TCP_FASTOPEN_KEY, key, sizeof key)) fail("TCP_FASTOPEN_KEY");
    int mc = socket(AF_INET, SOCK_DGRAM, 0);
    struct ip_mreqn byindex = {.imr_ifindex = 1}; /* lo */
    if (mc < 0 || setsockopt(mc, SOL_IP, IP_MULTICAST_IF, &byindex, sizeof byindex)) fail("IP_MULTICAST_IF by index");
    int sticky = socket(AF_INET6, SOCK_DGRAM, 0);
    struct { struct in6_addr addr; int ifindex; } pi = {IN6ADDR_ANY_INIT, 0}; /* struct in6_pktinfo */
    char ifname[16];
    for (int i = 1; i < 1024 && !pi.ifindex; i++)
        if (if_indextoname(i, ifname) && strcmp(ifname, "lo") != 0) pi.ifindex = i;
    struct sockaddr_in6 discard6 = {.sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (sticky < 0 || setsockopt(sticky, SOL_IPV6, IPV6_PKTINFO, &pi, sizeof pi)) fail("sticky IPV6_PKTINFO");
    int stuck = pi.ifindex && sendto(sticky, "s", 1, 0, (struct sockaddr *)&discard6, sizeof discard6) < 0 ? errno : 0;
    int mr = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET}, group = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xef380203)};
    struct ip_mreqn join = {.imr_multiaddr = group.sin_addr, .imr_ifindex = 1};
    socklen_t gn = sizeof group;
    if (mr < 0 || bind(mr, (struct sockaddr *)&any, sizeof any) || getsockname(mr, (struct sockaddr *)&any, &gn)
        || setsockopt(mr, SOL_IP, IP_ADD_MEMBERSHIP, &join, sizeof join)) fail("a member of 239.56.2.3 on lo");
    group.sin_port = any.sin_port;
    set(l, SOL_TCP, TCP_MAXSEG, 1200, "TCP_MAXSEG");
    set(l, SOL_TCP, TCP_LINGER2, 17, "TCP_LINGER2");
    set(l, SOL_TCP, TCP_NOTSENT_LOWAT, 16384, "TCP_NOTSENT_LOWAT");
    set(l, SOL_TCP, TCP_SYNCNT, 3, "TCP_SYNCNT");
    set(l, SOL_TCP, TCP_SAVE_SYN, 1, "TCP_SAVE_SYN");
    set(l, SOL_TCP, TCP_INQ, 1, "TCP_INQ");
    if (setsockopt(l, SOL_TCP, TCP_CONGESTION, "reno", 4)) fail("TCP_CONGESTION");
    int rcvbuf = 0;
    socklen_t len = sizeof rcvbuf;
    if (getsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len)) fail("SO_RCVBUF");
    set(l, SOL_SOCKET, SO_RCVBUF, rcvbuf / 2, "SO_RCVBUF"); // the kernel doubles it back
    expect(l, SOL_SOCKET, SO_BUF_LOCK, 2 /* SOCK_RCVBUF_LOCK */, "SO_BUF_LOCK before the dump");
    if (bind(l, (struct sockaddr *)&lo, sizeof lo) || listen(l, 8)) fail("listen");

    int icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (icmp < 0 || bind(icmp, (struct sockaddr *)&lo, sizeof lo)) fail("raw icmp");
    struct icmp_filter filter = {.data = ~(1u << ICMP_ECHOREPLY)};
    if (setsockopt(icmp, SOL_RAW, ICMP_FILTER, &filter, sizeof filter)) fail("ICMP_FILTER");
    set(icmp, SOL_IP, IP_RECVERR, 1, "raw IP_RECVERR");

    int icmp6 = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (icmp6 < 0) fail("raw icmpv6");
    struct icmp6_filter f6;
    memset(&f6, 0xff, sizeof f6);
    f6.data[ICMPV6_ECHO_REPLY >> 5] &= ~(1u << (ICMPV6_ECHO_REPLY & 31));
    if (setsockopt(icmp6, SOL_ICMPV6, ICMPV6_FILTER, &f6, sizeof f6)) fail("ICMPV6_FILTER");

    int r254 = socket(AF_INET, SOCK_RAW, 254);
    if (r254 < 0) fail("raw 254");
    set(r254, SOL_IP, IP_HDRINCL, 1, "IP_HDRINCL");
    set(r254, SOL_IP, IP_ROUTER_ALERT, 1, "IP_ROUTER_ALERT");
    int r253 = socket(AF_INET, SOCK_RAW, 253), sink = socket(AF_INET, SOCK_RAW, 253);
    struct sockaddr_in lo2 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002)};
    if (r253 < 0 || connect(r253, (struct sockaddr *)&lo2, sizeof lo2)) fail("raw 253");
    if (sink < 0 || bind(sink, (struct sockaddr *)&lo2, sizeof lo2)) fail("raw 253 sink");

    int ping4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    struct sockaddr_in pingname = {0};
    if (ping4 >= 0) {
        struct icmphdr e = {.type = ICMP_ECHO, .un.echo.sequence = htons(1)};
        unsigned char buf[256];
        if (sendto(ping4, &e, sizeof e, 0, (struct sockaddr *)&lo, sizeof lo) != sizeof e
            || recv(ping4, buf, sizeof buf, 0) < (ssize_t)sizeof e) fail("first ping");
        socklen_t pn = sizeof pingname;
        if (getsockname(ping4, (struct sockaddr *)&pingname, &pn) || pingname.sin_port == 0) fail("ping socket's id");
    }

    printf("ready\n");
    while (!check) pause();

    expect(u4, SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_OMIT, "IP_MTU_DISCOVER");
    expect(u4, SOL_IP, IP_RECVERR, 1, "IP_RECVERR");
    expect(u4, SOL_IP, IP_PKTINFO, 1, "IP_PKTINFO");
    expect(u4, SOL_IP, IP_RECVTTL, 1, "IP_RECVTTL");
    expect(u4, SOL_IP, IP_MULTICAST_TTL, 5, "IP_MULTICAST_TTL");
    expect(u4, SOL_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
    expect(u4, SOL_IP, IP_UNICAST_IF, (int)htonl(loindex), "IP_UNICAST_IF");
    expect(u4, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
    expect(u6, SOL_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
    expect(u6, SOL_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_OMIT, "IPV6_MTU_DISCOVER");
    expect(u6, SOL_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR");
    expect(u6, SOL_IPV6, IPV6_UNICAST_HOPS, 7, "IPV6_UNICAST_HOPS");
    expect(u6, SOL_IPV6, IPV6_FLOWINFO, 1, "IPV6_FLOWINFO");
    expect(u6, SOL_IPV6, IPV6_FLOWINFO_SEND, 1, "IPV6_FLOWINFO_SEND");
    expect(q, SOL_TCP, TCP_QUICKACK, 0, "TCP_QUICKACK");
    expect(l, SOL_TCP, TCP_DEFER_ACCEPT, 31, "TCP_DEFER_ACCEPT");
    expect(l, SOL_TCP, TCP_FASTOPEN, 5, "TCP_FASTOPEN");
    unsigned char k[32] = {0};
    socklen_t kn = sizeof k;
    if (getsockopt(l, SOL_TCP, TCP_FASTOPEN_KEY, k, &kn) || kn != sizeof key || memcmp(k, key, sizeof key))
        fail("the listener's own TCP_FASTOPEN_KEY lost");
    if (stuck && (sendto(sticky, "s", 1, 0, (struct sockaddr *)&discard6, sizeof discard6) >= 0 || errno != stuck))
        fail("the sticky IPV6_PKTINFO lost: a datagram to ::1 is sent through lo");
    struct pollfd mp = {.fd = mr, .events = POLLIN};
    if (sendto(mc, "m", 1, 0, (struct sockaddr *)&group, sizeof group) != 1 || poll(&mp, 1, 2000) != 1)
        fail("IP_MULTICAST_IF by index lost: the group's member on lo got nothing");
    expect(l, SOL_TCP, TCP_MAXSEG, 1200, "TCP_MAXSEG");
    expect(l, SOL_TCP, TCP_LINGER2, 17, "TCP_LINGER2");
    expect(l, SOL_TCP, TCP_NOTSENT_LOWAT, 16384, "TCP_NOTSENT_LOWAT");
    expect(l, SOL_TCP, TCP_SYNCNT, 3, "TCP_SYNCNT");
    expect(l, SOL_TCP, TCP_SAVE_SYN, 1, "TCP_SAVE_SYN");
    expect(l, SOL_TCP, TCP_INQ, 1, "TCP_INQ");
    expect(l, SOL_SOCKET, SO_RCVBUF, rcvbuf, "SO_RCVBUF");
    expect(l, SOL_SOCKET, SO_BUF_LOCK, 2, "SO_BUF_LOCK");
    char cc[16] = {0};
    socklen_t n = sizeof cc;
    if (getsockopt(l, SOL_TCP, TCP_CONGESTION, cc, &n) || strcmp(cc, "reno") != 0) fail("TCP_CONGESTION lost");
    expect(icmp, SOL_IP, IP_RECVERR, 1, "raw IP_RECVERR");
    expect(r254, SOL_IP, IP_HDRINCL, 1, "IP_HDRINCL");
    int on = 1;
    if (setsockopt(r254, SOL_IP, IP_ROUTER_ALERT, &on, sizeof on) == 0) fail("IP_ROUTER_ALERT came back off");
    if (errno != EADDRINUSE) fail("IP_ROUTER_ALERT set again");

    int type = 0, proto = 0;
    n = sizeof type;
    if (getsockopt(icmp6, SOL_SOCKET, SO_TYPE, &type, &n) || type != SOCK_RAW) fail("icmpv6 socket not raw");
    n = sizeof proto;
    if (getsockopt(r253, SOL_SOCKET, SO_PROTOCOL, &proto, &n) || proto != 253) fail("raw socket's protocol");
    struct icmp6_filter g6;
    n = sizeof g6;
    if (getsockopt(icmp6, SOL_ICMPV6, ICMPV6_FILTER, &g6, &n) || memcmp(&g6, &f6, sizeof f6)) fail("ICMPV6_FILTER lost");
    struct icmp_filter got;
    n = sizeof got;
    if (getsockopt(icmp, SOL_RAW, ICMP_FILTER, &got, &n) || got.data != filter.data) fail("ICMP_FILTER lost");
    struct sockaddr_in a;
    n = sizeof a;
    if (getsockname(icmp, (struct sockaddr *)&a, &n) || a.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) fail("raw bind lost");
    if (send(r253, "x", 1, 0) != 1) fail("the raw socket is not connected any more");
    struct pollfd ps = {.fd = sink, .events = POLLIN};
    char pkt[64];
    if (poll(&ps, 1, 10000) != 1 || recv(sink, pkt, sizeof pkt, 0) != (ssize_t)sizeof(struct iphdr) + 1
        || ((struct iphdr *)pkt)->daddr != htonl(0x7f000002)) fail("the raw socket's packet did not reach its peer");

    // the raw socket works: an echo request to 127.0.0.1 comes back as a reply it lets through
    struct icmphdr req = {.type = ICMP_ECHO, .un.echo.id = htons((unsigned short)getpid()), .un.echo.sequence = htons(7)};
    req.checksum = csum(&req, sizeof req);
    if (sendto(icmp, &req, sizeof req, 0, (struct sockaddr *)&lo, sizeof lo) != sizeof req) fail("send echo request");
    for (;;) {
        struct pollfd p = {.fd = icmp, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) fail("no echo reply within 10 s");
        unsigned char buf[256];
        ssize_t got_len = recv(icmp, buf, sizeof buf, 0);
        if (got_len < (ssize_t)(sizeof(struct iphdr) + sizeof req)) fail("short packet");
        struct icmphdr *h = (struct icmphdr *)(buf + ((struct iphdr *)buf)->ihl * 4);
        if (h->type != ICMP_ECHOREPLY) fail("the filter let another ICMP type through");
        if (h->un.echo.id == req.un.echo.id && h->un.echo.sequence == req.un.echo.sequence) break;
    }
    if (ping4 >= 0) {
        struct sockaddr_in now = {0};
        n = sizeof now;
        if (getsockname(ping4, (struct sockaddr *)&now, &n) || now.sin_port != pingname.sin_port) fail("ping socket's id lost");
        struct icmphdr e = {.type = ICMP_ECHO, .un.echo.sequence = htons(2)};
        unsigned char buf[256];
        if (sendto(ping4, &e, sizeof e, 0, (struct sockaddr *)&lo, sizeof lo) != sizeof e) fail("second ping");
        struct pollfd pp = {.fd = ping4, .events = POLLIN};
        if (poll(&pp, 1, 10000) != 1 || recv(ping4, buf, sizeof buf, 0) < (ssize_t)sizeof e) fail("no second reply");
        struct icmphdr *h = (struct icmphdr *)buf;
        if (h->type != ICMP_ECHOREPLY || h->un.echo.sequence != htons(2) || h->un.echo.id != pingname.sin_port)
            fail("the second reply is not ours");
    }
    printf("PASS ping=%d\n", ping4 >= 0);
    return 0;
}
