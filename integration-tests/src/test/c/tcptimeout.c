/*
 * tcptimeout — a connection that failed by a timeout whose error the program has not read yet.
 * Run inside a net namespace of its own (`unshare -n`, lo brought up here). A client connects to a
 * listener of its own on 127.0.0.1; the server end sends "unread", which the client leaves unread.
 * Then an nftables table of the namespace drops the connection's packets, the client sets
 * TCP_USER_TIMEOUT to 300 ms and writes a byte: the kernel gives up (ETIMEDOUT pending, POLLERR,
 * the socket closed). The table is deleted and the server end reset (nothing takes it any more).
 * Prints "ready".
 *
 * On SIGUSR2: the client reads "unread", then a read fails with ETIMEDOUT, then reads the end; a
 * write fails with EPIPE; TCP_USER_TIMEOUT is still 300. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>

#include "tcppeer.h"

int main(void) {
    signal(SIGUSR2, on_usr2);
    signal(SIGPIPE, SIG_IGN);
    if (system("ip link set lo up")) fail("ip link set lo up");
    struct sockaddr_in a;
    int l = listen_loopback(&a, 2);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) fail("connect");
    int s = accept(l, NULL, NULL);
    if (s < 0 || write(s, "unread", 6) != 6) fail("the server end's write");
    usleep(100000);
    char rule[256];
    snprintf(rule, sizeof rule, "nft add table inet cryotest && nft add chain inet cryotest out '{ type filter hook output"
             " priority 0; }' && nft add rule inet cryotest out tcp dport %d drop", ntohs(a.sin_port));
    if (system(rule)) fail("adding the nft drop rule");
    int timeout = 300;
    if (setsockopt(c, SOL_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout) || write(c, "x", 1) != 1) fail("write");
    struct pollfd p = {.fd = c, .events = 0}; /* POLLERR is always reported */
    for (int i = 0; i < 300 && !(p.revents & POLLERR); i++) {
        poll(&p, 1, 100);
    }
    if (!(p.revents & POLLERR)) fail("the connection did not time out");
    if (system("nft delete table inet cryotest")) fail("deleting the nft table");
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) || close(s)) fail("resetting the server end");
    close(l);
    printf("ready\n");
    fflush(stdout);
    while (!check)
        pause();

    char buf[16] = {0};
    ssize_t n = recv(c, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n != 6 || strcmp(buf, "unread")) { printf("FAIL: read %zd '%s' (errno %d), not 'unread'\n", n, n > 0 ? buf : "", errno); return 1; }
    errno = 0;
    n = recv(c, buf, sizeof buf, MSG_DONTWAIT);
    if (n != -1 || errno != ETIMEDOUT) { printf("FAIL: the read after the bytes gave %zd (errno %d), not ETIMEDOUT\n", n, errno); return 1; }
    if (recv(c, buf, sizeof buf, MSG_DONTWAIT) != 0) fail("no end after the error");
    if (write(c, "y", 1) != -1 || errno != EPIPE) fail("a write does not fail with EPIPE");
    socklen_t len = sizeof timeout;
    timeout = 0;
    if (getsockopt(c, SOL_TCP, TCP_USER_TIMEOUT, &timeout, &len) || timeout != 300) fail("TCP_USER_TIMEOUT is not 300");
    printf("PASS\n");
    fflush(stdout);
    return 0;
}
