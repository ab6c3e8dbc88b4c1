/*
 * An epoll that watches another epoll opened after it (a higher fd number), which watches an
 * eventfd: event loops nest this way (sd-event embedding a child loop). On SIGUSR2 it signals the
 * eventfd and checks the outer epoll reports the inner one with its data, and the inner the
 * eventfd. zdtm's epoll01-like nesting found it: the restore added the outer's watch before the
 * inner epoll existed (EBADF) and failed after the dump had killed the tree. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int outer = epoll_create1(EPOLL_CLOEXEC), inner = epoll_create1(0), efd = eventfd(0, EFD_NONBLOCK);
    if (outer < 0 || inner < 0 || efd < 0 || inner < outer) fail("epoll_create1/eventfd");
    if (fcntl(inner, F_SETFL, O_NONBLOCK)) fail("fcntl(inner, F_SETFL)");
    struct epoll_event ev = {EPOLLIN, {.u64 = 0xe7e7}};
    if (epoll_ctl(inner, EPOLL_CTL_ADD, efd, &ev)) fail("epoll_ctl(inner)");
    ev.data.u64 = 0x1a1a;
    if (epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev)) fail("epoll_ctl(outer)");
    printf("ready\n");
    while (!check) pause();
    if (!(fcntl(inner, F_GETFL) & O_NONBLOCK)) { printf("FAIL: the inner epoll lost O_NONBLOCK\n"); return 1; }
    if (fcntl(outer, F_GETFL) & O_NONBLOCK) { printf("FAIL: the outer epoll got O_NONBLOCK\n"); return 1; }
    uint64_t one = 1;
    if (write(efd, &one, sizeof one) != sizeof one) fail("write(eventfd)");
    struct epoll_event out[4];
    int n = epoll_wait(outer, out, 4, 5000);
    if (n != 1 || out[0].data.u64 != 0x1a1a) { printf("FAIL: the outer epoll reported %d events\n", n); return 1; }
    n = epoll_wait(inner, out, 4, 0);
    if (n != 1 || out[0].data.u64 != 0xe7e7) { printf("FAIL: the inner epoll reported %d events\n", n); return 1; }
    printf("PASS\n");
    return 0;
}
