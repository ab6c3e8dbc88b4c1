/*
 * A parent that forks a child every millisecond, nonstop, as zdtm's transition/fork2 does: each child
 * lives argv[1] ms (default 20) and exits 7; the parent keeps up to 64 of them and reaps them as they
 * end. Whenever a dump looks at the tree, it has children the last look did not see. Prints "ready"
 * once it has reaped its first 100. On SIGUSR2 it stops forking, reaps the children left and checks
 * that each ended with exit 7 and that none is left; prints "PASS forks=<n>" or "FAIL: ...".
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "workload.h"

#define OUTSTANDING 64

/* Reaps one child (blocking or not): 1 reaped, 0 none ended yet, -1 none out (ECHILD); exits on a wrong status. */
static int reap(int flags, long *reaped) {
    int st;
    pid_t p = waitpid(-1, &st, flags);
    if (p == 0 || (p < 0 && errno == EINTR))
        return 0;
    if (p < 0 && errno == ECHILD)
        return -1;
    if (p < 0)
        fail("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 7) {
        printf("FAIL: child %d ended with status 0x%x, not exit 7\n", p, st);
        exit(1);
    }
    (*reaped)++;
    return 1;
}

int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 20;
    struct timespec life = {ms / 1000, (ms % 1000) * 1000000L}, gap = {0, 1000000L};
    long forked = 0, reaped = 0;
    int said = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    while (!check) {
        if (forked - reaped < OUTSTANDING) {
            pid_t p = fork();
            if (p < 0)
                fail("fork");
            if (p == 0) {
                nanosleep(&life, NULL);
                _exit(7);
            }
            forked++;
        }
        nanosleep(&gap, NULL);
        while (reap(WNOHANG, &reaped) > 0)
            ;
        if (!said && reaped >= 100) {
            printf("ready\n");
            said = 1;
        }
    }
    while (reaped < forked) {
        if (reap(0, &reaped) < 0) {
            printf("FAIL: %ld children forked, %ld reaped, none left to reap\n", forked, reaped);
            return 1;
        }
    }
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        printf("FAIL: a child is left after %ld forks\n", forked);
        return 1;
    }
    printf("PASS forks=%ld\n", forked);
    return 0;
}
