/*
 * A child in a long poll() that a stop interrupted before the dump (SIGSTOP then SIGCONT, as a
 * shell's job control, a debugger or an earlier `dump -R` do): the kernel resumes it through
 * restart_syscall, which is what the dump sees. On SIGUSR2 the parent writes a byte to the pipe the
 * child polls; the child must wake and answer at once. postfix's smtpd found it: after a restore it
 * slept on in restart_syscall with a client's command unread. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static long syscall_nr(pid_t pid) {
    char path[64], buf[256] = {0};
    snprintf(path, sizeof path, "/proc/%d/syscall", pid);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) fail("read syscall");
    fclose(f);
    return strtol(buf, NULL, 10);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int in[2], out[2];
    if (pipe(in) || pipe(out)) fail("pipe");
    pid_t c = fork();
    if (c == 0) {
        struct pollfd p = {.fd = in[0], .events = POLLIN};
        int n = poll(&p, 1, 600000);
        char b;
        if (n == 1 && read(in[0], &b, 1) == 1 && write(out[1], "w", 1) == 1) _exit(0);
        _exit(1);
    }
    for (int i = 0; i < 500 && syscall_nr(c) != 7; i++) usleep(10000); /* in poll */
    usleep(20000);
    kill(c, SIGSTOP);
    siginfo_t si;
    if (waitid(P_PID, c, &si, WSTOPPED)) fail("waitid stopped");
    kill(c, SIGCONT);
    if (waitid(P_PID, c, &si, WCONTINUED)) fail("waitid continued");
    for (int i = 0; i < 500 && syscall_nr(c) != 219; i++) usleep(10000);
    if (syscall_nr(c) != 219) fail("the child does not resume its poll through restart_syscall");
    printf("ready %d\n", c);
    while (!check) pause();

    if (write(in[1], "x", 1) != 1) fail("write");
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    if (poll(&p, 1, 10000) != 1) { printf("FAIL: the child did not wake within 10 s (syscall %ld)\n", syscall_nr(c)); return 1; }
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("the child's poll did not report its byte");
    printf("PASS\n");
    return 0;
}
