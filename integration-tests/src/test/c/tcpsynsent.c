/*
 * Two connection attempts in flight (SYN_SENT) to a loopback listener that does not answer: the
 * test holds it with its accept queue full, so it drops their SYNs. One is made by a thread
 * blocked in connect(), the other is non-blocking and polled for POLLOUT. After the restore both
 * must still be connecting: SYN_SENT from the same local port, the polled one not writable, the
 * thread still inside connect(). Then the workload prints "connecting" and the test makes room:
 * both must complete (the thread's connect() returns 0, the polled one's SO_ERROR is 0) and each
 * must get its bytes echoed back by the test.
 * Usage: tcpsynsent PORT. Prints "ready"; on SIGUSR2 checks, prints "connecting", then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = 0x0100007f };
static int blocking;
static volatile int connected = -2, connect_errno;

static void *connector(void *arg) {
    (void)arg;
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    int r = connect(blocking, (struct sockaddr *)&peer, sizeof peer);
    connect_errno = errno;
    connected = r;
    return NULL;
}

static int state(int s) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len)) fail("TCP_INFO");
    return ti.tcpi_state;
}

static int port(int s) {
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    if (getsockname(s, (struct sockaddr *)&a, &al)) fail("getsockname");
    return ntohs(a.sin_port);
}

static void echoed(int s, const char *what) {
    char buf[32] = {0};
    if (send(s, what, strlen(what), 0) != (ssize_t)strlen(what)) fail("send");
    size_t got = 0;
    while (got < strlen(what)) {
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, 60000) != 1) { printf("FAIL: no echo on the %s connection\n", what); exit(1); }
        ssize_t n = recv(s, buf + got, sizeof buf - 1 - got, MSG_DONTWAIT);
        if (n <= 0) fail("recv");
        got += n;
    }
    if (strcmp(buf, what)) { printf("FAIL: the %s connection echoed '%s'\n", what, buf); exit(1); }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: tcpsynsent PORT");
    signal(SIGUSR2, on_usr2);
    peer.sin_port = htons(atoi(argv[1]));
    int polled = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    blocking = socket(AF_INET, SOCK_STREAM, 0);
    if (polled < 0 || blocking < 0) fail("socket");
    if (connect(polled, (struct sockaddr *)&peer, sizeof peer) == 0 || errno != EINPROGRESS) fail("non-blocking connect");
    pthread_t t;
    if (pthread_create(&t, NULL, connector, NULL)) fail("pthread_create");
    for (int i = 0; i < 5000 && state(blocking) != TCP_SYN_SENT; i++) usleep(1000);
    if (state(polled) != TCP_SYN_SENT || state(blocking) != TCP_SYN_SENT) fail("the listener answered: not in flight");
    int polledPort = port(polled), blockingPort = port(blocking);
    printf("ready\n");
    while (!check) pause();

    struct pollfd p = { .fd = polled, .events = POLLOUT };
    if (state(polled) != TCP_SYN_SENT) { printf("FAIL: the polled attempt is in state %d\n", state(polled)); return 1; }
    if (state(blocking) != TCP_SYN_SENT) { printf("FAIL: the blocking attempt is in state %d\n", state(blocking)); return 1; }
    if (port(polled) != polledPort || port(blocking) != blockingPort) { printf("FAIL: local ports %d %d, were %d %d\n", port(polled), port(blocking), polledPort, blockingPort); return 1; }
    if (poll(&p, 1, 0) != 0) { printf("FAIL: the polled attempt polls %#x\n", p.revents); return 1; }
    if (connected != -2) { printf("FAIL: the blocking connect() returned %d (errno %d)\n", connected, connect_errno); return 1; }
    printf("connecting\n");

    if (poll(&p, 1, 120000) != 1) { printf("FAIL: the polled attempt never completed\n"); return 1; }
    int err = -1;
    socklen_t el = sizeof err;
    if (getsockopt(polled, SOL_SOCKET, SO_ERROR, &err, &el) || err) { printf("FAIL: the polled attempt failed: SO_ERROR %d\n", err); return 1; }
    for (int i = 0; i < 120000 && connected == -2; i++) usleep(1000);
    if (connected != 0) { printf("FAIL: the blocking connect() returned %d (errno %d)\n", connected, connect_errno); return 1; }
    echoed(polled, "polled");
    echoed(blocking, "blocking");
    printf("PASS\n");
    return 0;
}
