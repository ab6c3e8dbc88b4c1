/*
 * A non-blocking connect() refused by its peer (a loopback socket bound and not listening answers
 * its SYN with a reset) that the program has not polled since: ECONNREFUSED waits in SO_ERROR.
 * After the restore (or a dump with -R) the socket must poll POLLERR|POLLHUP, keep its local port,
 * and give ECONNREFUSED once, then no error.
 * "tcprefused read": the program reads the error before the dump and keeps the socket (a collector between two
 * attempts): after the restore it polls as before, keeps its local port, has no peer and no error.
 * Prints "ready", on SIGUSR2 checks and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>

#include "tcppeer.h"

static int port(int s) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    if (getsockname(s, (struct sockaddr *)&a, &al)) fail("getsockname");
    return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
    int readit = argc > 1 && !strcmp(argv[1], "read");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int refuser = socket(AF_INET, SOCK_STREAM, 0);
    if (refuser < 0 || bind(refuser, (struct sockaddr *)&a, sizeof a) || getsockname(refuser, (struct sockaddr *)&a, &al)) fail("refuser");
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) == 0 || errno != EINPROGRESS) fail("connect");
    if (!await_tcp_state(s, TCP_CLOSE)) fail("not refused");
    usleep(50000);
    int was = port(s);
    int e = -1;
    socklen_t el = sizeof e;
    struct pollfd p = { .fd = s, .events = POLLIN | POLLOUT };
    short polled = 0;
    if (readit) {
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) || e != ECONNREFUSED) fail("the refusal's error");
        if (poll(&p, 1, 0) < 0) fail("poll");
        polled = p.revents;
    }
    printf("ready\n");
    while (!check) pause();
    if (readit) {
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        if (poll(&p, 1, 0) < 0 || p.revents != polled) { printf("FAIL: it polls %#x, was %#x\n", p.revents, polled); return 1; }
        if (port(s) != was) { printf("FAIL: local port %d, was %d\n", port(s), was); return 1; }
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) || e != 0) { printf("FAIL: SO_ERROR %d, not 0\n", e); return 1; }
        if (getpeername(s, (struct sockaddr *)&peer, &pl) == 0 || errno != ENOTCONN) { printf("FAIL: a peer\n"); return 1; }
        printf("PASS\n");
        return 0;
    }

    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR) || !(p.revents & POLLHUP)) { printf("FAIL: it polls %#x\n", p.revents); return 1; }
    if (port(s) != was) { printf("FAIL: local port %d, was %d\n", port(s), was); return 1; }
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) || e != ECONNREFUSED) { printf("FAIL: SO_ERROR %d, not ECONNREFUSED\n", e); return 1; }
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) || e != 0) { printf("FAIL: SO_ERROR %d the second time\n", e); return 1; }
    printf("PASS\n");
    return 0;
}
