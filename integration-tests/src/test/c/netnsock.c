/*
 * netnsock — sockets living inside a net namespace of the tree's own, as a container holds them.
 * Started as `unshare -n --pid --fork --mount-proc sh -c 'SETUP && exec netnsock'`, where SETUP
 * brings lo up, adds 10.77.0.1/24 on lo, a route to 10.78.0.0/24 through lo, sets
 * ip_local_port_range to "20000 20999" (and a few more sysctls, some of the veth's: checked below), and
 * makes a veth pair cryo-va/cryo-vb inside, both up, with
 * 10.80.0.1/24 on cryo-va (all inside the namespace). It then holds:
 *   - a TCP listener on 10.77.0.1:7000 with one accepted connection; each side has written bytes
 *     the other has not read ("to-server", "to-client");
 *   - a UDP socket on 127.0.0.1:7001 with an unread datagram from a second UDP socket;
 *   - a unix stream socketpair with unread bytes, and an abstract unix listener "@netnsock" with a
 *     connected client (abstract names belong to the net namespace);
 * prints "ready" and waits.
 *
 * On SIGUSR2 it checks that its net namespace is not the host's; reads every unread byte and
 * datagram; the TCP connection carries a new exchange both ways; the listener accepts a new
 * connection; the abstract name still reaches its listener; the port range and the route are
 * there (a UDP connect to 10.78.0.5 works), and so is the veth's address (a bind to 10.80.0.1
 * works). Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <arpa/inet.h>
#include <stddef.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define INIT_NET 0xEFFFFFF9UL

static struct sockaddr_in in4(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_un abstract_name(socklen_t *len)
{
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    memcpy(u.sun_path, "\0netnsock", 9);
    *len = offsetof(struct sockaddr_un, sun_path) + 9;
    return u;
}

static int expect(int fd, const char *want)
{
    char got[64] = {0};
    size_t n = strlen(want), have = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (have < n) {
        ssize_t r = read(fd, got + have, n - have);
        if (r <= 0)
            return 0;
        have += r;
    }
    return memcmp(got, want, n) == 0;
}

int main(void)
{
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in srv = in4("10.77.0.1", 7000);
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l < 0 || bind(l, (struct sockaddr *)&srv, sizeof srv) || listen(l, 8))
        fail("listen on 10.77.0.1:7000");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&srv, sizeof srv))
        fail("connect");
    int a = accept(l, NULL, NULL);
    if (a < 0)
        fail("accept");
    if (write(c, "to-server", 9) != 9 || write(a, "to-client", 9) != 9)
        fail("tcp write");

    struct sockaddr_in u4 = in4("127.0.0.1", 7001);
    int u = socket(AF_INET, SOCK_DGRAM, 0), us = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(u, (struct sockaddr *)&u4, sizeof u4) || sendto(us, "dgram", 5, 0, (struct sockaddr *)&u4, sizeof u4) != 5)
        fail("udp");

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) || write(pair[0], "paired", 6) != 6)
        fail("socketpair");
    socklen_t alen;
    struct sockaddr_un an = abstract_name(&alen);
    int ul = socket(AF_UNIX, SOCK_STREAM, 0), uc = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(ul, (struct sockaddr *)&an, alen) || listen(ul, 4) || connect(uc, (struct sockaddr *)&an, alen))
        fail("abstract unix listener");
    int ua = accept(ul, NULL, NULL);
    if (ua < 0)
        fail("abstract accept");

    usleep(100000); /* the bytes written are in the peers' queues */
    printf("ready\n");
    fflush(stdout);
    while (!check)
        pause();

    struct stat st;
    if (stat("/proc/self/ns/net", &st) || st.st_ino == INIT_NET)
        fail("back in the host's net namespace");
    if (!expect(a, "to-server") || !expect(c, "to-client"))
        fail("the unread TCP bytes are not there");
    if (write(c, "again", 5) != 5 || !expect(a, "again") || write(a, "back", 4) != 4 || !expect(c, "back"))
        fail("no new exchange on the TCP connection");
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c2, (struct sockaddr *)&srv, sizeof srv) || accept(l, NULL, NULL) < 0)
        fail("the listener does not take a new connection");
    if (!expect(u, "dgram"))
        fail("the unread datagram is not there");
    if (!expect(pair[1], "paired"))
        fail("the socketpair's bytes are not there");
    int uc2 = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(uc2, (struct sockaddr *)&an, alen) || accept(ul, NULL, NULL) < 0)
        fail("the abstract name does not reach its listener");
    if (write(uc, "x", 1) != 1 || !expect(ua, "x"))
        fail("the abstract connection does not carry bytes");
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    int lo = 0, hi = 0;
    if (!f || fscanf(f, "%d %d", &lo, &hi) != 2 || lo != 20000 || hi != 20999)
        fail("ip_local_port_range is not 20000 20999");
    static const struct { const char *name; int value; } sysctls[] = {
        {"ipv4/tcp_keepalive_time", 77}, {"ipv4/icmp_echo_ignore_all", 1}, {"unix/max_dgram_qlen", 33},
        {"ipv4/conf/all/forwarding", 1}, {"ipv4/conf/lo/forwarding", 0}, {"ipv4/conf/cryo-vb/forwarding", 1},
        {"ipv4/conf/cryo-va/rp_filter", 2}, {"ipv4/neigh/cryo-vb/gc_stale_time", 4242},
    };
    for (unsigned i = 0; i < sizeof sysctls / sizeof sysctls[0]; i++) {
        char path[128], why[192];
        int v = -1;
        snprintf(path, sizeof path, "/proc/sys/net/%s", sysctls[i].name);
        FILE *s = fopen(path, "r");
        if (!s || fscanf(s, "%d", &v) != 1 || v != sysctls[i].value) {
            snprintf(why, sizeof why, "%s is %d, not %d", sysctls[i].name, v, sysctls[i].value);
            fail(why);
        }
        fclose(s);
    }
    struct sockaddr_in far = in4("10.78.0.5", 9);
    int r = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(r, (struct sockaddr *)&far, sizeof far))
        fail("no route to 10.78.0.0/24");
    struct sockaddr_in va = in4("10.80.0.1", 0);
    int v = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(v, (struct sockaddr *)&va, sizeof va))
        fail("10.80.0.1 is not on the veth pair made again");
    printf("PASS\n");
    fflush(stdout);
    return 0;
}
