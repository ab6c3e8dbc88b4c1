/*
 * SO_REUSEPORT groups whose members joined out of fd order: the kernel picks a member by its index
 * in the group (the flow's hash scaled to the members, or what the group's program returns), and a
 * member takes the next index as it binds (UDP) or listens (TCP). The restore made the members in
 * fd order, so each flow went to another socket after it. Four UDP sockets (fds a<b<c<d) bound d,
 * c, b, a; four TCP listeners listening d, c, b, a; four MPTCP listeners listening d, c, b, a (their
 * group is their first subflows': plain TCP clients; left out where the kernel makes no MPTCP socket,
 * "mptcp none"); two UDP sockets bound b, a with a classic program
 * returning index 1 (a); and a group spread over processes, as a prefork server's: 4 child processes
 * (forked 0-3) each making and binding its own UDP socket, bound 3, 2, 1, 0, each answering a datagram
 * with its number. Before the dump and on SIGUSR2: which member gets the datagram or connection of
 * each of 16 fixed sources (127.0.0.2-17, one port), the same after as before. With "inflight", UDP
 * members 1 and 3, then TCP listener 2 and MPTCP listener 2 are held only in flight, passed in an
 * unread message of one unix socket pair and of another the process holds (as a prefork server hands its
 * listeners to a worker) and their fds closed; on SIGUSR2 they are received back first. Prints PASS or FAIL: reason.
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define SOURCES 16

static struct sock_filter second[] = {BPF_STMT(BPF_RET | BPF_K, 1)};

static struct sockaddr_in at(int host, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000000 | host)};
    return a;
}

static int reuseport_socket_of(int type, int protocol) {
    int one = 1, s = socket(AF_INET, type, protocol);
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) fail("SO_REUSEPORT");
    return s;
}

static int reuseport_socket(int type) {
    return reuseport_socket_of(type, 0);
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

/* A worker of the prefork group: its own socket, bound to the port read from go once told, reported
   on done; then it answers each datagram with its number k. */
static void worker(int k, int go, int done) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int s = reuseport_socket(SOCK_DGRAM), port;
    if (read(go, &port, sizeof port) != sizeof port) fail("read the port");
    bind_to(s, &port);
    if (write(done, &port, sizeof port) != sizeof port) fail("report the port");
    char id = (char)('0' + k), b[16];
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        if (recvfrom(s, b, sizeof b, 0, (struct sockaddr *)&from, &len) < 0) {
            if (errno == EINTR) continue;
            fail("recvfrom");
        }
        sendto(s, &id, 1, 0, (struct sockaddr *)&from, len);
    }
}

/* Forks the 4 workers and has them bind 3, 2, 1, 0; returns the group's port. */
static int start_workers(pid_t pids[4]) {
    int go[4][2], done[2], port = 0;
    if (pipe(done)) fail("pipe");
    for (int k = 0; k < 4; k++) {
        if (pipe(go[k])) fail("pipe");
        if ((pids[k] = fork()) < 0) fail("fork");
        if (pids[k] == 0) worker(k, go[k][0], done[1]);
    }
    for (int k = 3; k >= 0; k--)
        if (write(go[k][1], &port, sizeof port) != sizeof port || read(done[0], &port, sizeof port) != sizeof port)
            fail("start a worker");
    for (int k = 0; k < 4; k++) close(go[k][0]), close(go[k][1]);
    close(done[0]), close(done[1]);
    return port;
}

/* Which worker answered the datagram of each source: one digit a source ('-': none). */
static void ask_workers(int port, char out[SOURCES + 1]) {
    for (int i = 0; i < SOURCES; i++) {
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in from = at(2 + i, port), to = at(1, port);
        if (c < 0 || bind(c, (struct sockaddr *)&from, sizeof from)) fail("bind a source");
        if (sendto(c, "x", 1, 0, (struct sockaddr *)&to, sizeof to) != 1) fail("send to the workers");
        struct pollfd p = {.fd = c, .events = POLLIN};
        out[i] = poll(&p, 1, 5000) > 0 && recv(c, &out[i], 1, 0) == 1 ? out[i] : '-';
        close(c);
    }
    out[SOURCES] = 0;
}

struct groups {
    int udp[4], udport, tcp[4], tcport, mptcp[4], mptcport, prog[2], progport, workport;
};

static void map(struct groups *g, char udp[SOURCES + 1], char tcp[SOURCES + 1], char mptcp[SOURCES + 1],
                char prog[SOURCES + 1], char work[SOURCES + 1]) {
    deliver(SOCK_DGRAM, g->udport, g->udp, 4, udp);
    deliver(SOCK_STREAM, g->tcport, g->tcp, 4, tcp);
    if (g->mptcport) deliver(SOCK_STREAM, g->mptcport, g->mptcp, 4, mptcp);
    else strcpy(mptcp, "none");
    deliver(SOCK_DGRAM, g->progport, g->prog, 2, prog);
    ask_workers(g->workport, work);
}

static int verdict(int code, pid_t workers[4]) {
    for (int k = 0; k < 4; k++) kill(workers[k], SIGKILL), waitpid(workers[k], NULL, 0);
    return code;
}

/* Passes the n sockets *fds[i] in one message on pair[0] and closes them, or (back) receives them on pair[1]. */
static void in_flight(int pair[2], int *fds[], int n, int back) {
    char data = 'f', control[CMSG_SPACE(4 * sizeof(int))];
    struct iovec io = {.iov_base = &data, .iov_len = 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = CMSG_SPACE(n * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!back) {
        c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(n * sizeof(int));
        for (int i = 0; i < n; i++) memcpy(CMSG_DATA(c) + i * sizeof(int), fds[i], sizeof(int));
        if (sendmsg(pair[0], &m, 0) != 1) fail("pass the members in flight");
        for (int i = 0; i < n; i++) close(*fds[i]);
        return;
    }
    if (recvmsg(pair[1], &m, MSG_DONTWAIT) != 1 || !(c = CMSG_FIRSTHDR(&m)) || c->cmsg_type != SCM_RIGHTS
        || c->cmsg_len != CMSG_LEN(n * sizeof(int)))
        fail("receive the members in flight");
    for (int i = 0; i < n; i++) memcpy(fds[i], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int inflight = argc > 1 && !strcmp(argv[1], "inflight"), pair[2][2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair[0]) || socketpair(AF_UNIX, SOCK_DGRAM, 0, pair[1])) fail("socketpair");
    signal(SIGUSR2, on_usr2);
    struct groups g = {.udport = 0, .tcport = 0, .progport = 0};
    pid_t workers[4];
    g.workport = start_workers(workers); /* first: the workers hold none of the sockets below */
    for (int i = 0; i < 4; i++) g.udp[i] = reuseport_socket(SOCK_DGRAM);
    for (int i = 0; i < 4; i++) g.tcp[i] = reuseport_socket(SOCK_STREAM);
    int probe = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP); /* none: a kernel without MPTCP, or it off */
    if (probe >= 0) {
        close(probe);
        for (int i = 0; i < 4; i++) g.mptcp[i] = reuseport_socket_of(SOCK_STREAM, IPPROTO_MPTCP);
        for (int i = 0; i < 4; i++) bind_to(g.mptcp[i], &g.mptcport);
        for (int i = 3; i >= 0; i--)
            if (listen(g.mptcp[i], SOURCES)) fail("listen (MPTCP)");
    }
    for (int i = 0; i < 2; i++) g.prog[i] = reuseport_socket(SOCK_DGRAM);
    for (int i = 3; i >= 0; i--) bind_to(g.udp[i], &g.udport);
    for (int i = 0; i < 4; i++) bind_to(g.tcp[i], &g.tcport);
    for (int i = 3; i >= 0; i--)
        if (listen(g.tcp[i], SOURCES)) fail("listen");
    for (int i = 1; i >= 0; i--) bind_to(g.prog[i], &g.progport);
    struct sock_fprog fp = {1, second};
    if (setsockopt(g.prog[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fp, sizeof fp)) fail("SO_ATTACH_REUSEPORT_CBPF");
    char udp[SOURCES + 1], tcp[SOURCES + 1], mptcp[SOURCES + 1], prog[SOURCES + 1], work[SOURCES + 1];
    map(&g, udp, tcp, mptcp, prog, work);
    if (strspn(prog, "0") != SOURCES) {
        printf("FAIL: before the dump, the program's index 1 gave %s (all 0 due)\n", prog);
        return verdict(1, workers);
    }
    if (strpbrk(udp, "-+") || strpbrk(tcp, "-+") || strpbrk(mptcp, "-+") || strchr(work, '-')) {
        printf("FAIL: before the dump, udp %s tcp %s mptcp %s workers %s (one member a source)\n", udp, tcp, mptcp, work);
        return verdict(1, workers);
    }
    printf("sources to members: udp %s tcp %s mptcp %s workers %s\n", udp, tcp, mptcp, work);
    int *udpassed[] = {&g.udp[1], &g.udp[3]}, *tcpassed[] = {&g.tcp[2], &g.mptcp[2]}, ntcp = g.mptcport ? 2 : 1;
    if (inflight) in_flight(pair[0], udpassed, 2, 0), in_flight(pair[1], tcpassed, ntcp, 0);
    printf("ready\n");
    while (!check) pause();
    if (inflight) in_flight(pair[0], udpassed, 2, 1), in_flight(pair[1], tcpassed, ntcp, 1);
    char udp2[SOURCES + 1], tcp2[SOURCES + 1], mptcp2[SOURCES + 1], prog2[SOURCES + 1], work2[SOURCES + 1];
    map(&g, udp2, tcp2, mptcp2, prog2, work2);
    if (strcmp(udp, udp2) || strcmp(tcp, tcp2) || strcmp(mptcp, mptcp2) || strcmp(prog, prog2) || strcmp(work, work2)) {
        printf("FAIL: sources to members: udp %s before, %s after; tcp %s before, %s after; mptcp %s before, %s after;"
               " the program's %s before, %s after; workers %s before, %s after\n", udp, udp2, tcp, tcp2, mptcp, mptcp2,
               prog, prog2, work, work2);
        return verdict(1, workers);
    }
    printf("PASS\n");
    return verdict(0, workers);
}
