/*
 * Connections whose end the program has not read yet, all on loopback within the tree:
 *  - "reset": the peer sent bytes, then reset the connection (SO_LINGER 0): the program must read
 *    the bytes, then ECONNRESET, then the end; a write fails with EPIPE;
 *  - "fin, reset": the peer sent bytes, shut its side (FIN), then reset: bytes, then the end (the FIN
 *    came first), and SO_ERROR says EPIPE;
 *  - "half-closed": the peer sent bytes and shut its side, and still reads: the program reads the
 *    bytes, then the end, and can still write to the peer, which reads it.
 * The reset ends' peers are closed before the dump; the half-closed one's peer stays in the tree
 * (dump with --tcp-established). Prints "ready", on SIGUSR2 checks and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>

#include "tcppeer.h"

static void pair(int l, struct sockaddr_in *a, int *client, int *server) {
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)a, sizeof *a)) fail("connect");
    *server = accept(l, NULL, NULL);
    if (*server < 0) fail("accept");
}

static void reset(int s) {
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) || close(s)) fail("reset");
}

/* reads bytes, then (error) a read failing with it, then the end; then SO_ERROR must say sockerr */
static void reads(int s, const char *what, const char *bytes, int error, int sockerr) {
    char buf[64] = {0};
    ssize_t n = recv(s, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n != (ssize_t)strlen(bytes) || strcmp(buf, bytes)) { printf("FAIL: %s: read %zd '%s' (errno %d), not '%s'\n", what, n, n > 0 ? buf : "", errno, bytes); exit(1); }
    if (error) {
        errno = 0;
        n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
        if (n != -1 || errno != error) { printf("FAIL: %s: the read after its bytes gave %zd (errno %d), not errno %d\n", what, n, errno, error); exit(1); }
    }
    n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
    if (n != 0) { printf("FAIL: %s: no end of file after its bytes (%zd, errno %d)\n", what, n, errno); exit(1); }
    int e = -1;
    socklen_t el = sizeof e;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) || e != sockerr) { printf("FAIL: %s: SO_ERROR %d, not %d\n", what, e, sockerr); exit(1); }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a;
    int l = listen_loopback(&a, 4), c, r1, r2, h, peer;

    pair(l, &a, &c, &r1);
    if (send(c, "before the reset", 16, 0) != 16) fail("send");
    reset(c);
    pair(l, &a, &c, &r2);
    if (send(c, "before the fin", 14, 0) != 14 || shutdown(c, SHUT_WR)) fail("send, shutdown");
    if (!await_tcp_state(r2, TCP_CLOSE_WAIT)) fail("the FIN did not come");
    reset(c);
    pair(l, &a, &peer, &h);
    if (send(peer, "then the end", 12, 0) != 12 || shutdown(peer, SHUT_WR)) fail("send, shutdown");
    if (!await_tcp_state(r1, TCP_CLOSE) || !await_tcp_state(r2, TCP_CLOSE) || !await_tcp_state(h, TCP_CLOSE_WAIT)) fail("states");
    struct pollfd p = { .fd = r1, .events = POLLIN };
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR)) fail("the reset leaves no error pending");
    printf("ready\n");
    while (!check) pause();

    p.revents = 0;
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR) || !(p.revents & POLLHUP)) { printf("FAIL: the reset end polls %#x\n", p.revents); return 1; }
    reads(r1, "the reset end", "before the reset", ECONNRESET, 0);
    p = (struct pollfd){ .fd = r2, .events = POLLIN };
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR)) { printf("FAIL: the end reset after a FIN polls %#x\n", p.revents); return 1; }
    reads(r2, "the end reset after a FIN", "before the fin", 0, EPIPE);
    if (send(r1, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE) { printf("FAIL: a write to the reset end gave errno %d, not EPIPE\n", errno); return 1; }
    if (tcp_state(h) != TCP_CLOSE_WAIT) { printf("FAIL: the half-closed end is in state %d\n", tcp_state(h)); return 1; }
    reads(h, "the half-closed end", "then the end", 0, 0);
    char buf[16] = {0};
    if (send(h, "still open", 10, 0) != 10) fail("a write to the half-closed end");
    p = (struct pollfd){ .fd = peer, .events = POLLIN };
    if (poll(&p, 1, 10000) != 1 || recv(peer, buf, sizeof buf - 1, 0) != 10 || strcmp(buf, "still open")) { printf("FAIL: the half-closed end's peer read '%s'\n", buf); return 1; }
    printf("PASS\n");
    return 0;
}
