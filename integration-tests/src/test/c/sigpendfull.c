/*
 * A process whose user has no room left for queued signals (RLIMIT_SIGPENDING 0, as stress-ng's
 * sigfd stressor's flood leaves root's): a signal sent to it then comes without its siginfo
 * (SI_USER, pid 0). cryo ends each batch of injected calls with a signal the thread sends itself,
 * and took that one for another's: the thread ran on past the batch and the dump waited for good.
 * After the restore the limit is still 0: a real-time signal still cannot be queued. On SIGUSR2:
 * PASS or FAIL.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <string.h>
#include <sys/resource.h>

int main(void) {
    signal(SIGUSR2, on_usr2);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    if (sigprocmask(SIG_BLOCK, &rt, NULL)) fail("sigprocmask");
    union sigval v = {.sival_int = 42};
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_SIGPENDING, &none)) fail("setrlimit");
    if (sigqueue(getpid(), SIGRTMIN, v) == 0 || errno != EAGAIN) fail("a signal queued past the limit");
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    struct rlimit now;
    if (getrlimit(RLIMIT_SIGPENDING, &now) || now.rlim_cur != 0) { printf("FAIL: the limit\n"); return 1; }
    if (sigqueue(getpid(), SIGRTMIN, v) == 0 || errno != EAGAIN) { printf("FAIL: a signal queued past the limit\n"); return 1; }
    printf("PASS\n");
    return 0;
}
