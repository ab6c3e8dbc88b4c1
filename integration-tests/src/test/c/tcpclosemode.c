/*
 * An established loopback connection, both ends in the tree, dumped with --tcp-close (zdtm's
 * socket-tcp-close0): both ends must come back closed as a reset leaves a connection (TCP_INFO
 * says CLOSE, a read returns end of file, poll reports POLLHUP, a write fails with EPIPE); they
 * read ENOTCONN, as sockets never connected. The listener still accepts a new connection.
 * With "noreuse" the listener has no SO_REUSEADDR, and the accepted end is closed first when the
 * tree is killed: a FIN would leave the listener's port in TIME_WAIT, and its bind at the restore
 * would fail (it did before the dump reset those connections). argv[2] "unread": dumped with
 * --tcp-established and restored with --tcp-close instead (zdtm's socket-tcp-close0 does that), and
 * the connecting end had sent "hello", which the accepted end reads first, then end of file.
 * Prints "ready", on SIGUSR2 checks and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static void closed(int s, const char *what) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    char c;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len)) fail("TCP_INFO");
    if (ti.tcpi_state != TCP_CLOSE) { printf("FAIL: %s is in state %d, not closed\n", what, ti.tcpi_state); exit(1); }
    ssize_t n = recv(s, &c, 1, MSG_DONTWAIT);
    if (n != 0) { printf("FAIL: %s reads %zd (errno %d), not end of file\n", what, n, errno); exit(1); }
    struct pollfd p = { .fd = s, .events = POLLIN };
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP)) { printf("FAIL: %s does not poll POLLHUP\n", what); exit(1); }
    if (send(s, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE) { printf("FAIL: %s: a write does not fail with EPIPE\n", what); exit(1); }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    int reuse = !(argc > 1 && !strcmp(argv[1], "noreuse")); /* as most servers do (zdtm's too) */
    if (l < 0 || (reuse && setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on)) || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4) || getsockname(l, (struct sockaddr *)&a, &al)) fail("listener");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) fail("connect");
    int s = accept(l, NULL, NULL);
    if (s < 0) fail("accept");
    /* an exiting task's files are released last fd first: the accepted end, then the connecting one */
    int high = fcntl(s, F_DUPFD, 64);
    if (high < 0 || close(s)) fail("dup");
    s = high;
    int unread = argc > 2 && !strcmp(argv[2], "unread");
    if (unread && send(c, "hello", 5, 0) != 5) fail("send");
    printf("ready\n");
    while (!check) pause();

    char got[8] = "";
    if (unread && (recv(s, got, sizeof got, MSG_DONTWAIT) != 5 || strncmp(got, "hello", 5))) {
        printf("FAIL: the accepted end reads '%s' (errno %d), not its unread 'hello'\n", got, errno);
        return 1;
    }

    closed(s, "the accepted end");
    closed(c, "the connecting end");
    int r = 0;
    socklen_t rl = sizeof r;
    if (getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &r, &rl) || !r != !reuse) { printf("FAIL: the listener's SO_REUSEADDR is %d\n", r); return 1; }
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    if (c2 < 0 || connect(c2, (struct sockaddr *)&a, sizeof a) || accept(l, NULL, NULL) < 0) fail("a new connection to the listener");
    printf("PASS\n");
    return 0;
}
