/*
 * A zombie in a process group whose leader has exited (zdtm's zombie01 shape): the root forks A,
 * which leads a group of its own and forks B with CLONE_PARENT (B is the root's child, in group
 * A), then exits; the root reaps A, B exits with status 7 and is left unreaped. Refused before: a
 * restore could not make group A again for a zombie. On SIGUSR2 the root checks that B is still
 * its zombie, in group A, and reaps it with status 7. Prints "ready" once the tree is set up,
 * then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int ids[2];
    if (pipe(ids) < 0) fail("pipe");
    pid_t a = fork();
    if (a < 0) fail("fork A");
    if (a == 0) {
        if (setpgid(0, 0) < 0) fail("setpgid A");
        long b = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (b < 0) fail("clone B");
        if (b == 0) _exit(7);
        pid_t sent = (pid_t)b;
        if (write(ids[1], &sent, sizeof sent) != sizeof sent) fail("write");
        _exit(0);
    }
    pid_t b;
    if (read(ids[0], &b, sizeof b) != sizeof b) fail("read B's pid");
    int status;
    if (waitpid(a, &status, 0) != a || !WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("A did not exit cleanly");
    siginfo_t info = {0};
    if (waitid(P_PID, b, &info, WEXITED | WNOWAIT) < 0) fail("waitid B");
    printf("ready\n");
    while (!check) pause();
    if (getpgid(b) != a) {
        printf("FAIL: zombie %d is in group %d, not %d\n", b, getpgid(b), a);
        return 1;
    }
    if (waitid(P_PID, b, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid != b) fail("B is no zombie of the root");
    if (waitpid(b, &status, WNOHANG) != b || !WIFEXITED(status) || WEXITSTATUS(status) != 7) fail("B's status");
    printf("PASS\n");
    return 0;
}
