/*
 * zdtm's socket-tcp-reuseport: two TCP listeners on one loopback port, both bound with
 * SO_REUSEPORT, the first one clearing it again once listening. The restore must bind both again
 * (the first with the option for that instant) and leave the first without it. Prints "ready";
 * on SIGUSR2 checks the options, connects to the port, accepts on either listener and prints PASS
 * or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int reuseport(int s) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(s, SOL_SOCKET, SO_REUSEPORT, &v, &l) < 0) fail("getsockopt");
    return v;
}

static int listener(struct sockaddr_in *a) {
    int one = 1;
    socklen_t al = sizeof *a;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) fail("socket");
    if (bind(s, (struct sockaddr *)a, sizeof *a) < 0 || listen(s, 4) < 0) fail("bind/listen");
    if (getsockname(s, (struct sockaddr *)a, &al) < 0) fail("getsockname");
    return s;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int l1 = listener(&a);
    int l2 = listener(&a);
    int zero = 0;
    if (setsockopt(l1, SOL_SOCKET, SO_REUSEPORT, &zero, sizeof zero) < 0) fail("clear SO_REUSEPORT");
    printf("ready\n");
    while (!check) pause();
    if (reuseport(l1) != 0) fail("the first listener has SO_REUSEPORT again");
    if (reuseport(l2) != 1) fail("the second listener lost SO_REUSEPORT");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) < 0) fail("connect");
    struct pollfd p[2] = {{.fd = l1, .events = POLLIN}, {.fd = l2, .events = POLLIN}};
    if (poll(p, 2, 5000) <= 0) fail("no listener got the connection");
    int s = accept(p[0].revents ? l1 : l2, NULL, NULL);
    if (s < 0) fail("accept");
    printf("PASS\n");
    return 0;
}
