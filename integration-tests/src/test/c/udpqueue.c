/*
 * UDP sockets holding unread datagrams at the dump (cryo refused them: "unread datagrams"):
 * a wildcard IPv4 socket with datagrams from two senders still open, an empty one, and one from
 * 127.0.0.2 whose sender is closed since; a socket connected to one sender; an IPv6 socket with
 * one from ::1, and a dual-stack one with one from IPv4. On SIGUSR2 each comes back in order with
 * its payload and sender, nothing more, and new datagrams still arrive. Prints PASS or FAIL: reason.
 * "udpqueue dev": sockets bound to device d0 (SO_BINDTODEVICE), which hear only what came in through it (its
 * net namespace holds d0 with 10.9.0.1, made by the test): a wildcard IPv4 one with datagrams from two senders,
 * one bound to d0's address, and a dual-stack one with one from IPv4 (ptp4l's, which cryo refused).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int udp4(const char *addr, struct sockaddr_in *a) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &a->sin_addr);
    socklen_t n = sizeof *a;
    if (s < 0 || bind(s, (struct sockaddr *)a, sizeof *a) || getsockname(s, (struct sockaddr *)a, &n)) fail("bind4");
    return s;
}

static int udp6(const char *addr, int v6only, struct sockaddr_in6 *a) {
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, addr, &a->sin6_addr);
    socklen_t n = sizeof *a;
    if (s < 0 || setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only)
            || bind(s, (struct sockaddr *)a, sizeof *a) || getsockname(s, (struct sockaddr *)a, &n)) fail("bind6");
    return s;
}

static void sendto4(int s, const char *msg, int port) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)strlen(msg)) fail("sendto");
}

/* Receives one datagram without blocking and checks its payload and sender. */
static void expect(int s, const char *msg, const struct sockaddr *from, socklen_t fromLen, const char *what) {
    char buf[256], name[128];
    struct sockaddr_storage got;
    socklen_t n = sizeof got;
    ssize_t r = recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&got, &n);
    if (r < 0) {
        snprintf(name, sizeof name, "%s: missing", what);
        fail(name);
    }
    if ((size_t)r != strlen(msg) || memcmp(buf, msg, r)) {
        snprintf(name, sizeof name, "%s: payload %.*s", what, (int)(r > 64 ? 64 : r), buf);
        fail(name);
    }
    if (from->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)from, *b = (const void *)&got;
        if (b->sin_family != AF_INET || a->sin_port != b->sin_port || a->sin_addr.s_addr != b->sin_addr.s_addr) {
            snprintf(name, sizeof name, "%s: from %s:%d", what, inet_ntoa(b->sin_addr), ntohs(b->sin_port));
            fail(name);
        }
    } else {
        const struct sockaddr_in6 *a = (const void *)from, *b = (const void *)&got;
        if (b->sin6_family != AF_INET6 || a->sin6_port != b->sin6_port || memcmp(&a->sin6_addr, &b->sin6_addr, 16)) {
            snprintf(name, sizeof name, "%s: from another IPv6 sender (port %d)", what, ntohs(b->sin6_port));
            fail(name);
        }
    }
    (void)fromLen;
}

static void expectEmpty(int s, const char *what) {
    char buf[16];
    if (recv(s, buf, sizeof buf, MSG_DONTWAIT) >= 0 || errno != EAGAIN) fail(what);
}

static void onDevice(int s) {
    if (setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "d0", 3)) fail("SO_BINDTODEVICE");
}

static void sendtoDevice(int s, const char *msg, int port) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "10.9.0.1", &to.sin_addr);
    if (sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)strlen(msg)) fail("sendto d0");
}

/* The datagram must be queued before the dump: the test's premise, a socket bound to d0 hearing it. */
static void queued(int s, const char *what) {
    int n = 0;
    if (ioctl(s, FIONREAD, &n) || n <= 0) fail(what);
}

static int device(void) {
    struct sockaddr_in ra, aa, s1a, s2a;
    struct sockaddr_in6 dsa;
    int r = socket(AF_INET, SOCK_DGRAM, 0), a = socket(AF_INET, SOCK_DGRAM, 0), ds = socket(AF_INET6, SOCK_DGRAM, 0);
    if (r < 0 || a < 0 || ds < 0) fail("socket");
    onDevice(r);
    onDevice(a);
    onDevice(ds);
    memset(&ra, 0, sizeof ra);
    ra.sin_family = AF_INET;
    aa = ra;
    inet_pton(AF_INET, "10.9.0.1", &aa.sin_addr);
    memset(&dsa, 0, sizeof dsa);
    dsa.sin6_family = AF_INET6;
    int off = 0;
    socklen_t n = sizeof ra;
    if (bind(r, (struct sockaddr *)&ra, sizeof ra) || getsockname(r, (struct sockaddr *)&ra, &n)) fail("bind r");
    n = sizeof aa;
    if (bind(a, (struct sockaddr *)&aa, sizeof aa) || getsockname(a, (struct sockaddr *)&aa, &n)) fail("bind a");
    n = sizeof dsa;
    if (setsockopt(ds, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) || bind(ds, (struct sockaddr *)&dsa, sizeof dsa)
            || getsockname(ds, (struct sockaddr *)&dsa, &n)) fail("bind ds");
    int s1 = udp4("10.9.0.1", &s1a), s2 = udp4("127.0.0.1", &s2a);
    int port = ntohs(ra.sin_port);
    sendtoDevice(s1, "one", port);
    sendtoDevice(s2, "two", port);
    sendtoDevice(s1, "three", port);
    sendtoDevice(s2, "at its address", ntohs(aa.sin_port));
    sendtoDevice(s1, "mapped", ntohs(dsa.sin6_port));
    queued(r, "setup: the wildcard socket bound to d0 did not get its datagrams");
    queued(a, "setup: the socket bound to d0's address did not get its datagram");
    queued(ds, "setup: the dual-stack socket bound to d0 did not get its datagram");
    printf("ready\n");
    while (!check) pause();

    expect(r, "one", (struct sockaddr *)&s1a, sizeof s1a, "1st through d0");
    expect(r, "two", (struct sockaddr *)&s2a, sizeof s2a, "2nd through d0");
    expect(r, "three", (struct sockaddr *)&s1a, sizeof s1a, "3rd through d0");
    expectEmpty(r, "more datagrams than were sent through d0");
    expect(a, "at its address", (struct sockaddr *)&s2a, sizeof s2a, "at d0's address");
    expectEmpty(a, "more datagrams at d0's address");
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = s1a.sin_port};
    mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&mapped.sin6_addr.s6_addr[12], &s1a.sin_addr, 4);
    expect(ds, "mapped", (struct sockaddr *)&mapped, sizeof mapped, "IPv4 at a dual-stack socket on d0");
    expectEmpty(ds, "more datagrams at the dual-stack socket on d0");
    sendtoDevice(s2, "new", port);
    expect(r, "new", (struct sockaddr *)&s2a, sizeof s2a, "a new datagram through d0");
    printf("PASS\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc > 1 && !strcmp(argv[1], "dev")) return device();
    struct sockaddr_in ra, s1a, s2a, s3a, ca;
    int r = udp4("0.0.0.0", &ra), s1 = udp4("127.0.0.1", &s1a), s2 = udp4("127.0.0.1", &s2a);
    int s3 = udp4("127.0.0.2", &s3a);
    int c = udp4("127.0.0.1", &ca);
    if (connect(c, (struct sockaddr *)&s1a, sizeof s1a)) fail("connect");
    int port = ntohs(ra.sin_port);
    sendto4(s1, "one", port);
    sendto4(s2, "two", port);
    sendto4(s1, "three", port);
    sendto4(s3, "four", port);
    sendto4(s2, "", port);
    close(s3);
    sendto4(s1, "to the connected one", ntohs(ca.sin_port));

    struct sockaddr_in6 r6a, s6a, dsa;
    int r6 = udp6("::1", 1, &r6a), s6 = udp6("::1", 1, &s6a), ds = udp6("::", 0, &dsa);
    if (sendto(s6, "six", 3, 0, (struct sockaddr *)&r6a, sizeof r6a) != 3) fail("sendto6");
    sendto4(s2, "mapped", ntohs(dsa.sin6_port));
    printf("ready\n");
    while (!check) pause();

    expect(r, "one", (struct sockaddr *)&s1a, sizeof s1a, "1st");
    expect(r, "two", (struct sockaddr *)&s2a, sizeof s2a, "2nd");
    expect(r, "three", (struct sockaddr *)&s1a, sizeof s1a, "3rd");
    expect(r, "four", (struct sockaddr *)&s3a, sizeof s3a, "4th (sender closed)");
    expect(r, "", (struct sockaddr *)&s2a, sizeof s2a, "5th (empty)");
    expectEmpty(r, "more datagrams than were sent");
    expect(c, "to the connected one", (struct sockaddr *)&s1a, sizeof s1a, "connected");
    expectEmpty(c, "more datagrams at the connected socket");
    expect(r6, "six", (struct sockaddr *)&s6a, sizeof s6a, "IPv6");
    expectEmpty(r6, "more IPv6 datagrams");
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = s2a.sin_port};
    mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&mapped.sin6_addr.s6_addr[12], &s2a.sin_addr, 4);
    expect(ds, "mapped", (struct sockaddr *)&mapped, sizeof mapped, "IPv4 at a dual-stack socket");

    sendto4(s2, "new", port);
    expect(r, "new", (struct sockaddr *)&s2a, sizeof s2a, "a new datagram");
    sendto4(s1, "again", ntohs(ca.sin_port));
    expect(c, "again", (struct sockaddr *)&s1a, sizeof s1a, "a new datagram at the connected socket");
    printf("PASS\n");
    return 0;
}
