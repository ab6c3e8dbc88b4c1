/*
 * Oneshot epoll watches that have fired and wait to be armed again (the BEAM's — Erlang, Elixir,
 * RabbitMQ — idiom: each socket is armed once per read): the kernel leaves such a watch no events,
 * but an EPOLL_CTL_ADD always arms EPOLLERR|EPOLLHUP, so a restore that added it with its dumped
 * mask brought it back armed, and a hang-up was reported to a program that had not asked. Here a
 * unix stream end, a pipe's write end and another pipe's read end (fired, then drained: ready for
 * nothing at the dump) have fired; an eventfd's oneshot watch is armed and ready. On SIGUSR2 it
 * hangs up all three peers: only the eventfd may be reported; the unix end is reported once armed
 * again. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int sv[2], p[2], q[2], ep = epoll_create1(0), efd = eventfd(1, EFD_NONBLOCK);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(p) || pipe(q) || ep < 0 || efd < 0) fail("setup");
    struct epoll_event ev = {EPOLLIN | EPOLLONESHOT, {.u64 = 0xa1}}, out[8];
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev)) fail("epoll_ctl(unix)");
    ev = (struct epoll_event){EPOLLOUT | EPOLLONESHOT | EPOLLET, {.u64 = 0xb2}};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev)) fail("epoll_ctl(pipe)");
    ev = (struct epoll_event){EPOLLIN | EPOLLONESHOT, {.u64 = 0xd4}};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev)) fail("epoll_ctl(pipe read end)");
    char c = 'x';
    if (write(sv[1], &c, 1) != 1 || write(q[1], &c, 1) != 1) fail("write");
    if (epoll_wait(ep, out, 8, 5000) != 3) fail("the three oneshot watches did not fire");
    if (read(sv[0], &c, 1) != 1 || read(q[0], &c, 1) != 1) fail("read");
    ev = (struct epoll_event){EPOLLIN | EPOLLONESHOT, {.u64 = 0xc3}};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev)) fail("epoll_ctl(eventfd)");
    printf("ready\n");
    while (!check) pause();
    close(sv[1]);
    close(p[0]);
    close(q[1]);
    int n = epoll_wait(ep, out, 8, 0);
    if (n != 1 || out[0].data.u64 != 0xc3) {
        printf("FAIL: %d events reported (first data 0x%llx), only the armed eventfd's expected\n", n,
               n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL);
        return 1;
    }
    ev = (struct epoll_event){EPOLLIN | EPOLLONESHOT, {.u64 = 0xa1}};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, sv[0], &ev)) fail("epoll_ctl(MOD unix)");
    n = epoll_wait(ep, out, 8, 0);
    if (n != 1 || out[0].data.u64 != 0xa1) { printf("FAIL: the unix end armed again reported %d events\n", n); return 1; }
    printf("PASS\n");
    return 0;
}
