/*
 * A process group whose leader has exited (zdtm's session01 shape): the root forks A, which leads
 * a group of its own, and B, which joins A's group and forks C there; A exits and the root reaps
 * it. B and C stay in group A, in the root's session (refused before: a restore could not make
 * that group again). On SIGUSR2 the root checks groups, sessions and parents, and that a signal
 * to the group reaches B. Prints "ready" once the tree is set up, then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    volatile pid_t *ids = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ids == MAP_FAILED) fail("mmap");
    int go[2];
    if (pipe(go) < 0) fail("pipe");
    pid_t a = fork();
    if (a == 0) {
        char c;
        close(go[1]);
        if (setpgid(0, 0) < 0) fail("setpgid A");
        read(go[0], &c, 1);
        _exit(0);
    }
    for (int i = 0; i < 500 && getpgid(a) != a; i++) usleep(10000);
    pid_t b = fork();
    if (b == 0) {
        signal(SIGUSR2, SIG_DFL);
        close(go[0]);
        close(go[1]);
        if (setpgid(0, a) < 0) fail("setpgid B");
        pid_t c = fork();
        if (c == 0) {
            for (;;) pause();
        }
        ids[1] = c;
        for (;;) pause();
    }
    for (int i = 0; i < 500 && (!ids[1] || getpgid(b) != a); i++) usleep(10000);
    if (!ids[1] || getpgid(b) != a) fail("the tree did not come up");
    close(go[1]);
    if (waitpid(a, NULL, 0) != a) fail("waitpid A");
    printf("ready\n");
    while (!check) pause();

    pid_t c = ids[1];
    int ok = getpgid(b) == a && getpgid(c) == a && getsid(b) == getsid(0) && getsid(c) == getsid(0)
             && ppid_of(b) == getpid() && ppid_of(c) == b;
    if (!ok) printf("FAIL: B group %d session %d parent %d, C group %d session %d parent %d (want %d, %d, %d/%d)\n",
                    getpgid(b), getsid(b), ppid_of(b), getpgid(c), getsid(c), ppid_of(c), a, getsid(0), getpid(), b);
    int status = 0;
    if (ok && (kill(-a, SIGKILL) < 0 || waitpid(b, &status, 0) != b || !WIFSIGNALED(status))) {
        printf("FAIL: a SIGKILL to group %d did not end B (status %x)\n", a, status);
        ok = 0;
    }
    kill(b, SIGKILL);
    kill(c, SIGKILL);
    waitpid(b, NULL, 0);
    if (ok) printf("PASS\n");
    return ok ? 0 : 1;
}
