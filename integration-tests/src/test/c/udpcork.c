/*
 * UDP sockets holding bytes written but not sent yet (zdtm's socket_udp-corked): an IPv4 socket
 * connected to a receiver with UDP_CORK set and two writes corked, one unconnected that sent with
 * MSG_MORE to a receiver (no UDP_CORK), an IPv6 one corked to an IPv6 receiver, and zdtm's shape,
 * a socket connected to itself with one write corked. Before "ready" and again on SIGUSR2 no
 * receiver has anything (the bytes are still corked); then each socket is uncorked (or sends its
 * last piece without MSG_MORE) and each receiver gets exactly one datagram, the corked bytes, from
 * its sender's address. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int udp(int family, struct sockaddr_storage *a, socklen_t *n) {
    int s = socket(family, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)a;
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *n = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)a;
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        *n = sizeof *v6;
    }
    if (s < 0 || bind(s, (struct sockaddr *)a, *n) || getsockname(s, (struct sockaddr *)a, n)) fail("socket/bind");
    return s;
}

static void cork(int s, int on) {
    if (setsockopt(s, IPPROTO_UDP, UDP_CORK, &on, sizeof on)) fail("UDP_CORK");
}

static int corked(int s) {
    int v = -1;
    socklen_t n = sizeof v;
    if (getsockopt(s, IPPROTO_UDP, UDP_CORK, &v, &n)) fail("getsockopt UDP_CORK");
    return v;
}

static void nothing(int r, const char *why) {
    char b[64];
    if (recv(r, b, sizeof b, MSG_DONTWAIT) >= 0 || errno != EAGAIN) fail(why);
}

/* r gets exactly `want` from the sender at `from`, and nothing more. */
static void expect(int r, const char *want, struct sockaddr_storage *from, socklen_t fromLen, const char *why) {
    char b[256];
    struct sockaddr_storage got;
    socklen_t n = sizeof got;
    ssize_t len = recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&got, &n);
    if (len != (ssize_t)strlen(want) || memcmp(b, want, len)) {
        printf("FAIL: %s: got %zd bytes '%.*s', want '%s'\n", why, len, (int)(len > 0 ? len : 0), b, want);
        exit(1);
    }
    if (n != fromLen || memcmp(&got, from, n)) fail("the datagram came from another address");
    nothing(r, "a second datagram came");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_storage ra1, ra2, ra3, aa, ba, ca, da;
    socklen_t n1, n2, n3, na, nb, nc, nd;
    int r1 = udp(AF_INET, &ra1, &n1), r2 = udp(AF_INET, &ra2, &n2), r3 = udp(AF_INET6, &ra3, &n3);
    int a = udp(AF_INET, &aa, &na), b = udp(AF_INET, &ba, &nb), c = udp(AF_INET6, &ca, &nc), d = udp(AF_INET, &da, &nd);

    if (connect(a, (struct sockaddr *)&ra1, n1)) fail("connect a");
    cork(a, 1);
    if (write(a, "corked ", 7) != 7 || write(a, "twice", 5) != 5) fail("write a");
    if (sendto(b, "more", 4, MSG_MORE, (struct sockaddr *)&ra2, n2) != 4
        || sendto(b, "+more", 5, MSG_MORE, (struct sockaddr *)&ra2, n2) != 5) fail("sendto b");
    cork(c, 1);
    if (sendto(c, "six", 3, 0, (struct sockaddr *)&ra3, n3) != 3) fail("sendto c");
    if (connect(d, (struct sockaddr *)&da, nd)) fail("connect d");
    cork(d, 1);
    if (write(d, "msg1", 4) != 4) fail("write d");
    nothing(r1, "r1 got a datagram before the dump");
    nothing(r2, "r2 got a datagram before the dump");
    nothing(r3, "r3 got a datagram before the dump");
    nothing(d, "d got its datagram before the dump");
    printf("ready\n");
    while (!check) pause();

    nothing(r1, "r1 got the corked datagram early");
    nothing(r2, "r2 got the MSG_MORE datagram early");
    nothing(r3, "r3 got the corked datagram early");
    nothing(d, "d got its corked datagram early");
    if (corked(a) != 1 || corked(b) != 0 || corked(c) != 1 || corked(d) != 1) fail("UDP_CORK changed");
    cork(a, 0);
    expect(r1, "corked twice", &aa, na, "r1");
    if (sendto(b, "!", 1, 0, (struct sockaddr *)&ra2, n2) != 1) fail("last sendto b");
    expect(r2, "more+more!", &ba, nb, "r2");
    cork(c, 0);
    expect(r3, "six", &ca, nc, "r3");
    cork(d, 0);
    expect(d, "msg1", &da, nd, "d");
    /* and they send plainly again */
    if (send(a, "again", 5, 0) != 5) fail("send a");
    expect(r1, "again", &aa, na, "r1 again");
    printf("PASS\n");
    return 0;
}
