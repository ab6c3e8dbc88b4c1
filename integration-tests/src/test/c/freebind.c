/*
 * Sockets bound to an address that is not local, with IP_FREEBIND set for the bind and cleared
 * since (zdtm's sk-freebind-false: the restore failed to bind, EADDRNOTAVAIL, after the dump had
 * killed the tree): a UDP socket and a listening TCP socket on 2001:db8::42. On SIGUSR2: same
 * addresses, IP_FREEBIND still cleared. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int freebound(int type, struct sockaddr_in6 *a) {
    int s = socket(AF_INET6, type, 0), one = 1, zero = 0;
    socklen_t n = sizeof *a;
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::42", &a->sin6_addr);
    if (s < 0 || setsockopt(s, SOL_IP, IP_FREEBIND, &one, sizeof one) || bind(s, (struct sockaddr *)a, sizeof *a)
        || getsockname(s, (struct sockaddr *)a, &n) || setsockopt(s, SOL_IP, IP_FREEBIND, &zero, sizeof zero))
        fail("freebind");
    if (type == SOCK_STREAM && listen(s, 1)) fail("listen");
    return s;
}

static void same(int s, struct sockaddr_in6 *want) {
    struct sockaddr_in6 got;
    socklen_t n = sizeof got;
    int fb = 1;
    socklen_t fl = sizeof fb;
    if (getsockname(s, (struct sockaddr *)&got, &n) || memcmp(&got.sin6_addr, &want->sin6_addr, 16)
        || got.sin6_port != want->sin6_port) fail("the address changed");
    if (getsockopt(s, SOL_IP, IP_FREEBIND, &fb, &fl) || fb != 0) fail("IP_FREEBIND came back set");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in6 ua, ta;
    int u = freebound(SOCK_DGRAM, &ua), t = freebound(SOCK_STREAM, &ta);
    printf("ready\n");
    while (!check) pause();
    same(u, &ua);
    same(t, &ta);
    printf("PASS\n");
    return 0;
}
