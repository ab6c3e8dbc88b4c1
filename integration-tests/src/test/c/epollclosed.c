/*
 * Epoll watches whose fd was closed while the file stays open at another fd and stays watched
 * (the kernel keys a watch by file and fd number), as CRIU's zdtm epoll does with fd 999:
 *   data 1: pipe 1's read end added through fd 999, which is closed;
 *   data 2: pipe 2's read end added through fd 50, which now holds an eventfd;
 *   data 3, 4: pipes 3 and 4 both added through fd 60, which is closed (one number, two watches).
 * Prints "ready" and waits for SIGUSR2, then checks that each pipe's bytes wake the epoll with its
 * data, that the eventfd at fd 50 is not watched, and that each watch still has its key: adding the
 * same file through the same number again fails with EEXIST. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "workload.h"

static int ep, p[5][2];

static void add(int fd, int data) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl ADD");
}

/* the watch of pipe i through number n still exists: adding it again says EEXIST */
static void keyed(int i, int n, const char *what) {
    if (dup2(p[i][0], n) != n) fail("dup2");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 99};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, n, &ev) == 0 || errno != EEXIST) fail(what);
    close(n);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 1; i <= 4; i++)
        if (pipe2(p[i], O_NONBLOCK) < 0) fail("pipe");
    if (ep < 0 || dup2(p[1][0], 999) != 999) fail("dup2 999");
    add(999, 1);
    close(999);
    if (dup2(p[2][0], 50) != 50) fail("dup2 50");
    add(50, 2);
    int efd = eventfd(0, 0);
    if (efd < 0 || dup2(efd, 50) != 50 || close(efd) < 0) fail("an eventfd at 50");
    if (dup2(p[3][0], 60) != 60) fail("dup2 60");
    add(60, 3);
    if (dup2(p[4][0], 60) != 60) fail("dup2 60");
    add(60, 4);
    close(60);
    printf("ready\n");
    while (!check) pause();
    struct epoll_event ev;
    if (epoll_wait(ep, &ev, 1, 0) != 0) fail("an event with nothing written");
    for (int i = 1; i <= 4; i++) {
        char c = 'x';
        if (write(p[i][1], &c, 1) != 1) fail("write");
        int n = epoll_wait(ep, &ev, 1, 1000);
        if (n != 1) fail("no event for a written pipe");
        if (ev.data.u64 != (unsigned)i) {
            printf("FAIL: pipe %d woke the epoll with data %llu\n", i, (unsigned long long)ev.data.u64);
            return 1;
        }
        if (read(p[i][0], &c, 1) != 1) fail("read");
    }
    if (fcntl(999, F_GETFD) >= 0 || fcntl(60, F_GETFD) >= 0) fail("fd 999 or 60 is open");
    struct epoll_event del;
    if (epoll_ctl(ep, EPOLL_CTL_DEL, 50, &del) == 0 || errno != ENOENT) fail("the eventfd at fd 50 is watched");
    keyed(1, 999, "pipe 1 is not watched through fd 999");
    /* fd 50 holds the eventfd: moved aside for the key check of pipe 2, then put back */
    int saved = dup(50);
    keyed(2, 50, "pipe 2 is not watched through fd 50");
    if (dup2(saved, 50) != 50) fail("dup2 back");
    keyed(3, 60, "pipe 3 is not watched through fd 60");
    keyed(4, 60, "pipe 4 is not watched through fd 60");
    printf("PASS\n");
    return 0;
}
