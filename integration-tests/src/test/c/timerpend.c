/*
 * timerpend — a periodic POSIX timer whose signal waits, blocked, across a dump (zdtm10's probe).
 *
 * A 100 ms CLOCK_MONOTONIC timer raises SIGRTMIN, which the program blocks and never takes until
 * checked; prints "ready" once it has run 1.2 s (so the kernel counts 10 or more missed
 * expirations while the signal waits). On SIGUSR2 takes the signal with a zero timeout: it must
 * be the timer's (SI_TIMER, its id, its cookie), with si_overrun and timer_getoverrun >= 10; a
 * second one must not be there yet (a copy queued besides the timer's own would be), unless the
 * timer expired again since its signal was taken (a preemption under load can take that long).
 * argv[1] "behind": a sigqueue()d SIGRTMIN (value 7) waits before the timer's signal and another
 * (value 8) after it: they must be taken in that order, 7, the timer's, 8. "thread": the timer is
 * aimed at a second thread (SIGEV_THREAD_ID), whose own queue its signal waits in; that thread
 * takes and checks it.
 * Prints "PASS overrun=<n>" or "FAIL: <reason>". Ends by itself after 300 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int cookie;
static volatile sig_atomic_t check;
static timer_t t;
static sigset_t rt;
static char verdict[200];
static volatile pid_t thread_tid;

static void on_usr2(int sig) { (void)sig; check = 1; }

/* The next waiting SIGRTMIN must be a sigqueue()d one with this value. */
static int queued(int value)
{
    siginfo_t si;
    struct timespec zero = { 0, 0 };
    if (sigtimedwait(&rt, &si, &zero) != SIGRTMIN) {
        snprintf(verdict, sizeof verdict, "FAIL: value %d is not waiting (%s)", value, strerror(errno));
        return 0;
    }
    if (si.si_code != SI_QUEUE || si.si_value.sival_int != value) {
        snprintf(verdict, sizeof verdict, "FAIL: value %d expected, got si_code %d value %d", value, si.si_code,
                 si.si_value.sival_int);
        return 0;
    }
    return 1;
}

static long long ns(struct timespec a)
{
    return a.tv_sec * 1000000000LL + a.tv_nsec;
}

/* The timer's own signal, then no other copy of it. */
static void timers(int behind)
{
    siginfo_t si;
    struct timespec zero = { 0, 0 }, taken, now;
    struct itimerspec left;
    if (behind && !queued(7))
        return;
    /* read before the take: an expiry before the take finds its signal waiting and only counts an
       overrun, so only one at left.it_value after `taken` or later can queue it again */
    clock_gettime(CLOCK_MONOTONIC, &taken);
    timer_gettime(t, &left);
    int got = sigtimedwait(&rt, &si, &zero);
    int ov = timer_getoverrun(t);
    if (got != SIGRTMIN)
        snprintf(verdict, sizeof verdict, "FAIL: no timer signal waiting (%s)", strerror(errno));
    else if (si.si_code != SI_TIMER || si.si_value.sival_ptr != &cookie)
        snprintf(verdict, sizeof verdict, "FAIL: the waiting signal is not the timer's (si_code %d)", si.si_code);
    else if (si.si_overrun < 10 || ov < 10)
        snprintf(verdict, sizeof verdict, "FAIL: overrun lost: si_overrun %d, timer_getoverrun %d", si.si_overrun, ov);
    else if (behind && !queued(8))
        return;
    else if (sigtimedwait(&rt, &si, &zero) == SIGRTMIN
             && !(si.si_code == SI_TIMER && clock_gettime(CLOCK_MONOTONIC, &now) == 0
                  && ns(now) - ns(taken) >= ns(left.it_value)))
        snprintf(verdict, sizeof verdict, "FAIL: a second timer signal was waiting (si_code %d, overrun %d)",
                 si.si_code, si.si_overrun);
    else
        snprintf(verdict, sizeof verdict, "PASS overrun=%d", ov);
}

static void *target(void *arg)
{
    (void)arg;
    thread_tid = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < 3000 && !check; i++)
        usleep(100000);
    if (check)
        timers(0);
    return NULL;
}

int main(int argc, char **argv)
{
    int behind = argc > 1 && strcmp(argv[1], "behind") == 0;
    int thread = argc > 1 && strcmp(argv[1], "thread") == 0;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    signal(SIGUSR2, on_usr2);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN;
    ev.sigev_value.sival_ptr = &cookie;
    pthread_t th;
    if (thread) {
        if (pthread_create(&th, NULL, target, NULL)) { perror("pthread_create"); return 1; }
        while (!thread_tid) usleep(1000);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev._sigev_un._tid = thread_tid;
    }
    if (behind)
        sigqueue(getpid(), SIGRTMIN, (union sigval){ .sival_int = 7 });
    if (timer_create(CLOCK_MONOTONIC, &ev, &t)) { perror("timer_create"); return 1; }
    struct itimerspec its = { { 0, 100000000 }, { 0, 100000000 } };
    timer_settime(t, 0, &its, NULL);
    struct timespec wait = { 1, 200000000 };
    while (nanosleep(&wait, &wait) && errno == EINTR) {}
    if (behind)
        sigqueue(getpid(), SIGRTMIN, (union sigval){ .sival_int = 8 });
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 3000 && !check; i++)
        usleep(100000);
    if (!check) return 1;
    if (thread)
        pthread_join(th, NULL);
    else
        timers(behind);
    printf("%s\n", verdict);
    fflush(stdout);
    return 0;
}
