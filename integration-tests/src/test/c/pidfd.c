/*
 * pidfds of the tree's own tasks, dumped and restored.
 *
 * The parent forks two children that pause forever and holds a pidfd of each (pidfd_open; the
 * second with PIDFD_NONBLOCK), then prints "ready <child1> <child2>".
 *
 * On SIGUSR2 it checks that each pidfd's fdinfo still names its child, that neither has polled
 * readable yet (both alive), then sends SIGTERM to the first child through its pidfd
 * (pidfd_send_signal), polls that pidfd for its exit (POLLIN within 5 s) and reaps it with
 * waitid(P_PIDFD) (killed by SIGTERM); the same with SIGKILL for the second one.
 * Prints "PASS" (exit 0) or "FAIL: <reason>" (exit 1).
 *
 * With the argument "outside" it holds a pidfd of its parent instead (a task outside the
 * dumped tree), only prints "ready" and waits: cryo must refuse to dump it. (A pidfd of a reaped
 * child: piddead.c.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adopted.h"
#include "pidfdinfo.h"

static volatile sig_atomic_t check;
static void on_usr2(int s) { (void)s; check = 1; }

static int pidfd_open(pid_t pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig) { return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0); }

static int fail(const char *what) {
    printf("FAIL: %s (%s)\n", what, strerror(errno));
    return 1;
}

static int kill_and_reap(int fd, pid_t child, int sig) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) return fail("the pidfd polled readable while its child was alive");
    if (pidfd_send_signal(fd, sig) != 0) return fail("pidfd_send_signal");
    if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLIN)) return fail("poll did not report the child's exit");
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PIDFD, fd, &si, WEXITED) != 0) return fail("waitid(P_PIDFD)");
    if (si.si_pid != child || si.si_code != CLD_KILLED || si.si_status != sig) {
        printf("FAIL: child %d: waitid gave pid %d code %d status %d\n", child, si.si_pid, si.si_code, si.si_status);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGUSR2, on_usr2);
    if (argc > 1 && strcmp(argv[1], "outside") == 0) {
        await_adopted(); /* a pidfd of the starting shell would be of a reaped task in a moment */
        if (pidfd_open(getppid(), 0) < 0) return fail("pidfd_open(parent)");
        printf("ready\n");
        for (;;) pause();
    }
    pid_t c[2];
    int fd[2];
    signal(SIGUSR2, SIG_IGN); /* the children ignore it from their birth: a look at them right after "ready" saw the handler */
    for (int i = 0; i < 2; i++) {
        c[i] = fork();
        if (c[i] == 0) {
            for (;;) pause();
        }
        fd[i] = pidfd_open(c[i], i == 1 ? PIDFD_NONBLOCK : 0);
        if (fd[i] < 0) return fail("pidfd_open");
    }
    signal(SIGUSR2, on_usr2);
    printf("ready %d %d\n", c[0], c[1]);
    while (!check) pause();
    for (int i = 0; i < 2; i++)
        if (fdinfo_pid(fd[i]) != c[i]) {
            printf("FAIL: pidfd %d names pid %d, not child %d\n", fd[i], fdinfo_pid(fd[i]), c[i]);
            return 1;
        }
    if (!(fcntl(fd[1], F_GETFL) & O_NONBLOCK)) return fail("the second pidfd lost PIDFD_NONBLOCK");
    if (kill_and_reap(fd[0], c[0], SIGTERM) || kill_and_reap(fd[1], c[1], SIGKILL)) return 1;
    printf("PASS\n");
    return 0;
}
