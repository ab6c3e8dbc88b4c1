/*
 * A child forked before its parent made its own session: the root forks P, P forks C1, then
 * setsid()s and forks C2. C1 stays in the root's session, P leads its own, C2 is in P's (zdtm's
 * session02 found C1 coming back in P's session; it was refused since). On SIGUSR2 the root
 * checks every session id. Prints "ready" once the tree is set up, then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static void idle(void) {
    for (;;) pause();
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    volatile pid_t *ids = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ids == MAP_FAILED) fail("mmap");
    pid_t p = fork();
    if (p == 0) {
        signal(SIGUSR2, SIG_DFL);
        pid_t c1 = fork();
        if (c1 == 0) idle();
        if (setsid() < 0) fail("setsid");
        pid_t c2 = fork();
        if (c2 == 0) idle();
        ids[1] = c1;
        ids[2] = c2;
        idle();
    }
    for (int i = 0; i < 500 && !ids[2]; i++) usleep(10000);
    if (!ids[2]) fail("the tree did not come up");
    pid_t root_sid = getsid(0);
    printf("ready\n");
    while (!check) pause();

    int ok = getsid(p) == p && getsid(ids[1]) == root_sid && getsid(ids[2]) == p;
    if (!ok) printf("FAIL: sessions: P %d (want %d), C1 %d (want %d), C2 %d (want %d)\n", getsid(p), p,
                    getsid(ids[1]), root_sid, getsid(ids[2]), p);
    kill(ids[1], SIGKILL);
    kill(ids[2], SIGKILL);
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    if (ok) printf("PASS\n");
    return ok ? 0 : 1;
}
