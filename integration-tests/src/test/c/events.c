/*
 * Event-loop kernel objects: an eventfd (semaphore mode, count 5, non-blocking), a periodic
 * timerfd (every 10 ms), a signalfd for SIGUSR1 (blocked) and an epoll instance watching the
 * timerfd (data 0x1234) and a pipe (edge-triggered, data 0x5678). The loop counts timer expirations through epoll.
 * On SIGUSR2 it checks: the eventfd still holds 5 as a semaphore and is non-blocking; the timer
 * still has its 10 ms period and keeps firing through epoll with the right data; a SIGUSR1 it
 * raises is read from the signalfd; prints PASS or FAIL: reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

static int efd, tfd, ep, sfd;
static uint64_t expirations;

static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }

/* Waits up to ms for timer events through epoll; returns how many expirations were read. */
static uint64_t pump(int ms) {
    uint64_t got = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct epoll_event ev[4];
        int n = epoll_wait(ep, ev, 4, 20);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == 0x1234) {
                uint64_t t;
                if (read(tfd, &t, sizeof t) == sizeof t) got += t;
            } else if (ev[i].data.u64 != 0x5678) {
                fail("epoll returned unknown data");
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= ms) return got;
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    sfd = signalfd(-1, &usr1, SFD_NONBLOCK | SFD_CLOEXEC);
    efd = eventfd(5, EFD_SEMAPHORE | EFD_NONBLOCK);
    tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 10 * 1000 * 1000}, {0, 10 * 1000 * 1000}};
    if (efd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) fail("setup");
    int p[2];
    if (pipe(p) < 0 || write(p[1], "x", 1) != 1) fail("pipe");
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e1 = {.events = EPOLLIN, .data.u64 = 0x1234};
    struct epoll_event e2 = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x5678};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &e1) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e2) < 0) fail("epoll");
    expirations += pump(50);
    printf("ready\n");
    while (!check) expirations += pump(50);

    /* the eventfd: non-blocking semaphore holding 5 */
    if (!(fcntl(efd, F_GETFL) & O_NONBLOCK)) fail("eventfd lost O_NONBLOCK");
    for (int i = 0; i < 5; i++) {
        uint64_t v;
        if (read(efd, &v, sizeof v) != sizeof v || v != 1) fail("eventfd semaphore read");
    }
    uint64_t v;
    if (read(efd, &v, sizeof v) != -1 || errno != EAGAIN) fail("eventfd held more than 5");
    /* the timer: same period, still firing through epoll */
    struct itimerspec cur;
    if (timerfd_gettime(tfd, &cur) < 0 || cur.it_interval.tv_sec != 0 || cur.it_interval.tv_nsec != 10000000)
        fail("timerfd lost its 10 ms period");
    uint64_t more = pump(200);
    if (more < 5) fail("timer does not fire through epoll any more");
    if (fcntl(ep, F_GETFD) != FD_CLOEXEC) fail("epoll fd lost FD_CLOEXEC");
    /* the signalfd: still reads SIGUSR1 */
    raise(SIGUSR1);
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR1) fail("signalfd does not read SIGUSR1");
    printf("PASS expirations=%llu\n", (unsigned long long)(expirations + more));
    return 0;
}
