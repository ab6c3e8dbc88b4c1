/*
 * sleeper — relative sleeps across a checkpoint/restore.
 *
 * The main thread sleeps 5 s in nanosleep(&req, &rem); a second thread sleeps 5 s in
 * clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem). Prints "ready <t0>" (CLOCK_MONOTONIC ns
 * just before the sleeps start), then, as each sleep returns, "woke nanosleep rc=<rc> t=<t1>"
 * and "woke clock_nanosleep rc=<rc> t=<t1>". A test dumps it ~3 s in, restores it, and checks
 * that each sleep ended when the time it had left ran out, not a whole 5 s after the restore.
 * On SIGUSR2 (after both woke) prints "PASS" when both sleeps returned 0, else "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int rc_main = -1, rc_thread = -1;
static volatile int woke;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *other(void *arg)
{
    (void)arg;
    struct timespec req = { 5, 0 }, rem;
    rc_thread = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
    printf("woke clock_nanosleep rc=%d t=%lld\n", rc_thread, now_ns());
    __sync_fetch_and_add(&woke, 1);
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL); /* taken by sigwait once both have woken */
    printf("ready %lld\n", now_ns());
    pthread_t th;
    pthread_create(&th, NULL, other, NULL);
    struct timespec req = { 5, 0 }, rem;
    rc_main = nanosleep(&req, &rem) ? errno : 0;
    printf("woke nanosleep rc=%d t=%lld\n", rc_main, now_ns());
    pthread_join(th, NULL);
    int sig;
    sigwait(&s, &sig);
    if (rc_main || rc_thread) {
        printf("FAIL: nanosleep returned %d, clock_nanosleep %d\n", rc_main, rc_thread);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
