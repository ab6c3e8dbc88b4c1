/*
 * A child stopped by job control (SIGSTOP), its stop not yet collected by the parent
 * (waitid WNOWAIT), as a shell's stopped job is. On SIGUSR2 the parent checks the child is still
 * stopped (waitpid WUNTRACED reports it, /proc says T), continues it with SIGCONT and reaps its
 * clean exit. zdtm's stopped found it: the child came back running. With the argument "tstp" the
 * child is in a group of its own and stopped by SIGTSTP (a ^Z), and the parent also checks that
 * waitid still reports that signal as the one that stopped it (zdtm's stopped03: it read SIGSTOP).
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static char state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) fail("stat");
    fclose(f);
    char *p = strrchr(buf, ')');
    return p ? p[2] : '?';
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int stop = argc > 1 && !strcmp(argv[1], "tstp") ? SIGTSTP : SIGSTOP;
    pid_t c = fork();
    if (c == 0) {
        /* a group of its own whose parent is in another group of the session: not orphaned,
         * so SIGTSTP stops it instead of being discarded */
        if (stop == SIGTSTP && setpgid(0, 0)) fail("setpgid");
        for (int i = 0; ; i++) usleep(10000); /* runs until stopped, then until continued and killed */
    }
    if (stop == SIGTSTP) setpgid(c, c); /* either of the two may run first */
    kill(c, stop);
    siginfo_t si;
    if (waitid(P_PID, c, &si, WSTOPPED | WNOWAIT)) fail("waitid");
    if (si.si_status != stop) fail("stopped by another signal before the dump");
    printf("ready %d\n", c);
    while (!check) pause();

    memset(&si, 0, sizeof si);
    if (waitid(P_PID, c, &si, WSTOPPED | WNOWAIT | WNOHANG)) fail("waitid after");
    if (si.si_pid != c || si.si_code != CLD_STOPPED || si.si_status != stop) {
        printf("FAIL: waitid reports code %d status %d, not stopped by %d\n", si.si_code, si.si_status, stop);
        return 1;
    }

    if (state(c) != 'T') { printf("FAIL: the child is in state %c, not stopped\n", state(c)); return 1; }
    int st;
    if (waitpid(c, &st, WUNTRACED | WNOHANG) != c || !WIFSTOPPED(st)) fail("waitpid does not report the child stopped");
    kill(c, SIGCONT);
    usleep(50000);
    if (state(c) == 'T') fail("the child did not continue");
    kill(c, SIGTERM);
    if (waitpid(c, &st, 0) != c || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM) fail("the child did not end on SIGTERM");
    printf("PASS\n");
    return 0;
}
