/*
 * Many fds of one kind for the restore benchmark. Usage: manyfds KIND N DIR, KIND one of
 * "unix" (N/2 connected stream socketpairs, a byte queued in each direction), "tcp" (as "unix",
 * N/2 loopback TCP connections instead, each accepted end with TCP_NODELAY and SO_KEEPALIVE set as
 * redis sets them, the listener closed; after the check a byte more goes each way), "udp" (as "unix", N/2
 * pairs of loopback UDP sockets connected to each other instead, a datagram queued each way), "pipe" (N/2 pipes,
 * a byte in each), "file" (N files under DIR, each opened once), "mixed" (a pipe, then N-2 files: a
 * restore's fd model must follow the pipe's ends to queue the opens), "epoll" (as "unix", and an epoll
 * watching every socket for input, each watch's data its index and fd). On SIGUSR2 each object is checked
 * (the socket and pipe bytes read back). Prints PASS or FAIL: reason.
 * The sockets and pipe ends are not all alike, so a restore that hands many in at once must still put
 * each at its number with its own flags: every third is close-on-exec, every fourth non-blocking, and
 * every seventh moved up above the others, leaving a hole where it was (each checked on SIGUSR2).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 4) fail("usage: manyfds unix|tcp|udp|pipe|file|mixed|epoll N DIR");
    int n = atoi(argv[2]);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int *fds = calloc(n + 1, sizeof *fds);
    int mixed = !strcmp(argv[1], "mixed");
    int watched = !strcmp(argv[1], "epoll");
    int tcp = !strcmp(argv[1], "tcp");
    int udp = !strcmp(argv[1], "udp");
    int kind = !strcmp(argv[1], "unix") || watched || tcp || udp ? 0 : !strcmp(argv[1], "pipe") ? 1 : 2;
    int from = 0, lfd = -1;
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t atlen = sizeof at;
    if (tcp && ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lfd, (struct sockaddr *)&at, sizeof at)
                || listen(lfd, 16) || getsockname(lfd, (struct sockaddr *)&at, &atlen)))
        fail("listener");
    if (mixed) {
        if (pipe(fds) || write(fds[1], "p", 1) != 1) fail("pipe");
        from = 2;
    }
    for (int i = from; i + 1 < n || (kind == 2 && i < n); i += kind == 2 ? 1 : 2) {
        if (kind == 0 && tcp) {
            int one = 1;
            if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fds[i], (struct sockaddr *)&at, sizeof at))
                fail("connect");
            if ((fds[i + 1] = accept(lfd, NULL, NULL)) < 0) fail("accept");
            if (setsockopt(fds[i + 1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)
                || setsockopt(fds[i + 1], SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one))
                fail("setsockopt");
            if (write(fds[i], "a", 1) != 1 || write(fds[i + 1], "b", 1) != 1) fail("write");
        } else if (kind == 0 && udp) {
            struct sockaddr_in a[2];
            for (int k = 0; k < 2; k++) {
                socklen_t len = sizeof a[k];
                a[k] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                if ((fds[i + k] = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || bind(fds[i + k], (struct sockaddr *)&a[k], sizeof a[k])
                    || getsockname(fds[i + k], (struct sockaddr *)&a[k], &len))
                    fail("udp bind");
            }
            if (connect(fds[i], (struct sockaddr *)&a[1], sizeof a[1]) || connect(fds[i + 1], (struct sockaddr *)&a[0], sizeof a[0]))
                fail("udp connect");
            if (write(fds[i], "a", 1) != 1 || write(fds[i + 1], "b", 1) != 1) fail("write");
        } else if (kind == 0) {
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds + i)) fail("socketpair");
            if (write(fds[i], "a", 1) != 1 || write(fds[i + 1], "b", 1) != 1) fail("write");
        } else if (kind == 1) {
            if (pipe(fds + i)) fail("pipe");
            if (write(fds[i + 1], "p", 1) != 1) fail("write pipe");
        } else {
            char p[4200];
            snprintf(p, sizeof p, "%s/f%d", argv[3], i);
            if ((fds[i] = open(p, O_RDWR | O_CREAT, 0644)) < 0) fail("open");
        }
    }
    if (lfd >= 0) close(lfd);
    int made = kind == 2 ? 0 : from + (n - from) / 2 * 2; /* the sockets' or pipes' fds */
    if (kind != 2) {
        for (int i = from; i < made; i++) {
            if (i % 7 == 5) {
                int up = fcntl(fds[i], F_DUPFD, n + 64 + i);
                if (up < 0 || close(fds[i])) fail("move up");
                fds[i] = up;
            }
            if (i % 3 == 1 && fcntl(fds[i], F_SETFD, FD_CLOEXEC)) fail("cloexec");
            if (i % 4 == 2 && fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK)) fail("nonblock");
        }
    }
    int ep = -1;
    if (watched) {
        if ((ep = epoll_create1(0)) < 0) fail("epoll_create1");
        for (int i = from; i < made; i++) {
            struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)i << 32 | (uint32_t)fds[i]};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e)) fail("epoll_ctl");
        }
    }
    printf("ready\n");
    while (!check) pause();
    if (watched) { /* every socket has its byte: each watch reports it once, with its own data */
        struct epoll_event *ev = calloc(made + 1, sizeof *ev);
        char *seen = calloc(made + 1, 1);
        if (epoll_wait(ep, ev, made + 1, 0) != made - from) fail("epoll: not every watch is ready");
        for (int k = 0; k < made - from; k++) {
            int i = (int)(ev[k].data.u64 >> 32);
            if (i < from || i >= made || seen[i] || (int)(uint32_t)ev[k].data.u64 != fds[i] || !(ev[k].events & EPOLLIN))
                fail("epoll: a watch's data or events");
            seen[i] = 1;
        }
    }
    char c;
    if (mixed && (read(fds[0], &c, 1) != 1 || c != 'p')) fail("pipe byte");
    for (int i = from; i + 1 < n || (kind == 2 && i < n); i += kind == 2 ? 1 : 2) {
        if (kind == 0) {
            if (read(fds[i], &c, 1) != 1 || c != 'b' || read(fds[i + 1], &c, 1) != 1 || c != 'a') fail("socket bytes");
            if (tcp) { /* the connection is live: a byte more each way */
                struct pollfd p[2] = {{.fd = fds[i + 1], .events = POLLIN}, {.fd = fds[i], .events = POLLIN}};
                if (write(fds[i], "c", 1) != 1 || write(fds[i + 1], "d", 1) != 1) fail("write after");
                if (poll(p, 1, 5000) != 1 || read(fds[i + 1], &c, 1) != 1 || c != 'c') fail("byte after, one way");
                if (poll(p + 1, 1, 5000) != 1 || read(fds[i], &c, 1) != 1 || c != 'd') fail("byte after, other way");
            }
        } else if (kind == 1) {
            if (read(fds[i], &c, 1) != 1 || c != 'p') fail("pipe byte");
        } else if (lseek(fds[i], 0, SEEK_CUR) != 0) {
            fail("file position");
        }
    }
    for (int i = from; i < made; i++) {
        int fd = fds[i], fdf = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
        if (fdf < 0 || fl < 0) fail("fd gone");
        if (!(fdf & FD_CLOEXEC) != !(i % 3 == 1)) fail("close-on-exec");
        if (!(fl & O_NONBLOCK) != !(i % 4 == 2)) fail("non-blocking");
    }
    printf("PASS\n");
    return 0;
}
