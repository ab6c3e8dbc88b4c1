/*
 * Multipath TCP sockets, as a Go server (1.24 and later) listens by default: a listener on
 * loopback (backlog 3, SO_REUSEADDR, TCP_NODELAY) and a second MPTCP socket bound, not listening.
 * Prints "ready <port>". On SIGUSR2 both must still be MPTCP sockets (SO_PROTOCOL), the listener
 * listening on its port and accepting a plain TCP client and an MPTCP client, each answered; the
 * bound one on its address, able to listen. Prints PASS or FAIL: reason.
 * With "connected": it also holds a connection to its own listener (accepted), which the dump must
 * refuse by name while the tree runs on.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int opt(int s, int level, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(s, level, name, &v, &l) < 0) fail("getsockopt");
    return v;
}

/* A client of protocol proto connects to a, the listener accepts it, and they exchange a byte each way. */
static void serve(int l, struct sockaddr_in *a, int proto) {
    int c = socket(AF_INET, SOCK_STREAM, proto);
    if (c < 0 || connect(c, (struct sockaddr *)a, sizeof *a) < 0) fail("connect to the listener");
    int s = accept(l, NULL, NULL);
    char b = 'q';
    if (s < 0 || write(c, &b, 1) != 1 || read(s, &b, 1) != 1 || write(s, "a", 1) != 1 || read(c, &b, 1) != 1 || b != 'a')
        fail("accept and answer");
    close(s);
    close(c);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
    if (l < 0) fail("socket(IPPROTO_MPTCP)");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || setsockopt(l, SOL_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        fail("setsockopt");
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 3) < 0) fail("listen");
    if (getsockname(l, (struct sockaddr *)&a, &al) < 0) fail("getsockname");
    int b = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
    struct sockaddr_in ba = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t bl = sizeof ba;
    if (b < 0 || bind(b, (struct sockaddr *)&ba, sizeof ba) < 0 || getsockname(b, (struct sockaddr *)&ba, &bl) < 0)
        fail("bind the second socket");
    if (argc > 1 && strcmp(argv[1], "connected") == 0) {
        int c = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) < 0 || accept(l, NULL, NULL) < 0) fail("connect");
    }
    printf("ready %d\n", ntohs(a.sin_port));
    while (!check) pause();

    if (opt(l, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_MPTCP) fail("the listener is not an MPTCP socket any more");
    if (opt(b, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_MPTCP) fail("the bound socket is not an MPTCP socket any more");
    if (opt(l, SOL_SOCKET, SO_ACCEPTCONN) != 1) fail("the listener does not listen");
    if (opt(l, SOL_SOCKET, SO_REUSEADDR) != 1) fail("SO_REUSEADDR lost");
    if (opt(l, SOL_TCP, TCP_NODELAY) != 1) fail("TCP_NODELAY lost");
    struct sockaddr_in now;
    socklen_t nl = sizeof now;
    if (getsockname(l, (struct sockaddr *)&now, &nl) < 0 || now.sin_port != a.sin_port) fail("the listener's port changed");
    nl = sizeof now;
    if (getsockname(b, (struct sockaddr *)&now, &nl) < 0 || now.sin_port != ba.sin_port) fail("the bound socket's port changed");
    serve(l, &a, IPPROTO_TCP);
    serve(l, &a, IPPROTO_MPTCP);
    if (listen(b, 1) < 0) fail("the bound socket cannot listen");
    printf("PASS\n");
    return 0;
}
