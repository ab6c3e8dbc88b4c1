/*
 * Files in flight that no task holds, inside unread unix messages (zdtm scm05 and beyond):
 *  - an epoll watching the receiving datagram socket, passed twice ("e1", "e2") and closed (scm05);
 *  - a stream socket passed ("sock") with bytes queued at it, whose own queue passes a pipe end
 *    holding bytes ("inner" with the read end) and then a datagram socket ("deeper") whose queue
 *    passes an eventfd worth 5 ("deepest"): three levels in flight, each closed by the task;
 *  - both ends of a seqpacket pair in one message ("pair"), one of them with a message queued.
 * On SIGUSR2 each message must come back in order with its data and files: the two epolls are one
 * (a watch added through the first shows through the second) and report the socket readable with its
 * data; the socket's queue gives its bytes, then its own messages with their files, and so on.
 * With argv[1] "loop": a datagram socket in flight in its own queue (refused by the dump, by name).
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"
#include "scmfds.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int a[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, a)) fail("socketpair");
    if (argc > 1 && !strcmp(argv[1], "loop")) {
        int l[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, l)) fail("socketpair");
        send_fds(l[0], "self", &l[1], 1);
        send_fds(a[0], "loop", &l[1], 1);
        close(l[1]);
        alarm(600); /* refused at dump: the test kills it, or this does */
        printf("ready\n");
        while (!check) pause();
        printf("PASS\n");
        return 0;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x5c3050};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, a[1], &ev)) fail("epoll");
    send_fds(a[0], "e1", &ep, 1);
    send_fds(a[0], "e2", &ep, 1);
    close(ep);

    int s[2], d[2], p[2], sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || socketpair(AF_UNIX, SOCK_DGRAM, 0, d)
        || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) || pipe(p)) fail("socketpair or pipe");
    int efd = eventfd(5, 0);
    if (efd < 0) fail("eventfd");
    send_fds(d[0], "deepest", &efd, 1);
    close(efd);
    if (write(s[0], "bytes", 5) != 5 || write(p[1], "piped", 5) != 5) fail("write");
    send_fds(s[0], "inner", &p[0], 1);
    close(p[0]);
    send_fds(s[0], "deeper", &d[1], 1);
    close(d[1]);
    send_fds(a[0], "sock", &s[1], 1);
    close(s[1]);
    if (write(sp[0], "seq", 3) != 3) fail("write seqpacket");
    send_fds(a[0], "pair", sp, 2);
    close(sp[0]);
    close(sp[1]);

    printf("ready\n");
    while (!check) pause();

    char buf[64];
    int fds[4];
    if (recv_fds(a[1], buf, sizeof buf, fds, NULL) != 1) fail("'e1' passes one fd");
    expect("message 1", buf, "e1");
    int ep1 = fds[0];
    struct epoll_event got[2];
    if (epoll_wait(ep1, got, 2, 0) != 1 || got[0].data.u64 != 0x5c3050) fail("the epoll does not see the socket readable");
    if (recv_fds(a[1], buf, sizeof buf, fds, NULL) != 1) fail("'e2' passes one fd");
    expect("message 2", buf, "e2");
    int ep2 = fds[0];
    struct epoll_event mark = {.events = EPOLLOUT, .data.u64 = 77};
    if (epoll_ctl(ep1, EPOLL_CTL_ADD, a[0], &mark)) fail("add a watch through the first epoll");
    int n = epoll_wait(ep2, got, 2, 0), seen = 0;
    for (int i = 0; i < n; i++) seen |= got[i].data.u64 == 77;
    if (!seen) fail("the two epolls passed are not one");

    if (recv_fds(a[1], buf, sizeof buf, fds, NULL) != 1) fail("'sock' passes one fd");
    expect("message 3", buf, "sock");
    int sock = fds[0];
    if (recv_fds(sock, buf, sizeof buf, fds, NULL) != 1) fail("the socket's bytes end with the pipe passed");
    expect("the socket's stream", buf, "bytesinner");
    char piped[8] = {0};
    fcntl(fds[0], F_SETFL, O_NONBLOCK); /* bytes lost fail here rather than block */
    if (read(fds[0], piped, sizeof piped - 1) != 5) fail("read the pipe in flight");
    expect("the pipe in flight", piped, "piped");
    if (recv_fds(sock, buf, sizeof buf, fds, NULL) != 1) fail("'deeper' passes one fd");
    expect("the socket's second message", buf, "deeper");
    int deeper = fds[0];
    if (recv_fds(deeper, buf, sizeof buf, fds, NULL) != 1) fail("'deepest' passes one fd");
    expect("the deepest message", buf, "deepest");
    unsigned long long v = 0;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    if (read(fds[0], &v, 8) != 8 || v != 5) { printf("FAIL: eventfd holds %llu, not 5\n", v); return 1; }

    if (recv_fds(a[1], buf, sizeof buf, fds, NULL) != 2) fail("'pair' passes two fds");
    expect("message 4", buf, "pair");
    if (recv_fds(fds[1], buf, sizeof buf, fds + 2, NULL) != 0) fail("the seqpacket message passes nothing");
    expect("the seqpacket pair's message", buf, "seq");
    if (write(fds[1], "back", 4) != 4) fail("write back through the pair");
    if (recv_fds(fds[0], buf, sizeof buf, fds + 2, NULL) != 0) fail("the pair's reply");
    expect("the seqpacket pair's reply", buf, "back");
    printf("PASS\n");
    return 0;
}
