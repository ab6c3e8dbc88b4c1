/*
 * SO_REUSEPORT groups whose members joined out of fd order: the kernel picks a member by its index
 * in the group (the flow's hash scaled to the members, or what the group's program returns), and a
 * member takes the next index as it binds (UDP) or listens (TCP). The restore made the members in
 * fd order, so each flow went to another socket after it. Four UDP sockets (fds a<b<c<d) bound d,
 * c, b, a; four TCP listeners listening d, c, b, a; two UDP sockets bound b, a with a classic program
 * returning index 1 (a). Before the dump and on SIGUSR2: which member gets the datagram or connection
 * of each of 16 fixed sources (127.0.0.2-17, one port), the same after as before. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

#define SOURCES 16

static struct sock_filter second[] = {BPF_STMT(BPF_RET | BPF_K, 1)};

static struct sockaddr_in at(int host, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000000 | host)};
    return a;
}

static int reuseport_socket(int type) {
    int one = 1, s = socket(AF_INET, type, 0);
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) fail("SO_REUSEPORT");
    return s;
}

/* Binds s to 127.0.0.1:*port (0: any, then set). */
static void bind_to(int s, int *port) {
    struct sockaddr_in a = at(1, *port);
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &len)) fail("bind");
    *port = ntohs(a.sin_port);
}

/* Which of the n members got the datagram or connection from each source: one digit a source ('-': none). */
static void deliver(int type, int port, const int *members, int n, char out[SOURCES + 1]) {
    struct linger reset = {1, 0};
    for (int i = 0; i < SOURCES; i++) {
        int c = socket(AF_INET, type, 0);
        struct sockaddr_in from = at(2 + i, port), to = at(1, port);
        if (c < 0 || bind(c, (struct sockaddr *)&from, sizeof from)) fail("bind a source");
        setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof reset); /* no TIME_WAIT keeps the source's 4-tuple */
        if (type == SOCK_DGRAM ? sendto(c, "x", 1, 0, (struct sockaddr *)&to, sizeof to) != 1
                               : connect(c, (struct sockaddr *)&to, sizeof to))
            fail("send or connect");
        out[i] = '-';
        struct pollfd p[4];
        for (int m = 0; m < n; m++) p[m] = (struct pollfd){.fd = members[m], .events = POLLIN};
        if (poll(p, n, 5000) > 0) {
            for (int m = 0; m < n; m++) {
                if (!(p[m].revents & POLLIN)) continue;
                char b;
                int r = type == SOCK_DGRAM ? recv(members[m], &b, 1, 0) : accept(members[m], NULL, NULL);
                if (r < 0) fail("recv or accept");
                if (type == SOCK_STREAM) {
                    setsockopt(r, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
                    close(r);
                }
                out[i] = out[i] == '-' ? (char)('0' + m) : '+';
            }
        }
        close(c);
    }
    out[SOURCES] = 0;
}

struct groups {
    int udp[4], udport, tcp[4], tcport, prog[2], progport;
};

static void map(struct groups *g, char udp[SOURCES + 1], char tcp[SOURCES + 1], char prog[SOURCES + 1]) {
    deliver(SOCK_DGRAM, g->udport, g->udp, 4, udp);
    deliver(SOCK_STREAM, g->tcport, g->tcp, 4, tcp);
    deliver(SOCK_DGRAM, g->progport, g->prog, 2, prog);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct groups g = {.udport = 0, .tcport = 0, .progport = 0};
    for (int i = 0; i < 4; i++) g.udp[i] = reuseport_socket(SOCK_DGRAM);
    for (int i = 0; i < 4; i++) g.tcp[i] = reuseport_socket(SOCK_STREAM);
    for (int i = 0; i < 2; i++) g.prog[i] = reuseport_socket(SOCK_DGRAM);
    for (int i = 3; i >= 0; i--) bind_to(g.udp[i], &g.udport);
    for (int i = 0; i < 4; i++) bind_to(g.tcp[i], &g.tcport);
    for (int i = 3; i >= 0; i--)
        if (listen(g.tcp[i], SOURCES)) fail("listen");
    for (int i = 1; i >= 0; i--) bind_to(g.prog[i], &g.progport);
    struct sock_fprog fp = {1, second};
    if (setsockopt(g.prog[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fp, sizeof fp)) fail("SO_ATTACH_REUSEPORT_CBPF");
    char udp[SOURCES + 1], tcp[SOURCES + 1], prog[SOURCES + 1];
    map(&g, udp, tcp, prog);
    if (strspn(prog, "0") != SOURCES) {
        printf("FAIL: before the dump, the program's index 1 gave %s (all 0 due)\n", prog);
        return 1;
    }
    if (strchr(udp, '-') || strchr(udp, '+') || strchr(tcp, '-') || strchr(tcp, '+')) {
        printf("FAIL: before the dump, udp %s tcp %s (one member a source)\n", udp, tcp);
        return 1;
    }
    printf("sources to members: udp %s tcp %s\n", udp, tcp);
    printf("ready\n");
    while (!check) pause();
    char udp2[SOURCES + 1], tcp2[SOURCES + 1], prog2[SOURCES + 1];
    map(&g, udp2, tcp2, prog2);
    if (strcmp(udp, udp2) || strcmp(tcp, tcp2) || strcmp(prog, prog2)) {
        printf("FAIL: sources to members: udp %s before, %s after; tcp %s before, %s after; the program's %s before,"
               " %s after\n", udp, udp2, tcp, tcp2, prog, prog2);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
