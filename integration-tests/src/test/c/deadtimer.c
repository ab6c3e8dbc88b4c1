/*
 * deadtimer — POSIX timers aimed at a thread that has exited (zdtm's dead_thread_posix_timer).
 *
 * A worker thread creates two SIGEV_THREAD_ID timers aimed at itself (SIGRTMIN, one disarmed,
 * one armed every 20 ms) and exits; the kernel keeps both, and the armed one never delivers a
 * signal again. A third timer, aimed at the main thread, keeps firing SIGUSR1 every 20 ms.
 * Prints "ready <dead tid>" and waits.
 *
 * On SIGUSR2 checks: both dead-thread timers still answer timer_gettime (the armed one with its
 * 20 ms period), /proc/self/timers still names the dead tid as their target, no SIGRTMIN arrived,
 * and the live timer still fires. Prints "PASS usr1=<n>" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static timer_t idle, armed, live;
static pid_t dead_tid;
static volatile sig_atomic_t check_requested;
static volatile long usr1_ticks, rt_ticks;

static void on_usr1(int sig) { (void)sig; usr1_ticks++; }
static void on_rt(int sig) { (void)sig; rt_ticks++; }
static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static int at_thread(timer_t *id, pid_t tid)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev._sigev_un._tid = tid;
    ev.sigev_signo = SIGRTMIN;
    return timer_create(CLOCK_MONOTONIC, &ev, id);
}

static void *worker(void *arg)
{
    (void)arg;
    dead_tid = syscall(SYS_gettid);
    struct itimerspec every = {.it_interval = {0, 20000000}, .it_value = {0, 20000000}};
    if (at_thread(&idle, dead_tid) || at_thread(&armed, dead_tid) || timer_settime(armed, 0, &every, NULL))
        return (void *)1;
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_rt;
    sigaction(SIGRTMIN, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

    pthread_t th;
    void *ret;
    if (pthread_create(&th, NULL, worker, NULL) || pthread_join(th, &ret) || ret != NULL) {
        printf("FAIL: the worker could not make its timers\n");
        return 1;
    }
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    struct itimerspec every = {.it_interval = {0, 20000000}, .it_value = {0, 20000000}};
    if (timer_create(CLOCK_MONOTONIC, &ev, &live) || timer_settime(live, 0, &every, NULL)) {
        printf("FAIL: timer_create\n");
        return 1;
    }
    printf("ready %d\n", dead_tid);
    fflush(stdout);
    while (!check_requested)
        pause();

    struct itimerspec now;
    if (timer_gettime(idle, &now) || now.it_value.tv_sec || now.it_value.tv_nsec) {
        printf("FAIL: the disarmed dead-thread timer is gone or armed\n");
        return 1;
    }
    if (timer_gettime(armed, &now) || now.it_interval.tv_sec || now.it_interval.tv_nsec != 20000000) {
        printf("FAIL: the armed dead-thread timer is gone or lost its period\n");
        return 1;
    }
    char want[64], buf[4096];
    snprintf(want, sizeof want, "notify: signal/tid.%d\n", dead_tid);
    FILE *f = fopen("/proc/self/timers", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    int named = 0;
    for (char *p = buf; (p = strstr(p, want)) != NULL; p += strlen(want))
        named++;
    if (named != 2) {
        printf("FAIL: /proc/self/timers names thread %d %d times, not 2:\n%s\n", dead_tid, named, buf);
        return 1;
    }
    long before = usr1_ticks;
    struct timespec left = {0, 200 * 1000 * 1000};
    while (nanosleep(&left, &left) != 0)
        ;
    if (usr1_ticks - before < 3) {
        printf("FAIL: the live timer fired %ld times in 200 ms\n", usr1_ticks - before);
        return 1;
    }
    if (rt_ticks) {
        printf("FAIL: a dead-thread timer delivered %ld signal(s)\n", rt_ticks);
        return 1;
    }
    printf("PASS usr1=%ld\n", usr1_ticks);
    return 0;
}
