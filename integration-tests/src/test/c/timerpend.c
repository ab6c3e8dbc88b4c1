/*
 * timerpend — a periodic POSIX timer whose signal waits, blocked, across a dump (zdtm10's probe).
 *
 * A 100 ms CLOCK_MONOTONIC timer raises SIGRTMIN, which the program blocks and never takes until
 * checked; prints "ready" once it has run 1.2 s (so the kernel counts 10 or more missed
 * expirations while the signal waits). On SIGUSR2 takes the signal with a zero timeout: it must
 * be the timer's (SI_TIMER, its id, its cookie), with si_overrun and timer_getoverrun >= 10; a
 * second one must not be there yet (a copy queued besides the timer's own would be).
 * Prints "PASS overrun=<n>" or "FAIL: <reason>". Ends by itself after 300 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cookie;
static volatile sig_atomic_t check;

static void on_usr2(int sig) { (void)sig; check = 1; }

int main(void)
{
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    signal(SIGUSR2, on_usr2);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN;
    ev.sigev_value.sival_ptr = &cookie;
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t)) { perror("timer_create"); return 1; }
    struct itimerspec its = { { 0, 100000000 }, { 0, 100000000 } };
    timer_settime(t, 0, &its, NULL);
    struct timespec wait = { 1, 200000000 };
    while (nanosleep(&wait, &wait) && errno == EINTR) {}
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 3000 && !check; i++)
        usleep(100000);
    if (!check) return 1;
    siginfo_t si;
    struct timespec zero = { 0, 0 };
    int got = sigtimedwait(&rt, &si, &zero);
    int ov = timer_getoverrun(t);
    if (got != SIGRTMIN)
        printf("FAIL: no timer signal waiting (%s)\n", strerror(errno));
    else if (si.si_code != SI_TIMER || si.si_value.sival_ptr != &cookie)
        printf("FAIL: the waiting signal is not the timer's (si_code %d)\n", si.si_code);
    else if (si.si_overrun < 10 || ov < 10)
        printf("FAIL: overrun lost: si_overrun %d, timer_getoverrun %d\n", si.si_overrun, ov);
    else if (sigtimedwait(&rt, &si, &zero) == SIGRTMIN)
        printf("FAIL: a second timer signal was waiting (si_code %d, overrun %d)\n", si.si_code, si.si_overrun);
    else
        printf("PASS overrun=%d\n", ov);
    fflush(stdout);
    return 0;
}
