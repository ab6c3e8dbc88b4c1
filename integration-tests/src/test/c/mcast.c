/*
 * Multicast memberships on the loopback interface: a UDP socket in 239.7.7.1 (IP_ADD_MEMBERSHIP,
 * any source) and in 239.7.7.2 from one source only (MCAST_JOIN_SOURCE_GROUP), an IPv6 one in
 * ff15::7:1 (MCAST_JOIN_GROUP). On SIGUSR2 each socket asks the kernel for its filter of each group
 * (getsockopt MCAST_MSFILTER: EADDRNOTAVAIL when not a member), then a datagram sent to 239.7.7.1
 * over loopback must reach the first socket. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int lo;

/* the filter mode (MCAST_INCLUDE 1 / MCAST_EXCLUDE 0) and source count, or -1 if not a member */
static int filter(int s, int level, struct sockaddr *group, socklen_t glen, int *sources) {
    char buf[sizeof(struct group_filter) + 8 * sizeof(struct sockaddr_storage)];
    struct group_filter *gf = (struct group_filter *)buf;
    memset(buf, 0, sizeof buf);
    gf->gf_interface = lo;
    memcpy(&gf->gf_group, group, glen);
    gf->gf_numsrc = 8;
    socklen_t len = sizeof buf;
    if (getsockopt(s, level, MCAST_MSFILTER, gf, &len)) return -1;
    *sources = gf->gf_numsrc;
    return gf->gf_fmode;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    lo = if_nametoindex("lo");
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET6, SOCK_DGRAM, 0);
    if (a < 0 || b < 0 || c < 0) fail("socket");
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(a, (struct sockaddr *)&any, sizeof any)) fail("bind");
    socklen_t al = sizeof any;
    getsockname(a, (struct sockaddr *)&any, &al);
    struct ip_mreqn m = {.imr_ifindex = lo};
    inet_pton(AF_INET, "239.7.7.1", &m.imr_multiaddr);
    if (setsockopt(a, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m)) fail("IP_ADD_MEMBERSHIP");
    struct group_source_req gs = {.gsr_interface = lo};
    struct sockaddr_in *g2 = (struct sockaddr_in *)&gs.gsr_group, *src = (struct sockaddr_in *)&gs.gsr_source;
    g2->sin_family = AF_INET;
    inet_pton(AF_INET, "239.7.7.2", &g2->sin_addr);
    src->sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.9", &src->sin_addr);
    if (setsockopt(b, IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, &gs, sizeof gs)) fail("MCAST_JOIN_SOURCE_GROUP");
    struct group_req g6 = {.gr_interface = lo};
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&g6.gr_group;
    s6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "ff15::7:1", &s6->sin6_addr);
    int v6 = setsockopt(c, IPPROTO_IPV6, MCAST_JOIN_GROUP, &g6, sizeof g6) == 0;
    printf("ready\n");
    while (!check) pause();

    struct sockaddr_in g1 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "239.7.7.1", &g1.sin_addr);
    int n, mode = filter(a, IPPROTO_IP, (struct sockaddr *)&g1, sizeof g1, &n);
    if (mode != MCAST_EXCLUDE || n != 0) { printf("FAIL: socket a is not in 239.7.7.1 for any source (mode %d)\n", mode); return 1; }
    if (filter(b, IPPROTO_IP, (struct sockaddr *)&g1, sizeof g1, &n) != -1) { printf("FAIL: socket b joined 239.7.7.1\n"); return 1; }
    mode = filter(b, IPPROTO_IP, (struct sockaddr *)g2, sizeof *g2, &n);
    if (mode != MCAST_INCLUDE || n != 1) { printf("FAIL: socket b is not in 239.7.7.2 for one source (mode %d, %d)\n", mode, n); return 1; }
    if (v6) {
        mode = filter(c, IPPROTO_IPV6, (struct sockaddr *)s6, sizeof *s6, &n);
        if (mode != MCAST_EXCLUDE) { printf("FAIL: socket c is not in ff15::7:1 (mode %d)\n", mode); return 1; }
    }
    /* a datagram to the group over loopback reaches the member */
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct in_addr loaddr = {htonl(INADDR_LOOPBACK)};
    if (setsockopt(tx, IPPROTO_IP, IP_MULTICAST_IF, &loaddr, sizeof loaddr)) fail("IP_MULTICAST_IF");
    g1.sin_port = any.sin_port;
    if (sendto(tx, "mc", 2, 0, (struct sockaddr *)&g1, sizeof g1) != 2) fail("sendto");
    struct pollfd p = {.fd = a, .events = POLLIN};
    char got[4] = {0};
    if (poll(&p, 1, 5000) != 1 || recv(a, got, sizeof got, 0) != 2 || memcmp(got, "mc", 2)) {
        printf("FAIL: a datagram to 239.7.7.1 did not reach its member\n");
        return 1;
    }
    printf("PASS v6=%d\n", v6);
    return 0;
}
