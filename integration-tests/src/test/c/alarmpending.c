/*
 * alarmpending — an interval timer caught between its expiry and its reload.
 *
 * ITIMER_REAL is reloaded by the kernel only when its SIGALRM is taken: between the expiry and
 * then, getitimer shows no time left, only the period. This program blocks SIGALRM, arms
 * ITIMER_REAL (5 ms, then every 20 ms) and sleeps past the expiry, so the timer stays in that
 * state (SIGALRM pending) for as long as it lives. Prints "ready" and waits.
 *
 * On SIGUSR2 checks: the period is still 20 ms; once SIGALRM is unblocked the timer keeps
 * firing (at least 5 times in 400 ms). Prints "PASS alrm=<n>" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t check_requested;
static volatile long alrm_ticks;

static void on_alrm(int sig) { (void)sig; alrm_ticks++; }
static void on_usr2(int sig) { (void)sig; check_requested = 1; }

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);

    struct itimerval it = {.it_interval = {0, 20000}, .it_value = {0, 5000}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec nap = {0, 100 * 1000 * 1000};
    nanosleep(&nap, NULL);
    sigset_t pending;
    sigpending(&pending);
    if (!sigismember(&pending, SIGALRM)) {
        printf("FAIL: SIGALRM is not pending after the expiry\n");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (!check_requested)
        pause();

    struct itimerval now;
    getitimer(ITIMER_REAL, &now);
    if (now.it_interval.tv_sec != 0 || now.it_interval.tv_usec != 20000) {
        printf("FAIL: ITIMER_REAL's period is %ld.%06ld s, not 0.020000\n", (long)now.it_interval.tv_sec,
               (long)now.it_interval.tv_usec);
        return 1;
    }
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    struct timespec left = {0, 400 * 1000 * 1000};
    while (nanosleep(&left, &left) != 0)
        ;
    if (alrm_ticks < 5) {
        printf("FAIL: ITIMER_REAL fired %ld times in 400 ms after SIGALRM was unblocked\n", alrm_ticks);
        return 1;
    }
    printf("PASS alrm=%ld\n", alrm_ticks);
    return 0;
}
