/*
 * A process whose queue of signals is full: RLIMIT_SIGPENDING set to 64 and 64 SIGRTMIN queued to itself,
 * blocked, each with its own value (stress-ng's sigfd worker holds some 18,000 so). Any further signal below
 * SIGRTMIN is still made pending, but without its siginfo (the kernel delivers it as SI_USER from pid 0):
 * cryo's own stop signal at the end of each syscall batch too, which cryo then took for another's, so it let
 * the thread run on into its own code and waited for good. On SIGUSR2 it counts its pending SIGRTMIN
 * (sigtimedwait) and checks each value: PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define QUEUED 64

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigaddset(&set, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &set, NULL)) { printf("FAIL: sigprocmask\n"); return 1; }
    struct rlimit r = {QUEUED, QUEUED};
    if (setrlimit(RLIMIT_SIGPENDING, &r)) { printf("FAIL: setrlimit\n"); return 1; }
    int queued = 0;
    for (int i = 0; i < QUEUED; i++) {
        union sigval v = {.sival_int = 1000 + i};
        if (sigqueue(getpid(), SIGRTMIN, v)) break;
        queued++;
    }
    printf("ready %d\n", queued);
    siginfo_t si;
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    while (sigwaitinfo(&usr2, &si) != SIGUSR2) { }
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    struct timespec none = {0, 0};
    for (int i = 0; i < queued; i++) {
        if (sigtimedwait(&rt, &si, &none) != SIGRTMIN) { printf("FAIL: %d of %d SIGRTMIN pending\n", i, queued); return 1; }
        if (si.si_value.sival_int != 1000 + i) { printf("FAIL: SIGRTMIN %d has value %d\n", i, si.si_value.sival_int); return 1; }
    }
    if (sigtimedwait(&rt, &si, &none) == SIGRTMIN) { printf("FAIL: more SIGRTMIN than queued\n"); return 1; }
    printf("PASS %d\n", queued);
    return 0;
}
