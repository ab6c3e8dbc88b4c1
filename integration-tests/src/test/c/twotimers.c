/*
 * twotimers — two periodic POSIX timers on one signal whose signals both wait, blocked, across a
 * dump (DMTCP's timer1 shape: there the signals wait only while the tree is frozen).
 *
 * Two 100 ms CLOCK_MONOTONIC timers raise SIGRTMIN, the second armed 50 ms after the first, which
 * the program blocks and never takes until checked; prints "ready" once they have run 1.2 s (the
 * kernel counts 10 or more missed expirations for each while its signal waits). On SIGUSR2 takes
 * the waiting SIGRTMINs with a zero timeout: the first must be the first timer's (SI_TIMER, its
 * cookie), the second the second timer's, each with si_overrun and timer_getoverrun >= 10, and no
 * third. Prints "PASS overruns=<a>,<b>" or "FAIL: <reason>". Ends by itself after 300 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cookie[2];
static timer_t timer[2];
static volatile sig_atomic_t check;

static void on_usr2(int sig) { (void)sig; check = 1; }

/* The next waiting SIGRTMIN must be timer i's own, with its missed periods counted. */
static int own(const sigset_t *rt, int i, int *overrun, char *verdict, size_t len)
{
    siginfo_t si;
    struct timespec zero = { 0, 0 };
    if (sigtimedwait(rt, &si, &zero) != SIGRTMIN) {
        snprintf(verdict, len, "FAIL: timer %d's signal is not waiting (%s)", i, strerror(errno));
        return 0;
    }
    if (si.si_code != SI_TIMER || si.si_value.sival_ptr != &cookie[i]) {
        snprintf(verdict, len, "FAIL: signal %d is not timer %d's (si_code %d, cookie %s)", i, i, si.si_code,
                 si.si_value.sival_ptr == &cookie[1 - i] ? "the other timer's" : "unknown");
        return 0;
    }
    *overrun = timer_getoverrun(timer[i]);
    if (si.si_overrun < 10 || *overrun < 10) {
        snprintf(verdict, len, "FAIL: timer %d's overrun lost: si_overrun %d, timer_getoverrun %d", i, si.si_overrun,
                 *overrun);
        return 0;
    }
    return 1;
}

int main(void)
{
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    signal(SIGUSR2, on_usr2);
    for (int i = 0; i < 2; i++) {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_SIGNAL;
        ev.sigev_signo = SIGRTMIN;
        ev.sigev_value.sival_ptr = &cookie[i];
        if (timer_create(CLOCK_MONOTONIC, &ev, &timer[i])) { perror("timer_create"); return 1; }
    }
    struct itimerspec its = { { 0, 100000000 }, { 0, 100000000 } };
    timer_settime(timer[0], 0, &its, NULL);
    struct timespec half = { 0, 50000000 };
    while (nanosleep(&half, &half) && errno == EINTR) {}
    timer_settime(timer[1], 0, &its, NULL);
    struct timespec wait = { 1, 200000000 };
    while (nanosleep(&wait, &wait) && errno == EINTR) {}
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 3000 && !check; i++)
        usleep(100000);
    if (!check) return 1;
    char verdict[200];
    int a, b;
    siginfo_t si;
    struct timespec zero = { 0, 0 };
    if (own(&rt, 0, &a, verdict, sizeof verdict) && own(&rt, 1, &b, verdict, sizeof verdict)) {
        if (sigtimedwait(&rt, &si, &zero) == SIGRTMIN)
            snprintf(verdict, sizeof verdict, "FAIL: a third SIGRTMIN was waiting (si_code %d)", si.si_code);
        else
            snprintf(verdict, sizeof verdict, "PASS overruns=%d,%d", a, b);
    }
    printf("%s\n", verdict);
    fflush(stdout);
    return 0;
}
