/*
 * Two SO_REUSEPORT groups, each with a classic BPF program that picks the group's second socket
 * for every packet (SO_ATTACH_REUSEPORT_CBPF, as nginx's, envoy's and haproxy's "reuseport" set
 * one): two UDP sockets on one port, two TCP listeners on another. No call reads such a program
 * back; it was lost silently and the restored groups went back to the kernel's hash. Before the
 * dump and on SIGUSR2: datagrams from 8 sources and 8 connections all reach the second socket of
 * each group, none the first. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
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

#define SOURCES 8

static struct sock_filter second[] = {BPF_STMT(BPF_RET | BPF_K, 1)};

static int member(int type, int *port) {
    int one = 1, s = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) fail("SO_REUSEPORT");
    if (bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &len)) fail("bind");
    if (type == SOCK_STREAM && listen(s, SOURCES)) fail("listen");
    *port = ntohs(a.sin_port);
    return s;
}

/* How many of SOURCES packets (datagrams or connections) from new sockets each member got. */
static void deliver(int type, int port, int first, int sec, int got[2]) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int clients[SOURCES];
    for (int i = 0; i < SOURCES; i++) {
        clients[i] = socket(AF_INET, type, 0);
        if (type == SOCK_DGRAM ? sendto(clients[i], "x", 1, 0, (struct sockaddr *)&to, sizeof to) != 1
                               : connect(clients[i], (struct sockaddr *)&to, sizeof to))
            fail("send or connect");
    }
    int members[2] = {first, sec};
    char c;
    for (int m = 0; m < 2; m++) {
        got[m] = 0;
        for (;;) {
            struct pollfd ready = {.fd = members[m], .events = POLLIN};
            if (poll(&ready, 1, 0) != 1) break; /* loopback: whatever was sent is queued already */
            int r = type == SOCK_DGRAM ? recv(members[m], &c, 1, 0) : accept(members[m], NULL, NULL);
            if (r < 0) break;
            got[m]++;
            if (type == SOCK_STREAM) close(r);
        }
    }
    for (int i = 0; i < SOURCES; i++) close(clients[i]);
}

static int verify(const char *when, int udp[2], int udport, int tcp[2], int tcport) {
    int u[2], t[2];
    deliver(SOCK_DGRAM, udport, udp[0], udp[1], u);
    deliver(SOCK_STREAM, tcport, tcp[0], tcp[1], t);
    if (u[0] || u[1] != SOURCES || t[0] || t[1] != SOURCES) {
        printf("FAIL: %s: datagrams %d and %d, connections %d and %d (0 and %d due)\n", when, u[0], u[1], t[0], t[1],
               SOURCES);
        return 1;
    }
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sock_fprog fp = {1, second};
    int udport = 0, tcport = 0, udp[2], tcp[2];
    for (int i = 0; i < 2; i++) {
        udp[i] = member(SOCK_DGRAM, &udport);
        tcp[i] = member(SOCK_STREAM, &tcport);
    }
    if (setsockopt(udp[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fp, sizeof fp)
        || setsockopt(tcp[1], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fp, sizeof fp))
        fail("SO_ATTACH_REUSEPORT_CBPF");
    if (verify("before the dump", udp, udport, tcp, tcport)) return 1;
    printf("ready\n");
    while (!check) pause();
    if (verify("after the restore", udp, udport, tcp, tcport)) return 1;
    printf("PASS\n");
    return 0;
}
