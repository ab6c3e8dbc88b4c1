/*
 * Two TCP connections over on both sides, both ends in the program, each fd still open: the
 * kernel moved them to TIME_WAIT without their sockets, which are closed, unhashed and not listed
 * by sock_diag. The client end `c` still holds "hello" unread; the server end `s` holds nothing.
 * On SIGUSR2 both must still be what they were: the local address, no peer (ENOTCONN) but the
 * peer SO_PEERNAME still names (zdtm's socket-tcp-closed: it named a port of no one's after a
 * restore), c's bytes then the end, writes failing with EPIPE, poll saying in/out/hang-up without
 * an error, no error pending. Prints PASS or FAIL: reason. With argument "listening" the listener
 * `s` was accepted from stays open, as a server's does (`s` is on the listener's port).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcppeer.h"

static void closed_as_before(int fd, const char *name, const char *unread, struct sockaddr_in *was,
                             struct sockaddr_in *peer) {
    char why[128];
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &n) || a.sin_port != was->sin_port || a.sin_addr.s_addr != was->sin_addr.s_addr) {
        snprintf(why, sizeof why, "%s: local address changed", name);
        fail(why);
    }
    n = sizeof a;
    if (getpeername(fd, (struct sockaddr *)&a, &n) == 0 || errno != ENOTCONN) {
        snprintf(why, sizeof why, "%s: getpeername did not say ENOTCONN", name);
        fail(why);
    }
    n = sizeof a;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERNAME, &a, &n) || a.sin_port != peer->sin_port
        || a.sin_addr.s_addr != peer->sin_addr.s_addr) {
        snprintf(why, sizeof why, "%s: SO_PEERNAME names port %d, not %d", name, ntohs(a.sin_port), ntohs(peer->sin_port));
        fail(why);
    }
    int err = -1;
    n = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) || err != 0) {
        snprintf(why, sizeof why, "%s: an error is pending (%d)", name, err);
        fail(why);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP};
    if (poll(&p, 1, 0) != 1 || p.revents != (POLLIN | POLLOUT | POLLHUP | POLLRDHUP)) {
        snprintf(why, sizeof why, "%s: poll gave 0x%x", name, p.revents);
        fail(why);
    }
    int inq = -1;
    if (ioctl(fd, SIOCINQ, &inq) || inq != (int)strlen(unread)) {
        snprintf(why, sizeof why, "%s: %d bytes unread, not %zu", name, inq, strlen(unread));
        fail(why);
    }
    char buf[64];
    ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r != (ssize_t)strlen(unread) || memcmp(buf, unread, r) != 0) {
        snprintf(why, sizeof why, "%s: read %zd bytes, not '%s'", name, r, unread);
        fail(why);
    }
    if (*unread && recv(fd, buf, sizeof buf, MSG_DONTWAIT) != 0) {
        snprintf(why, sizeof why, "%s: no end after the bytes", name);
        fail(why);
    }
    if (send(fd, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE) {
        snprintf(why, sizeof why, "%s: a write did not fail with EPIPE", name);
        fail(why);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in a;
    int l = listen_loopback(&a, 8);
    socklen_t n;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) fail("connect");
    int s = accept(l, NULL, NULL);
    if (s < 0) fail("accept");
    if (argc < 2 || strcmp(argv[1], "listening") != 0) close(l);
    struct sockaddr_in cl, sl;
    n = sizeof cl;
    getsockname(c, (struct sockaddr *)&cl, &n);
    n = sizeof sl;
    getsockname(s, (struct sockaddr *)&sl, &n);
    if (write(s, "hello", 5) != 5) fail("write");
    if (shutdown(c, SHUT_WR) || shutdown(s, SHUT_WR)) fail("shutdown");
    usleep(200 * 1000);
    char eof;
    if (read(s, &eof, 1) != 0) fail("s did not see c's end");
    printf("ready\n");
    while (!check) pause();
    closed_as_before(c, "client end", "hello", &cl, &sl);
    closed_as_before(s, "server end", "", &sl, &cl);
    printf("PASS\n");
    return 0;
}
