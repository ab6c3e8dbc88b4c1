/*
 * timers — POSIX and interval timers across a checkpoint/restore (zdtm style).
 *
 * Creates: a POSIX timer on CLOCK_MONOTONIC raising SIGUSR1 every 50 ms with sigev_value
 * MAGIC; a SIGEV_THREAD_ID timer raising SIGRTMIN+1 every 100 ms at a worker thread; a
 * SIGEV_NONE timer with 1000 s left; ITIMER_REAL every 30 ms (SIGALRM); ITIMER_VIRTUAL and
 * ITIMER_PROF armed with long periods (they count CPU time, so they only have to stay armed).
 * Prints "ready <id1> <id2> <id3>" and waits.
 *
 * On SIGUSR2 checks: each saved timer id still answers timer_gettime with its period, and
 * /proc/self/timers lists it; the SIGEV_NONE timer has less than 1000 s left but more than 990;
 * the itimers keep their periods; during one measured second the 50 ms timer expires
 * elapsed/50ms times (counting overruns, so load cannot skew it), the 30 ms itimer and the
 * thread timer fire at about their periods, each signal carries the right si_value and
 * timer id, and the thread timer's signals land on the worker thread only.
 * Prints "PASS usr1=<n> alrm=<n> thr=<n>" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x5eed1234L

static timer_t t_usr1, t_thread, t_none;
static volatile long usr1_ticks, alrm_ticks, thr_ticks;
static volatile int bad_value, bad_thread;
static volatile sig_atomic_t check_requested;
static volatile pid_t worker_tid;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    if (si->si_code != SI_TIMER || si->si_value.sival_ptr != (void *)MAGIC)
        bad_value = 1;
    usr1_ticks += 1 + si->si_overrun;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    if (syscall(SYS_gettid) != worker_tid)
        bad_thread = 1;
    if (si->si_code != SI_TIMER || si->si_value.sival_int != 77)
        bad_value = 2;
    thr_ticks += 1 + si->si_overrun;
}

static void on_alrm(int sig) { (void)sig; alrm_ticks++; }
static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long long ns)
{
    struct timespec req = { ns / 1000000000LL, ns % 1000000000LL }, rem;
    while (nanosleep(&req, &rem) == -1 && errno == EINTR)
        req = rem;
}

static void *worker(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGALRM);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL); /* process timers go to main, this thread takes its own */
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN + 1);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    worker_tid = syscall(SYS_gettid);
    for (;;)
        pause();
    return NULL;
}

static char why[256];

static int check_timer(timer_t id, long period_ns, const char *name)
{
    struct itimerspec its;
    if (timer_gettime(id, &its)) {
        snprintf(why, sizeof why, "timer_gettime(%s id %ld): %s", name, (long)id, strerror(errno));
        return 0;
    }
    long iv = its.it_interval.tv_sec * 1000000000L + its.it_interval.tv_nsec;
    if (iv != period_ns) {
        snprintf(why, sizeof why, "%s timer: interval %ld ns, expected %ld", name, iv, period_ns);
        return 0;
    }
    char line[64], want[64];
    snprintf(want, sizeof want, "ID: %ld\n", (long)id);
    FILE *f = fopen("/proc/self/timers", "r");
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strcmp(line, want))
            found = 1;
    if (f)
        fclose(f);
    if (!found) {
        snprintf(why, sizeof why, "/proc/self/timers does not list %s timer %ld", name, (long)id);
        return 0;
    }
    return 1;
}

static int check_itimer(int which, long sec, long usec, const char *name)
{
    struct itimerval v;
    getitimer(which, &v);
    if (v.it_interval.tv_sec != sec || v.it_interval.tv_usec != usec ||
        (v.it_value.tv_sec == 0 && v.it_value.tv_usec == 0)) {
        snprintf(why, sizeof why, "%s: interval %ld.%06ld value %ld.%06ld", name, (long)v.it_interval.tv_sec,
                 (long)v.it_interval.tv_usec, (long)v.it_value.tv_sec, (long)v.it_value.tv_usec);
        return 0;
    }
    return 1;
}

/* count expirations in elapsed time: neither too few (a lost or slow timer) nor more than the period allows */
static int rate_ok(long got, long long elapsed, long period_ms, int exact, const char *name)
{
    long expect = elapsed / (period_ms * 1000000LL);
    long lo = exact ? expect * 7 / 10 - 2 : expect / 3;
    if (got < lo || got > expect + 2) {
        snprintf(why, sizeof why, "%s: %ld expirations in %lld ms, expected about %ld", name, got,
                 elapsed / 1000000, expect);
        return 0;
    }
    return 1;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sa.sa_sigaction = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_sigaction = on_rt;
    sigaction(SIGRTMIN + 1, &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_flags = 0;
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 1);
    pthread_sigmask(SIG_BLOCK, &rt, NULL); /* only the worker takes it */
    pthread_t th;
    pthread_create(&th, NULL, worker, NULL);
    while (!worker_tid)
        usleep(1000);

    struct sigevent ev = { 0 };
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_ptr = (void *)MAGIC;
    /* a few throw-away timers first, so the ids are not simply 0, 1, 2 */
    timer_t junk[3];
    for (int i = 0; i < 3; i++)
        timer_create(CLOCK_MONOTONIC, &ev, &junk[i]);
    if (timer_create(CLOCK_MONOTONIC, &ev, &t_usr1)) {
        printf("FAIL: timer_create: %s\n", strerror(errno));
        return 1;
    }
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGRTMIN + 1;
    ev.sigev_value.sival_int = 77;
    ev._sigev_un._tid = worker_tid;
    timer_create(CLOCK_MONOTONIC, &ev, &t_thread);
    ev.sigev_notify = SIGEV_NONE;
    timer_create(CLOCK_REALTIME, &ev, &t_none);
    for (int i = 0; i < 3; i++)
        timer_delete(junk[i]);

    struct itimerspec p50 = { { 0, 50000000 }, { 0, 50000000 } };
    struct itimerspec p100 = { { 0, 100000000 }, { 0, 100000000 } };
    struct itimerspec once = { { 0, 0 }, { 1000, 0 } };
    timer_settime(t_usr1, 0, &p50, NULL);
    timer_settime(t_thread, 0, &p100, NULL);
    timer_settime(t_none, 0, &once, NULL);
    struct itimerval r30 = { { 0, 30000 }, { 0, 30000 } };
    struct itimerval v7 = { { 7, 0 }, { 7, 0 } };
    struct itimerval p9 = { { 9, 0 }, { 9, 0 } };
    setitimer(ITIMER_REAL, &r30, NULL);
    setitimer(ITIMER_VIRTUAL, &v7, NULL);
    setitimer(ITIMER_PROF, &p9, NULL);

    printf("ready %ld %ld %ld\n", (long)t_usr1, (long)t_thread, (long)t_none);
    while (!check_requested)
        pause();

    int ok = check_timer(t_usr1, 50000000, "SIGUSR1") && check_timer(t_thread, 100000000, "thread") &&
             check_timer(t_none, 0, "SIGEV_NONE") && check_itimer(ITIMER_REAL, 0, 30000, "ITIMER_REAL") &&
             check_itimer(ITIMER_VIRTUAL, 7, 0, "ITIMER_VIRTUAL") && check_itimer(ITIMER_PROF, 9, 0, "ITIMER_PROF");
    if (ok) {
        struct itimerspec left;
        timer_gettime(t_none, &left);
        if (left.it_value.tv_sec >= 1000 || left.it_value.tv_sec < 990) {
            snprintf(why, sizeof why, "SIGEV_NONE timer has %ld s left", (long)left.it_value.tv_sec);
            ok = 0;
        }
    }
    long u0 = usr1_ticks, a0 = alrm_ticks, r0 = thr_ticks;
    long long t0 = now_ns();
    sleep_ns(1000000000LL);
    long long el = now_ns() - t0;
    long u = usr1_ticks - u0, a = alrm_ticks - a0, r = thr_ticks - r0;
    if (ok)
        ok = rate_ok(u, el, 50, 1, "SIGUSR1 timer") && rate_ok(r, el, 100, 1, "thread timer") &&
             rate_ok(a, el, 30, 0, "ITIMER_REAL");
    if (ok && bad_value) {
        snprintf(why, sizeof why, "a timer signal came with the wrong siginfo (%d)", bad_value);
        ok = 0;
    }
    if (ok && bad_thread) {
        snprintf(why, sizeof why, "the thread timer's signal reached another thread");
        ok = 0;
    }
    if (!ok) {
        printf("FAIL: %s\n", why);
        return 1;
    }
    printf("PASS usr1=%ld alrm=%ld thr=%ld\n", u, a, r);
    return 0;
}
