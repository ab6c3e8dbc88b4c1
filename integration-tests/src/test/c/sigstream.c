/*
 * sigstream — signals that arrive while the tree is held keep what they say.
 *
 * `sigstream` (the workload): a SA_SIGINFO handler for SIGRTMIN that expects sigqueue()d values
 * 1, 2, 3... in order (real-time signals of one number are delivered first in, first out, and none
 * is ever merged), and a POSIX timer raising SIGRTMIN+1 every 2 ms whose signals must carry
 * SI_TIMER and the cookie given to timer_create. Prints "ready" and waits.
 * On SIGUSR2 prints "PASS rt=<n> timer=<n>" or "FAIL: <reason>" (a value out of order, a wrong
 * si_code, a timer signal without its cookie).
 *
 * `sigstream send PID N`: sigqueue()s SIGRTMIN with values 1..N to PID, about every 200 us
 * (retrying while the queue is full), then prints "sent N" and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cookie;
static volatile long rt_next = 1, timer_ticks;
static volatile int bad;
static volatile long bad_value;
static volatile int bad_code;
static volatile sig_atomic_t check_requested;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    if (si->si_code != SI_QUEUE) {
        if (!bad) { bad = 1; bad_code = si->si_code; }
    } else if (si->si_value.sival_int != rt_next) {
        if (!bad) { bad = 2; bad_value = si->si_value.sival_int; }
    }
    rt_next++;
}

static void on_timer(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    if (si->si_code != SI_TIMER || si->si_value.sival_ptr != &cookie) {
        if (!bad) { bad = 3; bad_code = si->si_code; }
    }
    timer_ticks += 1 + si->si_overrun;
}

static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static int send_values(pid_t pid, long n)
{
    struct timespec pace = { 0, 200000 };
    for (long i = 1; i <= n; i++) {
        union sigval v = { .sival_int = (int)i };
        while (sigqueue(pid, SIGRTMIN, v) == -1) {
            if (errno != EAGAIN) {
                perror("sigqueue");
                return 1;
            }
            nanosleep(&pace, NULL);
        }
        nanosleep(&pace, NULL);
    }
    printf("sent %ld\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "send") == 0)
        return send_values((pid_t)atol(argv[2]), atol(argv[3]));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sa.sa_sigaction = on_rt;
    sigaction(SIGRTMIN, &sa, NULL);
    sa.sa_sigaction = on_timer;
    sigaction(SIGRTMIN + 1, &sa, NULL);
    signal(SIGUSR2, on_usr2);

    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN + 1;
    ev.sigev_value.sival_ptr = &cookie;
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0) {
        perror("timer_create");
        return 1;
    }
    struct itimerspec its = { { 0, 2000000 }, { 0, 2000000 } };
    timer_settime(t, 0, &its, NULL);

    printf("ready\n");
    fflush(stdout);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do { /* bounded: gives up after 300 s */
        pause();
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!check_requested && now.tv_sec - start.tv_sec < 300);
    if (!check_requested) {
        printf("FAIL: no check requested\n");
        return 1;
    }
    if (bad == 1)
        printf("FAIL: a SIGRTMIN arrived with si_code %d, not SI_QUEUE\n", bad_code);
    else if (bad == 2)
        printf("FAIL: value %ld arrived where %ld was expected\n", bad_value, rt_next);
    else if (bad == 3)
        printf("FAIL: a timer signal arrived with si_code %d and without its cookie\n", bad_code);
    else
        printf("PASS rt=%ld timer=%ld\n", rt_next - 1, timer_ticks);
    fflush(stdout);
    return 0;
}
